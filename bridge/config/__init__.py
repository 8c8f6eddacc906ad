"""The YAML config: each key declared once (`settings`), read from a file with errors that name the
key and its line (`yaml_file`)."""

from bridge.config.settings import (
    AccountSettings,
    Config,
    EngineSettings,
    HttpSettings,
    JellyfinServer,
    KodiHost,
    OutboxSettings,
    PlexServer,
    SimklSettings,
    SyncSettings,
    UserRule,
    default_config,
    default_state_dir,
)
from bridge.config.yaml_file import ConfigError, load, parse

__all__ = [
    "AccountSettings", "Config", "ConfigError", "EngineSettings", "HttpSettings", "JellyfinServer", "KodiHost", "OutboxSettings",
    "PlexServer", "SimklSettings", "SyncSettings", "UserRule", "default_config", "default_state_dir", "load", "parse",
]
