"""Every config key, declared once: its type, default and check, as frozen pydantic dataclasses.

A check raises `refused(reason)`, and `reason` is the whole message a user reads after the key's
path; `bridge.config.yaml_file` adds the file, line and path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BeforeValidator, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

# -- checks: each sits beside the type it refines --------------------------------------------

Loc = tuple[str | int, ...]
REFUSED = "config"  # the error type of every check below
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
NAME_RULE = "use letters, digits, '-', '_' or '.'"
# The example config's fallback secret: anyone who read the example knows it.
EXAMPLE_SECRET = "change-me-to-a-long-random-string"
NEW_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"


def refused(reason: str, at: Loc | None = None) -> PydanticCustomError:
    """`at` places a check made on a whole section (a cross-reference) at the key it is about."""
    return PydanticCustomError(REFUSED, "{reason}", {"reason": reason, "at": at})


def check(reason: Callable[[Any], str | None]) -> AfterValidator:
    """A check to put in a key's annotation: `reason` says what is wrong with a value, or None."""

    def validate(value: Any) -> Any:
        why = reason(value)
        if why:
            raise refused(why)
        return value

    return AfterValidator(validate)


def between(lo: float, hi: float) -> AfterValidator:
    return check(lambda v: None if lo <= v <= hi else f"must be between {lo:g} and {hi:g}, got {_number(v)}")


def matches(rx: str, what: str) -> AfterValidator:
    return check(lambda v: None if re.match(rx, v) else f"{what}, got {v!r}")


def null_as(empty: Any) -> BeforeValidator:
    """A section or list written with nothing under it (`plex:`) has its defaults."""
    return BeforeValidator(lambda v: empty if v is None else v)


def _number(v: float) -> str:
    # a YAML 150 arrives as 150.0; the message shows what the file says
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _some_accounts(value: Any) -> Any:
    if value == {}:
        raise refused("expected a mapping with at least one account")
    return value


def _state_dir(value: Any) -> Any:
    # `state_dir: ${STATE_DIR:-}` left empty means the default
    if isinstance(value, str):
        return Path(value).expanduser() if value else default_state_dir()
    return value


# Scalars are strict (a 1 is not true, "8080" is not a port); lists are not, so that a YAML list
# becomes the declared tuple.
Url = Annotated[StrictStr, matches(r"^https?://[^\s/]+", "must be an http(s) URL")]
ServerName = Annotated[StrictStr, matches(NAME.pattern, NAME_RULE)]
AccountName = Annotated[StrictStr, check(lambda v: None if NAME.match(v) else f"account names {NAME_RULE}")]
T = TypeVar("T")
Items = Annotated[tuple[T, ...], null_as(())]
SETTINGS = ConfigDict(extra="forbid")


# Which side's rating wins: `server` (the server's go to Simkl, never back), `simkl` (the other
# way), `newer` (both ways; a conflict goes to the later rating), `none` (ratings are not synced).
RatingRule = Literal["server", "simkl", "newer", "none"]
# The Simkl buckets a server mirrors as a list of its own (Plan to Watch also back to Simkl).
Buckets = Items[Literal["watching", "plantowatch", "hold", "dropped", "completed"]]

# -- the settings --------------------------------------------------------------------------------


@dataclass(frozen=True, config=SETTINGS)
class SimklSettings:
    client_id: Annotated[StrictStr, check(lambda v: None if v.strip() else "must not be empty")]
    api_url: Url = "https://api.simkl.com"
    app_name: Annotated[StrictStr, matches(r"^[a-z0-9-]+$", "use lowercase letters, digits and '-'")] = "simkl-bridge"
    timeout: Annotated[StrictFloat, between(1, 600)] = 30.0


@dataclass(frozen=True, config=SETTINGS)
class EngineSettings:
    watched_threshold: Annotated[StrictFloat, between(1, 100)] = 80.0
    session_timeout: Annotated[StrictFloat, between(60, 7 * 86400)] = 1800.0
    send_start: StrictBool = True


@dataclass(frozen=True, config=SETTINGS)
class OutboxSettings:
    batch_size: Annotated[StrictInt, between(1, 1000)] = 500
    keep_sent_days: Annotated[StrictInt | StrictFloat, between(0, 3650)] = 7


