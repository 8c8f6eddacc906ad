"""simkl-bridge: keeps a Simkl library in step with what Plex, Jellyfin and Kodi play."""

__version__ = "0.1.0"
