"""The YAML config: load, substitute environment variables, validate, with errors that name the key.

Validation is driven by a declarative table (`Field`s per section), walked alongside PyYAML's node
tree so every error can say `config.yaml:14: plex[0].url: expected a string, got list`.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml


class ConfigError(ValueError):
    """One line: file, line, key path, what is wrong."""


# -- the settings objects -----------------------------------------------------------------------


@dataclass(frozen=True)
class SimklSettings:
    client_id: str
    api_url: str = "https://api.simkl.com"
    app_name: str = "simkl-bridge"
    timeout: float = 30.0


@dataclass(frozen=True)
class EngineSettings:
    watched_threshold: float = 80.0
    session_timeout: float = 1800.0
    send_start: bool = True


@dataclass(frozen=True)
class OutboxSettings:
    batch_size: int = 500


@dataclass(frozen=True)
class AccountSettings:
    token_env: str | None = None


@dataclass(frozen=True)
class UserRule:
    account: str
    user: str = "*"
    source: str = "*"
    server: str = "*"


@dataclass(frozen=True)
class HttpSettings:
    secret: str
    listen: str = "127.0.0.1:8765"


@dataclass(frozen=True)
class PlexServer:
    name: str
    url: str
    token: str
    alerts: bool = True
    webhooks: bool = False
    exclude_libraries: tuple[str | int, ...] = ()
    resume_user: str | None = None


@dataclass(frozen=True)
class JellyfinServer:
    name: str
    url: str
    api_key: str
    user: str | None = None
    websocket: bool = True
    webhooks: bool = False
    exclude_libraries: tuple[str, ...] = ()


@dataclass(frozen=True)
class KodiHost:
    name: str
    host: str = "127.0.0.1"
    port: int = 9090
    http_port: int | None = 8080
    username: str | None = None
    password: str | None = None
    user: str = "kodi"


@dataclass(frozen=True)
class Config:
    simkl: SimklSettings
    accounts: dict[str, AccountSettings]
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    log_level: str = "info"
    engine: EngineSettings = field(default_factory=EngineSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    users: tuple[UserRule, ...] = ()
    catch_all: str | None = None
    http: HttpSettings | None = None
    plex: tuple[PlexServer, ...] = ()
    jellyfin: tuple[JellyfinServer, ...] = ()
    kodi: tuple[KodiHost, ...] = ()
    source: str = "<defaults>"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "simkl-bridge"


def default_config(state_dir: str | Path, api_url: str, client_id: str, account: str = "demo") -> Config:
    """One account receiving every play: the demo's embedded setup."""
    return Config(
        simkl=SimklSettings(client_id=client_id, api_url=api_url),
        accounts={account: AccountSettings()},
        state_dir=Path(state_dir),
        users=(UserRule(account=account),),
    )


# -- the schema ---------------------------------------------------------------------------------

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    default: Any = None
    required: bool = False
    check: Callable[[Any], str | None] | None = None  # returns a reason when the value is wrong


def between(lo: float, hi: float) -> Callable[[Any], str | None]:
    return lambda v: None if lo <= v <= hi else f"must be between {lo:g} and {hi:g}, got {v}"


def one_of(*choices: str) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}, got {v!r}"