@dataclass(frozen=True, config=SETTINGS)
class SyncSettings:
    enabled: StrictBool = True
    # Simkl's Sync guide: gate every run by /sync/activities; more often than hourly is no use.
    every_hours: Annotated[StrictInt | StrictFloat, between(1, 24 * 30)] = 6
    unwatch: StrictBool = False  # follow an unwatch on the other side (per item; never on a first sync)
    unwatch_limit: Annotated[StrictInt | StrictFloat, between(0, 1)] = 0.10  # of a library, per run
    # A rating cleared on one side clears it on the other (never on a first sync).
    rating_removal: StrictBool = False
    # An item taken off a server's Plan to Watch list: kept on Simkl's, or moved to Dropped (Simkl
    # has no "off every list" short of /sync/history/remove, which also erases its plays and rating).
    list_removal: Literal["keep", "dropped"] = "keep"


@dataclass(frozen=True, config=SETTINGS)
class AccountSettings:
    token_env: StrictStr | None = None
    # Ask Simkl for a rewatch session when the bridge sees an item it marked watched played again
    # (Simkl Pro/VIP; https://api.simkl.org/guides/rewatches says: off unless the user wants it).
    track_rewatches: StrictBool = False


@dataclass(frozen=True, config=SETTINGS)
class UserRule:
    account: StrictStr
    user: StrictStr = "*"
    source: Literal["*", "plex", "jellyfin", "kodi", "event"] = "*"
    server: StrictStr = "*"


def _secret(value: str) -> str | None:
    if value == EXAMPLE_SECRET:
        return f"is still the example's placeholder: set BRIDGE_SECRET or write your own (make one with: {NEW_SECRET})"
    return None if len(value) >= 16 else f"must be at least 16 characters (make one with: {NEW_SECRET})"


@dataclass(frozen=True, config=SETTINGS)
class HttpSettings:
    secret: Annotated[StrictStr, check(_secret)]
    listen: Annotated[StrictStr, matches(r"^[^\s:]*:\d{1,5}$", "use host:port")] = "127.0.0.1:8765"
    # /healthz answers 503 once the oldest write waiting for Simkl is older than this (seconds).
    max_pending_age: Annotated[StrictInt | StrictFloat, between(60, 30 * 86400)] = 3600


@dataclass(frozen=True, config=SETTINGS)
class PlexServer:
    name: ServerName
    url: Url
    token: StrictStr
    alerts: StrictBool = True
    webhooks: StrictBool = False
    exclude_libraries: Items[StrictStr | StrictInt] = ()  # by name or section id
    resume_user: StrictStr | None = None
    enabled: StrictBool = True  # false: kept in the file, not connected to (a server put away for a while)
    sync_from_simkl: StrictBool = False  # mark watched here what was watched elsewhere
    ratings: RatingRule = "newer"
    lists: Buckets = ()
    # The owner's plex.tv Discover watchlist: what is added to it goes to Simkl's Plan to Watch.
    watchlist: StrictBool = False
    discover_url: Url = "https://discover.provider.plex.tv"  # plexapi's; a stand-in's in tests


@dataclass(frozen=True, config=SETTINGS)
class JellyfinServer:
    name: ServerName
    url: Url
    api_key: StrictStr
    user: StrictStr | None = None
    websocket: StrictBool = True
    webhooks: StrictBool = False
    exclude_libraries: Items[StrictStr] = ()
    enabled: StrictBool = True
    sync_from_simkl: StrictBool = False
    ratings: RatingRule = "newer"
    lists: Buckets = ()


@dataclass(frozen=True, config=SETTINGS)
class KodiHost:
    name: ServerName
    host: StrictStr = "127.0.0.1"
    port: Annotated[StrictInt, between(1, 65535)] = 9090
    http_port: StrictInt | None = 8080
    username: StrictStr | None = None
    password: StrictStr | None = None
    user: StrictStr = "kodi"
    enabled: StrictBool = True
    sync_from_simkl: StrictBool = False
    ratings: RatingRule = "newer"
    lists: Buckets = ()


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "simkl-bridge"


