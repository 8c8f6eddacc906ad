"""What Kodi said about a playback -> the bridge's normalized event JSON (`POST /event`).

Pure functions. The id rules match the bridge's own Kodi adapter: an episode's uniqueids are the
episode's, the show's ids come from the show; `imdbnumber` is only trusted when it is an IMDb id.
Nothing is ever guessed from a title or a file name: no usable id, no event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Provider names as Kodi scrapers spell them -> the id key the bridge takes.
PROVIDERS = {
    "imdb": "imdb",
    "tmdb": "tmdb",
    "themoviedb": "tmdb",
    "tvdb": "tvdb",
    "thetvdb": "tvdb",
    "anidb": "anidb",
    "mal": "mal",
    "myanimelist": "mal",
    "anilist": "anilist",
    "kitsu": "kitsu",
    "simkl": "simkl",
}
ANIME_IDS = ("anidb", "mal", "anilist", "kitsu")
_IMDB = re.compile(r"^(tt\d{5,10})$")


class NoIds(ValueError):
    """The item cannot be matched on Simkl without guessing: it is not sent."""


@dataclass(frozen=True)
class Item:
    """A library movie or episode, resolved to the ids the bridge needs."""

    kind: str  # movie | episode
    ids: dict[str, Any]  # the movie's, or the show's for an episode
    matched_by: str
    title: str = ""
    year: int | None = None
    season: int | None = None
    episodes: tuple[int, ...] = ()
    episode_ids: dict[str, Any] | None = None


def clean_ids(raw: Mapping[str, Any], imdbnumber: Any = None) -> dict[str, Any]:
    """{provider: value} as Kodi keeps it -> typed ids; empty, unknown and malformed values dropped
    (the bridge answers 400 to a malformed id, and a 400 is never retried)."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        key = PROVIDERS.get(str(name).strip().lower())
        parsed = _parse(key, value) if key else None
        if parsed is not None:
            out.setdefault(key, parsed)
    imdb = _parse("imdb", imdbnumber)
    if imdb is not None:
        out.setdefault("imdb", imdb)
    return out


def _parse(key: str, value: Any) -> Any:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if key == "imdb":
        m = _IMDB.match(text)
        return m.group(1) if m else None
    return int(text) if text.isdigit() and int(text) > 0 else None


def movie(ids: dict[str, Any], *, label: str, title: str = "", year: Any = None) -> Item:
    if not ids:
        raise NoIds(f"{label!r}: no uniqueid (a loose file, or scraped without ids); not sent")
    return Item("movie", ids, f"kodi addon uniqueid {_names(ids)}", title, _year(year))


def episode(
    show_ids: dict[str, Any],
    episode_ids: dict[str, Any],
    *,
    label: str,
    season: Any,
    number: Any,
    same_file: tuple[int, ...] = (),
    title: str = "",
    year: Any = None,
) -> Item:
    """`same_file`: the season's episode numbers stored in this item's file (a multi-episode file)."""
    if not show_ids:
        # Episode numbers mean nothing without the show they count in.
        raise NoIds(f"{label!r}: its show has no uniqueid; not sent")
    if not _count(season) or not _count(number) or number == 0:
        raise NoIds(f"{label!r}: season/episode {season!r}/{number!r} are not episode numbers; not sent")
    numbers = tuple(sorted({number, *(n for n in same_file if _count(n) and n > 0)}))
    how = f"kodi addon show uniqueid {_names(show_ids)}" + (f"; episode uniqueid {_names(episode_ids)}" if episode_ids else "")
    return Item("episode", show_ids, how, title, _year(year), season, numbers, episode_ids)


def numbering(ids: dict[str, Any]) -> str:
    """A show known only by anime ids counts episodes the AniDB way (one id per cour)."""
    anime_only = any(k in ids for k in ANIME_IDS) and "tvdb" not in ids and "tmdb" not in ids
    return "anidb" if anime_only else "tv"


def event(item: Item, *, state: str, position: float, duration: float, session: str, user: str, server: str,
          at: float) -> dict[str, Any]:
    """The JSON body of one `POST /event`."""
    body: dict[str, Any] = {
        "source": "kodi",
        "server": server,
        "user": user,
        "session": session,
        "kind": item.kind,
        "ids": item.ids,
        "state": state,
        "position": round(max(0.0, position), 3),
        "duration": round(max(0.0, duration), 3),
        "title": item.title,
        "year": item.year,
        "matched_by": item.matched_by,
        "at": at,
    }
    if item.kind == "episode":
        body.update(season=item.season, episodes=list(item.episodes), episode_ids=item.episode_ids or {},
                    numbering=numbering(item.ids))
    return body


def _names(ids: dict[str, Any]) -> str:
    return ",".join(sorted(ids))


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _year(v: Any) -> int | None:
    # Kodi reports 1970 for an episode without an aired date: not a year worth sending.
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 1900 and v != 1970 else None
