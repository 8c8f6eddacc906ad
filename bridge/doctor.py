"""`simkl-bridge doctor`: every thing the bridge needs, checked once, a pass/fail line each.

The config (already read by then), the state dir and its files' permissions, the listen port,
Simkl (reachable, its clock against ours by its `Date` header, each account's token accepted),
and each enabled server (reachable, and our token, key or login accepted). The exit status is the
number of failed checks capped at 1, for scripts.
"""

from __future__ import annotations

import errno
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import requests

from bridge.config import Config, JellyfinServer, KodiHost, PlexServer
from bridge.simkl.auth import TokenStore, login_hint, token_for
from bridge.simkl.client import AuthError, ClientConfig, SimklClient, SimklError
from bridge.state import StateError, check_private, running

# Past this, watched times sent to Simkl (and resume-point races) are off enough to notice.
MAX_SKEW = 60.0
TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.what}: {self.detail}"


def checks(config: Config, config_path: Path, clock: Callable[[], float] = time.time) -> Iterator[Check]:
    n = len([s for group in (config.plex, config.jellyfin, config.kodi) for s in group])
    yield Check(True, "config", f"{config_path} is valid ({len(config.accounts)} account(s), {n} server(s))")
    yield _state(Path(config.state_dir).expanduser())
    if config.http is not None:
        yield _listen(config)
    yield from _simkl(config, clock)
    servers: list[PlexServer | JellyfinServer | KodiHost] = [*config.plex, *config.jellyfin, *config.kodi]
    for server in servers:
        if server.enabled:
            yield _server(server)


def _state(state_dir: Path) -> Check:
    what = "state dir"
    if not state_dir.exists():
        return Check(True, what, f"{state_dir} does not exist yet; `run` or `login` creates it (mode 0700)")
    if not state_dir.is_dir():
        return Check(False, what, f"{state_dir} is a file, not a directory")
    try:
        check_private(state_dir)
    except StateError as exc:
        return Check(False, what, str(exc))
    try:
        with tempfile.TemporaryFile(dir=state_dir):
            pass
    except OSError as exc:
        return Check(False, what, f"{state_dir} is not writable: {exc.strerror or exc}")
    return Check(True, what, f"{state_dir} is private and writable")


def _listen(config: Config) -> Check:
    assert config.http is not None
    listen = config.http.listen
    holder = running(Path(config.state_dir))
    if holder is not None:
        return Check(True, "listen", f"{listen} is the running daemon's (pid {holder.get('pid', '?')})")
    host, _, port = listen.rpartition(":")
    try:
        with socket.create_server((host or "127.0.0.1", int(port))):
            pass
    except OSError as exc:
        why = "in use by another program" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        return Check(False, "listen", f"{listen}: {why}")
    return Check(True, "listen", f"{listen} is free")


def _simkl(config: Config, clock: Callable[[], float]) -> Iterator[Check]:
    s = config.simkl
    try:
        reply = requests.get(s.api_url.rstrip("/") + "/", timeout=TIMEOUT)
    except requests.RequestException as exc:
        yield Check(False, "simkl", f"{s.api_url} cannot be reached ({type(exc).__name__})")
        return
    date = reply.headers.get("Date")
    try:
        skew = (parsedate_to_datetime(date).timestamp() - clock()) if date else None
    except (TypeError, ValueError):
        skew = None
    if skew is None:
        yield Check(True, "simkl", f"{s.api_url} answers (it sent no Date to compare clocks with)")
    elif abs(skew) > MAX_SKEW:
        yield Check(False, "clock", f"this machine's clock is {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} "
                                    "Simkl's: watched times would be off; enable NTP (timedatectl set-ntp true)")
    else:
        yield Check(True, "simkl", f"{s.api_url} answers; clocks agree within {abs(skew):.0f} s")
    store = TokenStore(Path(config.state_dir))
    for account, settings in config.accounts.items():
        token, source = token_for(store, account, settings.token_env)
        what = f"account {account}"
        if token is None:
            yield Check(False, what, f"no token: {login_hint(account, settings.token_env)}")
            continue
        client = SimklClient(ClientConfig(base_url=s.api_url, client_id=s.client_id, app_name=s.app_name, max_retries=0,
                                          read_timeout=TIMEOUT), token)
        try:
            client.get_activities()
        except AuthError:
            yield Check(False, what, f"Simkl refuses the token from {source}: run `simkl-bridge login --account {account}`")
        except SimklError as exc:
            yield Check(False, what, f"could not ask Simkl: {exc}")
        else:
            yield Check(True, what, f"Simkl accepts the token from {source}")


def _server(server: PlexServer | JellyfinServer | KodiHost) -> Check:
    try:
        if isinstance(server, PlexServer):
            return Check(True, f"plex/{server.name}", _plex(server))
        if isinstance(server, JellyfinServer):
            return Check(True, f"jellyfin/{server.name}", _jellyfin(server))
        return Check(True, f"kodi/{server.name}", _kodi(server))
    except Exception as exc:  # every library raises its own: the message is what a person needs
        kind = {PlexServer: "plex", JellyfinServer: "jellyfin", KodiHost: "kodi"}[type(server)]
        return Check(False, f"{kind}/{server.name}", " ".join(str(exc).split())[:200] or type(exc).__name__)


def _plex(server: PlexServer) -> str:
    from bridge.adapters.plex.api import PlexApi

    PlexApi(server.name, server.url, server.token, timeout=TIMEOUT).sessions()  # every user's plays: an admin token
    return f"{server.url} answers and accepts the token (sessions readable)"


def _jellyfin(server: JellyfinServer) -> str:
    from bridge.adapters.jellyfin.api import JellyfinApi

    api = JellyfinApi(server.url, server.api_key, f"simkl-bridge-{server.name}", timeout=TIMEOUT)
    version = api.version()
    api.sessions()
    return f"{server.url} (Jellyfin {'.'.join(map(str, version or ())) or '?'}) answers and accepts the API key"


def _kodi(server: KodiHost) -> str:
    from bridge.adapters.kodi.api import HttpRpc, TcpConnection

    conn = TcpConnection(server.host, server.port, connect_timeout=TIMEOUT)
    stop = threading.Event()
    threading.Thread(target=conn.serve, args=(lambda *_: None, stop), daemon=True).start()
    try:
        if conn.call("JSONRPC.Ping", timeout=TIMEOUT) != "pong":
            raise RuntimeError(f"{server.host}:{server.port} does not answer JSON-RPC")
    finally:
        stop.set()
        conn.close()
    if server.http_port is not None:
        HttpRpc(server.host, server.http_port, server.username, server.password, TIMEOUT).call("JSONRPC.Ping")
        return f"JSON-RPC on {server.host}:{server.port} and the web server on :{server.http_port} answer"
    return f"JSON-RPC on {server.host}:{server.port} answers"


def main(config: Config, config_path: Path, out: Callable[[str], None] = print, clock: Callable[[], float] = time.time) -> int:
    failed = 0
    for check in checks(config, config_path, clock):
        out(check.line())
        failed += not check.ok
    out(f"{'all checks passed' if not failed else f'{failed} check(s) failed'}")
    return 1 if failed else 0