@dataclass(frozen=True, config=SETTINGS)
class Config:
    simkl: SimklSettings
    accounts: Annotated[Mapping[AccountName, Annotated[AccountSettings, null_as({})]], BeforeValidator(_some_accounts),
                        AfterValidator(MappingProxyType)]  # frozen like the rest
    state_dir: Annotated[Path, BeforeValidator(_state_dir)] = field(default_factory=default_state_dir)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    engine: Annotated[EngineSettings, null_as({})] = field(default_factory=EngineSettings)
    outbox: Annotated[OutboxSettings, null_as({})] = field(default_factory=OutboxSettings)
    sync: Annotated[SyncSettings, null_as({})] = field(default_factory=SyncSettings)
    users: Items[UserRule] = ()
    catch_all: StrictStr | None = None
    http: HttpSettings | None = None
    plex: Items[PlexServer] = ()
    jellyfin: Items[JellyfinServer] = ()
    kodi: Items[KodiHost] = ()

    @model_validator(mode="after")
    def _references_hold(self) -> Config:
        """Rules name configured accounts and servers; server names are unique across the kinds of server."""
        names = ", ".join(self.accounts)
        for at, account in [*((("users", i, "account"), r.account) for i, r in enumerate(self.users)),
                            (("catch_all",), self.catch_all)]:
            if account is not None and account not in self.accounts:
                raise refused(f"{account!r} is not one of the accounts ({names})", at)
        kinds: dict[str, str] = {}
        every: list[tuple[str, Sequence[PlexServer | JellyfinServer | KodiHost]]] = [
            ("plex", self.plex), ("jellyfin", self.jellyfin), ("kodi", self.kodi)]
        for kind, servers in every:
            for i, server in enumerate(servers):
                if server.name in kinds:
                    raise refused(f"{server.name!r} is already the name of a {kinds[server.name]} server", (kind, i, "name"))
                kinds[server.name] = kind
        for i, rule in enumerate(self.users):
            why = _unknown_server(rule, kinds, self.http is not None)
            if why:
                raise refused(why, ("users", i, "server"))
        _one_mirror("plex", self.plex)
        _one_mirror("jellyfin", self.jellyfin)
        return self


def _one_mirror(kind: str, servers: Sequence[PlexServer | JellyfinServer]) -> None:
    """A Plex or Jellyfin collection is the whole server's, seen by everyone it is shared with: two
    entries for one server mirroring lists would read one person's list as the other's too."""
    mirroring: dict[str, str] = {}
    for i, server in enumerate(servers):
        if not server.lists:
            continue
        url = server.url.rstrip("/").lower()
        if url in mirroring:
            raise refused(f"{mirroring[url]!r} already mirrors Simkl lists on this server ({server.url}), and its "
                          "collections are everyone's: mirror them on one entry of the server only", (kind, i, "lists"))
        mirroring[url] = server.name


def _unknown_server(rule: UserRule, kinds: Mapping[str, str], http: bool) -> str | None:
    """Why a rule's server can never match, or None: a rule for a server that is not configured
    (a typo, a renamed server) would silently send that server's plays nowhere."""
    wanted = ("plex", "jellyfin", "kodi") if rule.source in ("*", "event") else (rule.source,)
    if rule.server == "*" or any(k.casefold() == rule.server.casefold() and v in wanted for k, v in kinds.items()):
        return None
    if http and rule.source in ("*", "kodi", "event"):
        return None  # the Kodi addon and scripts post to /event under a server name of their own
    configured = ", ".join(f"{v} {k!r}" for k, v in kinds.items() if v in wanted) or "none"
    kind = "" if len(wanted) > 1 else f"{wanted[0]} "
    return f"{rule.server!r} is not a configured {kind}server (configured: {configured})"


def default_config(state_dir: str | Path, api_url: str, client_id: str, account: str = "demo",
                   track_rewatches: bool = False) -> Config:
    """One account receiving every play: the demo's embedded setup."""
    return Config(
        simkl=SimklSettings(client_id=client_id, api_url=api_url),
        accounts={account: AccountSettings(track_rewatches=track_rewatches)},
        state_dir=Path(state_dir),
        users=(UserRule(account=account),),
    )
