"""The local Simkl emulator (tests, demo, `simkl-bridge emulator`): apart from the client package
`bridge.simkl` it judges, written from simkl-api.md only. It imports nothing of the bridge but the
shared HTTP server."""

from bridge.emulator.server import DEFAULT_CLIENT_ID, Emulator, serve

__all__ = ["DEFAULT_CLIENT_ID", "Emulator", "serve"]
