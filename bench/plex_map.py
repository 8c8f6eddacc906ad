"""Cost of mapping one Plex payload to a PlayEvent, on one core.
Run by hand: `python3 bench/plex_map.py [payloads]` (default 20,000 of each kind).

Two paths, each over a mix of GUID forms (new-agent movie, new-agent episode with its show inlined,
legacy TheTVDB episode, HAMA AniDB episode):
- webhook: the bytes of a webhook's `payload` part -> json.loads -> webhook_event
- metadata: a /library/metadata/{key} XML response -> parse_metadata_response -> event_from_metadata
Payloads carry a cast list, as real ones do (a real webhook is ~17 KB), so parsing is counted fairly.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.adapters.plex.map import event_from_metadata, parse_metadata_response, webhook_event
from bridge.events import State

CAST = [{"id": 1000 + n, "tag": f"Actor {n}", "role": f"Role {n}", "thumb": f"https://metadata-static.plex.tv/p/{n}.jpg"}
        for n in range(40)]


def items(n: int) -> dict[str, Any]:
    """The n-th item of the mix, in Plex's JSON form."""
    base = {"ratingKey": str(20000 + n), "key": f"/library/metadata/{20000 + n}", "duration": 2700000 + n,
            "viewOffset": 1350000, "librarySectionID": 2, "librarySectionTitle": "TV Shows", "addedAt": 1600000000,
            "summary": "A chemistry teacher turns to crime. " * 8, "Role": CAST}
    form = n % 4
    if form == 0:
        return dict(base, type="movie", title=f"Movie {n}", year=1999, guid=f"plex://movie/5d776831{n:016x}",
                    librarySectionID=1, librarySectionTitle="Movies",
                    Guid=[{"id": f"imdb://tt{133093 + n:07d}"}, {"id": f"tmdb://{603 + n}"}, {"id": f"tvdb://{169 + n}"}])
    episode = dict(base, type="episode", title=f"Episode {n}", grandparentTitle=f"Show {n}", parentIndex=1 + n % 5,
                   index=1 + n % 13, grandparentRatingKey="9700")
    if form == 1:
        show = {"ratingKey": "9700", "type": "show", "title": f"Show {n}", "year": 2008,
                "guid": "plex://show/5d9c086c46115600200aa2fe",
                "Guid": [{"id": f"tvdb://{81189 + n}"}, {"id": f"tmdb://{1396 + n}"}]}
        return dict(episode, guid=f"plex://episode/5d9c0e13{n:016x}", grandparentGuid=show["guid"], grandparent=show,
                    Guid=[{"id": f"imdb://tt{1054724 + n:07d}"}, {"id": f"tvdb://{349233 + n}"}])
    if form == 2:
        return dict(episode, guid=f"com.plexapp.agents.thetvdb://{81189 + n}/{1 + n % 5}/{1 + n % 13}?lang=en")
    return dict(episode, guid=f"com.plexapp.agents.hama://anidb-{1234 + n}/1/{1 + n % 24}?lang=en")


def webhook_bytes(meta: dict[str, Any], n: int) -> bytes:
    event = ("media.play", "media.pause", "media.resume", "media.stop", "media.scrobble")[n % 5]
    return json.dumps({"event": event, "user": True, "owner": True, "Account": {"id": 1, "title": "alice"},
                       "Server": {"title": "Basement", "uuid": "0123456789abcdef"},
                       "Player": {"local": True, "title": "SHIELD", "uuid": f"player-{n % 7}"}, "Metadata": meta}).encode()


def xml_bytes(meta: dict[str, Any]) -> bytes:
    """The XML a server sends for the same item (the show is fetched separately there, not inlined)."""
    tag = "Video"
    attrs = " ".join(f"{k}={quoteattr(str(v))}" for k, v in meta.items() if not isinstance(v, (list, dict)))
    children = "".join(f'<Guid id="{g["id"]}"/>' for g in meta.get("Guid", ()))
    children += "".join(f"<Role id=\"{r['id']}\" tag={quoteattr(r['tag'])} role={quoteattr(r['role'])} "
                        f"thumb={quoteattr(r['thumb'])}/>" for r in meta["Role"])
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<MediaContainer size="1" librarySectionID="2">'
            f"<{tag} {attrs}>{children}</{tag}></MediaContainer>").encode()


def from_webhook(payload: bytes) -> Any:
    return webhook_event(json.loads(payload), server="Basement", at=1700000000.0)


def from_metadata(payload: bytes) -> Any:
    return event_from_metadata(parse_metadata_response(payload), server="Basement", user="alice", session="1",
                               state=State.PLAYING, position=1350.0, at=1700000000.0)


def measure(name: str, payloads: list[Any], fn: Callable[[Any], Any]) -> None:
    for p in payloads[:200]:  # warm up
        fn(p)
    t = time.process_time()
    events = [fn(p) for p in payloads]
    cpu = time.process_time() - t
    assert all(e is not None for e in events)
    size = f"mean {sum(len(p) for p in payloads) / len(payloads) / 1024:.1f} KB" if isinstance(payloads[0], bytes) else "parsed"
    print(f"{name:12s} {len(payloads):,} payloads ({size}): {cpu / len(payloads) * 1e6:7.1f} us/event, "
          f"{len(payloads) / cpu:,.0f} events/s on one core (CPU {cpu:.2f} s)")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    metas = [items(n) for n in range(count)]
    measure("webhook", [webhook_bytes(m, n) for n, m in enumerate(metas)], from_webhook)
    measure("metadata", [xml_bytes(m) for m in metas], from_metadata)
    # The mapping alone, without JSON/XML parsing: what the live adapter pays per already-fetched item.
    measure("mapping only", metas, lambda meta: event_from_metadata(
        meta, server="Basement", user="alice", session="1", state=State.PLAYING, position=1350.0, at=1700000000.0))


if __name__ == "__main__":
    main()
