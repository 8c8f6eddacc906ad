"""Server id forms -> Simkl `Ids`.

Pure functions. Each server module parses its own wire format (Plex GUIDs, Jellyfin ProviderIds,
Kodi uniqueid maps) into a plain {provider: value} mapping and hands it to `clean_ids`, which
enforces the types Simkl expects and drops what is empty or malformed. Nothing here guesses from
titles or file names: no usable id means no match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bridge.item import INT_IDS, STR_IDS, Ids, Numbering
from bridge.wire import EventError, digits, one_line, shown

_IMDB = re.compile(r"(tt\d{5,10})", re.ASCII)

# Provider names as servers spell them -> Simkl id key.
ALIASES = {
    "imdb": "imdb",
    "tmdb": "tmdb",
    "themoviedb": "tmdb",
    "moviedb": "tmdb",
    "tvdb": "tvdb",
    "thetvdb": "tvdb",
    "anidb": "anidb",
    "mal": "mal",
    "myanimelist": "mal",
    "anilist": "anilist",
    "kitsu": "kitsu",
    "simkl": "simkl",
}


def provider_key(name: str) -> str | None:
    """Normalize a provider name ('Tmdb', 'Provider_tmdb', 'themoviedb') to a Simkl id key."""
    n = name.strip().lower()
    if n.startswith("provider_"):
        n = n[len("provider_") :]
    return ALIASES.get(n)


def parse_int_id(value: Any) -> int | None:
    """An id Simkl wants as int: accept ints and numeric strings, refuse everything else."""
    if isinstance(value, bool):
        return None
    n = value if isinstance(value, int) else digits(value)
    return n if n is not None and 0 < n < 2**63 else None


def parse_imdb(value: Any) -> str | None:
    """'tt0133093', a full IMDb URL, or junk -> 'tt0133093' or None."""
    if not isinstance(value, str):
        return None
    m = _IMDB.search(value.strip())
    return m.group(1) if m else None


def clean_ids(raw: Mapping[str, Any], where: str = "ids", strict: bool = True) -> Ids:
    """Turn a {provider: value} mapping into Ids.

    Unknown providers are ignored (servers carry many we cannot use). Empty values are treated as
    absent (templates render missing ids as ""). With strict=True a present-but-malformed value for
    a known provider raises EventError naming it; adapters pass strict=False to drop it instead.
    """
    out: dict[str, Any] = {}
    for name, value in raw.items():
        key = provider_key(str(name))
        if key is None or value is None or value == "":
            continue
        parsed = parse_imdb(value) if key in STR_IDS else parse_int_id(value)
        if parsed is None:
            if strict:
                raise EventError(f"{where}.{one_line(str(name))}: {shown(value)} is not a valid {key} id")
            continue
        out.setdefault(key, parsed)
    assert set(out) <= set(INT_IDS) | set(STR_IDS)
    return Ids(**out)


def numbering_for(show_ids: Ids) -> Numbering:
    """A show known only by anime ids was scraped with AniDB numbering (one id per cour); with a
    tvdb/tmdb id next to them, the season/episode numbers are TVDB's."""
    if show_ids.is_anime and show_ids.tvdb is None and show_ids.tmdb is None:
        return Numbering.ANIDB
    return Numbering.TV