def pattern(rx: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    return lambda v: None if rx.match(v) else f"{what}, got {v!r}"


def url(v: str) -> str | None:
    return None if re.match(r"^https?://[^\s/]+", v) else f"must be an http(s) URL, got {v!r}"


NUMBER = (int, float)
OPT_STR = (str, type(None))
SERVER_NAME = pattern(NAME, "use letters, digits, '-', '_' or '.'")

SECTIONS: dict[str, dict[str, Field]] = {
    "": {
        "state_dir": Field(str), "log_level": Field(str, "info", check=one_of("debug", "info", "warning", "error")),
        "simkl": Field(dict, required=True), "engine": Field(dict, {}), "outbox": Field(dict, {}),
        "accounts": Field(dict, required=True), "users": Field(list, []), "catch_all": Field(OPT_STR),
        "http": Field((dict, type(None))), "plex": Field(list, []), "jellyfin": Field(list, []), "kodi": Field(list, []),
    },
    "simkl": {
        "client_id": Field(str, required=True, check=lambda v: None if v.strip() else "must not be empty"),
        "api_url": Field(str, "https://api.simkl.com", check=url),
        "app_name": Field(str, "simkl-bridge", check=pattern(re.compile(r"^[a-z0-9-]+$"), "use lowercase letters, digits and '-'")),
        "timeout": Field(NUMBER, 30, check=between(1, 600)),
    },
    "engine": {
        "watched_threshold": Field(NUMBER, 80, check=between(1, 100)),
        "session_timeout": Field(NUMBER, 1800, check=between(60, 7 * 86400)),
        "send_start": Field(bool, True),
    },
    "outbox": {"batch_size": Field(int, 500, check=between(1, 1000))},
    "account": {"token_env": Field(OPT_STR)},
    "users[]": {"account": Field(str, required=True), "user": Field(str, "*"), "source": Field(str, "*",
                check=one_of("*", "plex", "jellyfin", "kodi", "event")), "server": Field(str, "*")},
    "http": {"listen": Field(str, "127.0.0.1:8765", check=pattern(re.compile(r"^[^\s:]*:\d{1,5}$"), "use host:port")),
             "secret": Field(str, required=True, check=lambda v: None if len(v) >= 16 else "must be at least 16 characters")},
    "plex[]": {"name": Field(str, required=True, check=SERVER_NAME), "url": Field(str, required=True, check=url),
               "token": Field(str, required=True), "alerts": Field(bool, True), "webhooks": Field(bool, False),
               "exclude_libraries": Field(list, []), "resume_user": Field(OPT_STR)},
    "jellyfin[]": {"name": Field(str, required=True, check=SERVER_NAME), "url": Field(str, required=True, check=url),
                   "api_key": Field(str, required=True), "user": Field(OPT_STR), "websocket": Field(bool, True),
                   "webhooks": Field(bool, False), "exclude_libraries": Field(list, [])},
    "kodi[]": {"name": Field(str, required=True, check=SERVER_NAME), "host": Field(str, "127.0.0.1"),
               "port": Field(int, 9090, check=between(1, 65535)), "http_port": Field((int, type(None)), 8080),
               "username": Field(OPT_STR), "password": Field(OPT_STR), "user": Field(str, "kodi")},
}


# -- loading ------------------------------------------------------------------------------------


def load(path: str | Path) -> Config:
    path = Path(path)
    return parse(path.read_text(encoding="utf-8"), str(path))


def parse(text: str, name: str = "<string>") -> Config:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML ({problem})") from None
    if root is None:
        raise ConfigError(f"{name}: the file is empty")
    return _Validator(name).config(root)


class _Validator:
    def __init__(self, name: str):
        self.name = name

    def fail(self, node: yaml.Node | None, path: str, reason: str) -> ConfigError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return ConfigError(f"{self.name}{line}: {path}: {reason}")

    def value(self, node: yaml.Node, path: str) -> Any:
        """Plain Python value of a node, with ${VAR} substituted in strings."""
        if isinstance(node, yaml.MappingNode):
            return {self.value(k, path): self.value(v, f"{path}.{k.value}") for k, v in node.value}
        if isinstance(node, yaml.SequenceNode):
            return [self.value(v, f"{path}[{i}]") for i, v in enumerate(node.value)]
        value = yaml.SafeLoader(" ").construct_object(node, deep=True)  # type: ignore[no-untyped-call]
        return self.substitute(value, node, path) if isinstance(value, str) else value

    def substitute(self, text: str, node: yaml.Node, path: str) -> str:
        def repl(m: re.Match[str]) -> str:
            var, default = m.group(1), m.group(3)
            if var in os.environ:
                return os.environ[var]
            if default is not None:
                return default
            raise self.fail(node, path, f"environment variable {var} is not set")

        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", repl, text)

    def section(self, node: yaml.Node, path: str, schema: str) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, path or "config", f"expected a mapping, got {_kind(node)}")
        fields = SECTIONS[schema]
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = f"{path}.{key}" if path else key
            if key not in fields:
                hint = difflib.get_close_matches(key, fields, n=1)
                raise self.fail(key_node, where, "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
            seen[key] = value_node
        out: dict[str, Any] = {"__nodes__": seen}
        for key, spec in fields.items():
            where = f"{path}.{key}" if path else key
            if key not in seen:
                if spec.required:
                    raise self.fail(None, where, "missing (required)")
                out[key] = spec.default
                continue
            value = self.value(seen[key], where)
            if value is None and spec.default is not None and spec.type in (dict, list):
                value = spec.default
            if not isinstance(value, spec.type) or (isinstance(value, bool) and spec.type in (int, NUMBER)):
                raise self.fail(seen[key], where, f"expected {_tname(spec.type)}, got {_pyname(value)}")
            reason = spec.check(value) if spec.check and value is not None else None
            if reason:
                raise self.fail(seen[key], where, reason)
            out[key] = value
        return out

    def items(self, top: dict[str, Any], key: str) -> list[tuple[dict[str, Any], yaml.Node, str]]:
        node = top["__nodes__"].get(key)
        if node is None or not isinstance(node, yaml.SequenceNode):
            return []
        return [(self.section(n, f"{key}[{i}]", f"{key}[]"), n, f"{key}[{i}]") for i, n in enumerate(node.value)]

    def config(self, root: yaml.Node) -> Config:
        top = self.section(root, "", "")
        nodes = top["__nodes__"]
        simkl = _build(SimklSettings, self.section(nodes["simkl"], "simkl", "simkl"))
        engine = _build(EngineSettings, self.section(nodes["engine"], "engine", "engine")) if "engine" in nodes else EngineSettings()
        outbox = _build(OutboxSettings, self.section(nodes["outbox"], "outbox", "outbox")) if "outbox" in nodes else OutboxSettings()
        accounts = self.accounts(nodes["accounts"])
        names = ", ".join(accounts)

        def known(account: str | None, node: yaml.Node, where: str) -> None:
            if account is not None and account not in accounts:
                raise self.fail(node, where, f"{account!r} is not one of the accounts ({names})")

        users = []
        for data, node, where in self.items(top, "users"):
            known(data["account"], data["__nodes__"]["account"], f"{where}.account")
            users.append(_build(UserRule, data))
        known(top["catch_all"], nodes.get("catch_all"), "catch_all")
        http = _build(HttpSettings, self.section(nodes["http"], "http", "http")) if top["http"] is not None else None
        servers: dict[str, str] = {}

        def servers_of(key: str, cls: type) -> tuple[Any, ...]:
            built = []
            for data, node, where in self.items(top, key):
                if data["name"] in servers:
                    raise self.fail(data["__nodes__"]["name"], f"{where}.name",
                                    f"{data['name']!r} is already the name of a {servers[data['name']]} server")
                servers[data["name"]] = key
                if "exclude_libraries" in data:
                    data["exclude_libraries"] = tuple(data["exclude_libraries"])
                built.append(_build(cls, data))
            return tuple(built)

        return Config(
            simkl=simkl, accounts=accounts, engine=engine, outbox=outbox, users=tuple(users), catch_all=top["catch_all"],
            http=http, plex=servers_of("plex", PlexServer), jellyfin=servers_of("jellyfin", JellyfinServer),
            kodi=servers_of("kodi", KodiHost), log_level=top["log_level"], source=self.name,
            state_dir=Path(top["state_dir"]).expanduser() if top["state_dir"] else default_state_dir(),
        )

    def accounts(self, node: yaml.Node) -> dict[str, AccountSettings]:
        if not isinstance(node, yaml.MappingNode) or not node.value:
            raise self.fail(node, "accounts", "expected a mapping with at least one account")
        out = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            if not NAME.match(name):
                raise self.fail(key_node, f"accounts.{name}", "account names use letters, digits, '-', '_' or '.'")
            if isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null"):
                out[name] = AccountSettings()
            else:
                out[name] = _build(AccountSettings, self.section(value_node, f"accounts.{name}", "account"))
        return out


def _build(cls: type, data: dict[str, Any]) -> Any:
    return cls(**{k: v for k, v in data.items() if k != "__nodes__"})


def _kind(node: yaml.Node) -> str:
    return {yaml.MappingNode: "mapping", yaml.SequenceNode: "list"}.get(type(node), "a single value")


def _tname(t: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "a mapping",
             list: "a list", type(None): "null"}
    types = t if isinstance(t, tuple) else (t,)
    if set(types) >= {int, float}:
        types = tuple(x for x in types if x is not int)
    return " or ".join(names.get(x, x.__name__) for x in types)


def _pyname(v: Any) -> str:
    return {dict: "mapping", list: "list", bool: "boolean", type(None): "null", str: "string"}.get(type(v), type(v).__name__)
