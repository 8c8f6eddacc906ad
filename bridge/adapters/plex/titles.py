"""Plex's movies and shows for the ratings and lists sync (what PlexAdapter offers as its TitleHolder,
bridge/library.py): the owner's rating of each, and the Simkl buckets mirrored as collections.

Whose: `userRating` and `lastRatedAt` in a listing, and `/:/rate`, are the token's user's, the owner's
(as with the watched state, library.py): offered for the account `resume_user`, the owner, maps to.

Read: each movie and show section's `all` listing of movies (type 1) or shows (type 2), paged like
the library read (PlexLibrary.listing), outside the excluded libraries. A title's ids are its own
GUIDs', read by the live mapping's rules (map.py: new-agent Guid lists, legacy and HAMA GUIDs; HAMA's
anidb mode is AniDB numbering, as the library read numbers its episodes). `userRating` is 0-10 in
half-star steps (5 stars = 10, plexapi video.py), Simkl's 1-10 one for one (`as_rating`); 0 stars or
none is unrated. Write: plexapi's RatingMixin.rate request (`PUT /:/rate`, -1 clears); Plex takes no
date, it stamps `lastRatedAt` itself.

Lists: a bucket is a regular collection named "Simkl: <Bucket>" in each library section whose titles
it holds, made with its first title (plexapi collection.py Collection._create makes none without
items), and made again if it went with its last one. Why a collection, not a playlist: a collection
holds movies and shows as themselves and shows on the library's Collections tab, where a person
browses and plays from it; a video playlist lists playable items (plexapi playlist.py: its items are
videos; tests/test_playlist.py builds one of a show's episodes), so a show would be the episodes it
had when it was put there. What it costs: a collection is the library's, seen by everyone the section
is shared with, and holds one section's titles of one type (plexapi refuses to mix them), so a bucket
is one collection per section. Membership is read from each such collection's children; the bridge
takes off only the titles it is asked to.

Plan to Watch is also the owner's plex.tv Discover watchlist where `watchlist` is on (discover.py):
a watchlisted title the library holds is that title, listed; one it does not hold is a title of
its own (ref `discover:<plex.tv ratingKey>`), which goes to Simkl by the ids plex.tv has for it.

With both, the watchlist and the collections are one Plan to Watch to the sync, and the holder keeps
them so: a title on one of them is on the server's Plan to Watch (the person put it there, on the
list at hand), and the next `set_listed` of Plan to Watch after the read puts it on the other (a
read writes nothing: a dry run reads too). Were it left on one, it would read listed while
`set_listed` waits for both, and nothing would ever complete the other: the sync plans nothing for a
title listed on both sides. Hence a title leaves Plan to Watch here when it leaves both (or moves on
Simkl); taken off one alone it comes back there. Left on one: a watchlisted title the library lacks
(no collection can hold it), a legacy agent's title without a plex.tv id (no watchlist can), and one
Simkl moved out that a mirror refused to let go (putting it back would undo Simkl's move).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from plexapi.exceptions import NotFound
from requests import ConnectionError as Unreachable
from requests import Timeout

from bridge.adapters.plex.api import ERRORS, READ_ERRORS, PlexApi
from bridge.adapters.plex.discover import Discover, discover_key
from bridge.adapters.plex.library import MOVIES, SHOWS, PlexLibrary, Write
from bridge.adapters.plex.map import _item_match, in_excluded_library
from bridge.item import Ids, Item, Kind, Numbering
from bridge.library import BUCKET_TITLES, Title, TitleShelf, as_rating, list_name, no_cycle_collection
from bridge.wire import EventError, digits

PLAN_TO_WATCH = "plantowatch"
COLLECTIONS = 18  # plexapi utils.SEARCHTYPES["collection"]
_KINDS = {"movie": (Kind.MOVIE, MOVIES), "show": (Kind.SHOW, SHOWS)}
DISCOVER_REF = "discover:"
_CUT_OFF = (Unreachable, Timeout)


def title_from(meta: dict[str, Any], listed: Iterable[str] = ()) -> Title:
    """One movie or show of a listing -> Title; without a usable id it has none (the matching report
    names it)."""
    kind = _KINDS.get(str(meta.get("type")), (Kind.MOVIE, MOVIES))[0]
    match, _ = _item_match(meta)
    # A movie is numbered as a live play's is (TV); a show as its episodes are.
    item = Item(kind, Ids()) if match is None else Item(kind, match.ids, match.numbering if kind is Kind.SHOW
                                                         else Numbering.TV)
    rating = as_rating(_decimal(meta.get("userRating")))
    rated = digits(meta.get("lastRatedAt"))
    year = meta.get("year")
    return Title(item, str(meta.get("title") or ""), year if isinstance(year, int) and year > 0 else None,
                 str(meta.get("ratingKey") or ""), rating, float(rated) if rating is not None and rated else None,
                 listed=frozenset(listed))


def _decimal(value: Any) -> float | None:
    """An XML attribute's number ("7.0"); None when it is none (`as_rating` refuses NaN and infinity)."""
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


class PlexTitles:
    def __init__(self, api: PlexApi, library: PlexLibrary, mirrors: Sequence[str], discover: Discover | None,
                 log: logging.Logger):
        self.api, self.library, self.discover, self.log = api, library, discover, log
        self.name = library.name
        self.mirrors = frozenset(mirrors)  # the buckets mirrored as collections (`lists`)
        self._collections: dict[tuple[str, str], str] = {}  # (section, bucket) -> collection ratingKey
        self._members: dict[str, set[str]] = {}  # collection ratingKey -> its items' ratingKeys
        self._where: dict[str, tuple[str, int]] = {}  # ratingKey -> (section, listing type)
        self._watchlisted: dict[str, str] = {}  # ref -> plex.tv ratingKey of what the watchlist holds
        self._plex_keys: dict[str, str] = {}  # ratingKey -> plex.tv ratingKey (a new agent's guid)
        self._leaving: set[str] = set()  # refs taken off Plan to Watch that a mirror still holds
        # What the last read found on one of Plan to Watch's two mirrors only, with what the collections
        # hold: the next set_listed of Plan to Watch completes it (a read writes nothing: a dry run reads).
        self._incomplete: tuple[list[Title], set[str]] | None = None

    # -- reading --------------------------------------------------------------------------------

    def read(self, buckets: frozenset[str]) -> list[Title]:
        with no_cycle_collection():
            return self._read(buckets)

    def _read(self, buckets: frozenset[str]) -> list[Title]:
        mirrored = sorted(b for b in buckets & self.mirrors if b in BUCKET_TITLES)
        self._collections, self._members, self._where, self._plex_keys, self._watchlisted = {}, {}, {}, {}, {}
        self._incomplete = None
        out: list[Title] = []
        collected: set[str] = set()  # the refs a Plan to Watch collection holds
        for section in self.api.items("/library/sections"):
            kind, key = section.get("type"), str(section.get("key"))
            meta = {"librarySectionID": key, "librarySectionTitle": section.get("title")}
            if kind not in _KINDS or in_excluded_library(meta, self.library.excluded):
                continue
            listed = self._read_lists(key, mirrored)
            collected.update(ref for ref, held in listed.items() if PLAN_TO_WATCH in held)
            for m in self.library.listing(key, _KINDS[kind][1]):
                ref = str(m.get("ratingKey") or "")
                self._where[ref] = (key, _KINDS[kind][1])
                if (plex := discover_key(m.get("guid"))) is not None:
                    self._plex_keys[ref] = plex
                out.append(title_from(m, listed.get(ref, ())))
        if self.discover is not None and PLAN_TO_WATCH in buckets:
            out = self._with_watchlist(out)
            if PLAN_TO_WATCH in mirrored:
                self._incomplete = (out, collected)
        self.log.info("%s: titles read: %d, %d rated", self.name, len(out), sum(t.rating is not None for t in out))
        return out

    def _read_lists(self, section: str, buckets: list[str]) -> dict[str, set[str]]:
        """ratingKey -> the buckets whose collection in this section holds it."""
        names = {list_name(b): b for b in buckets}
        listed: dict[str, set[str]] = {}
        if not names:
            return listed
        for page in self.api.pages(f"/library/sections/{section}/all?type={COLLECTIONS}", self.library.page):
            for collection in page:
                bucket, key = names.get(collection.get("title") or ""), collection.get("ratingKey")
                if bucket is None or not key or collection.get("smart") == "1":
                    continue
                self._collections.setdefault((section, bucket), key)
                members = self._members.setdefault(key, set())
                for items in self.api.pages(f"/library/collections/{key}/children", self.library.page):
                    for element in items:
                        members.add(element.get("ratingKey") or "")
                        listed.setdefault(element.get("ratingKey") or "", set()).add(bucket)
        return listed

    def _with_watchlist(self, titles: list[Title]) -> list[Title]:
        """The titles with the watchlist's marked Plan to Watch, and those the library lacks added."""
        assert self.discover is not None
        by_plex: dict[str, list[str]] = {}  # two libraries may hold one film: both are watchlisted
        for ref, plex in self._plex_keys.items():
            by_plex.setdefault(plex, []).append(ref)
        shelf = TitleShelf(titles)
        listed: set[str] = set()
        extra: list[Title] = []
        for meta in self.discover.watchlist():
            plex = discover_key(meta.get("guid")) or str(meta.get("ratingKey") or "")
            refs = by_plex.get(plex, [])
            if not refs:  # not by its guid: by the ids plex.tv knows it by
                try:
                    meta = {**meta, **self.discover.metadata(plex)}
                except READ_ERRORS as exc:
                    self.log.warning("%s: watchlist item %r not read from plex.tv (%s): left out", self.name,
                                     meta.get("title"), exc)
                    continue
                own = title_from(meta)
                found = shelf.find(own.item) if own.item.ids else None
                if found is None:
                    own = Title(own.item, own.title, own.year, DISCOVER_REF + plex, listed=frozenset({PLAN_TO_WATCH}))
                    extra.append(own)
                    self._watchlisted[own.ref] = plex
                    continue
                refs = [found.ref]
            listed.update(refs)
            self._watchlisted.update(dict.fromkeys(refs, plex))
        marked = [t if t.ref not in listed else Title(t.item, t.title, t.year, t.ref, t.rating, t.rated_at,
                                                      listed=t.listed | {PLAN_TO_WATCH}) for t in titles]
        return marked + extra

    def _one_list(self, titles: list[Title], collected: set[str]) -> None:
        """Put what one of Plan to Watch's two mirrors holds on the other, where it can go (the module
        docstring says why); what cannot, or was refused, stays listed, as it is on one."""
        on_one = {t.ref for t in titles if (t.ref in collected) != (t.ref in self._watchlisted)}
        self._leaving &= on_one  # off both, or back on both: Simkl's move is done or undone
        todo = [t for t in titles if t.ref in on_one and t.ref not in self._leaving]
        collect = [t for t in todo if t.ref in self._watchlisted and not t.ref.startswith(DISCOVER_REF)]
        watch = [t for t in todo if t.ref in collected and t.ref in self._plex_keys]
        if not collect and not watch:
            return
        collected_now = self._collect(PLAN_TO_WATCH, collect, [])
        watched_now = self._watchlist(watch, [])
        done = [t.label for t in collect if t.ref in collected_now] + [t.label for t in watch if t.ref in watched_now]
        if done:
            self.log.info("%s: Plan to Watch is the plex.tv watchlist and %r as one: %d watchlisted titles put on "
                          "the collection, %d collected ones on the watchlist (%s)", self.name, list_name(PLAN_TO_WATCH),
                          len(collected_now), len(watched_now),
                          ", ".join(done[:3]) + (f" and {len(done) - 3} more" if len(done) > 3 else ""))

    # -- ratings --------------------------------------------------------------------------------

    def rate(self, changes: Sequence[tuple[Title, int | None, float | None]]) -> int:
        """Rate each title (None clears): Simkl's 1-10 is Plex's 0-10 (10 = 5 stars) as it is. A
        watchlisted title the library lacks has no rating here to set: not done."""
        def write(rating: int | None) -> Write:
            def one(key: str) -> bool:
                self.api.rate(key, rating)
                return True
            return one

        work = [(title, write(rating)) for title, rating, _ in changes if not title.ref.startswith(DISCOVER_REF)]
        done = self.library.each(work, "rated")
        if done:
            self.log.info("%s: %d ratings set from Simkl (Plex dates them now: it takes no date)", self.name, done)
        return done

    # -- lists ----------------------------------------------------------------------------------

    def set_listed(self, bucket: str, add: Sequence[Title], remove: Sequence[Title]) -> int:
        """How many of the titles are now on (add) or off (remove) every mirror of the bucket: its
        collections (`lists`) and, for Plan to Watch, the watchlist (`watchlist`). None mirrored: 0.
        Plan to Watch's two mirrors are first made one (the last read said what either lacks): the sync
        asks for that every run it writes the server, with nothing to add or remove if need be."""
        if bucket == PLAN_TO_WATCH and self._incomplete is not None:
            titles, collected = self._incomplete
            self._incomplete = None
            self._one_list(titles, collected)
        mirrors = []
        if bucket in self.mirrors and bucket in BUCKET_TITLES:
            mirrors.append(self._collect(bucket, add, remove))
        if bucket == PLAN_TO_WATCH and self.discover is not None:
            mirrors.append(self._watchlist(add, remove))
        if not mirrors:
            return 0
        done = set.intersection(*mirrors)
        if len(mirrors) > 1:
            self._leaving = (self._leaving | {t.ref for t in remove if t.ref not in done}) - {t.ref for t in add}
        return len(done & {t.ref for t in [*add, *remove]})

    def _collect(self, bucket: str, add: Sequence[Title], remove: Sequence[Title]) -> set[str]:
        """Put on and take off the bucket's collections; the refs now as asked."""
        done = {t.ref for t in remove if t.ref.startswith(DISCOVER_REF)}  # on no collection: off it

        def put(key: str) -> bool:
            section, kind = self._section(key)
            collection = self._collections.get((section, bucket))
            if collection is not None and key in self._members.get(collection, set()):
                return True
            if collection is not None:
                try:
                    self.api.add_to_collection(collection, key)
                except NotFound:  # gone since, with its last title
                    collection = None
            if collection is None:
                collection = self.api.create_collection(section, kind, list_name(bucket), key)
                self._collections[(section, bucket)] = collection
            self._members.setdefault(collection, set()).add(key)
            return True

        def take(key: str) -> bool:
            collection = self._collections.get((self._section(key)[0], bucket))
            if collection is not None and key in self._members.get(collection, set()):
                self.api.remove_from_collection(collection, key)
                self._members[collection].discard(key)
            return True

        def noting(title: Title, write: Write) -> tuple[Title, Write]:
            def one(key: str) -> bool:
                write(key)
                done.add(title.ref)
                return True
            return title, one

        # A watchlisted title the library lacks cannot be put on a collection: not done.
        self.library.each([noting(t, put) for t in add if not t.ref.startswith(DISCOVER_REF)],
                          f"put on {list_name(bucket)!r}")
        self.library.each([noting(t, take) for t in remove if not t.ref.startswith(DISCOVER_REF)],
                          f"taken off {list_name(bucket)!r}")
        return done

    def _section(self, key: str) -> tuple[str, int]:
        """The section an item is in and its listing type: from the read, else its metadata."""
        if key not in self._where:
            try:
                meta = self.api.metadata(key)
            except EventError as exc:
                raise LookupError(str(exc)) from None
            kind = _KINDS.get(str(meta.get("type")))
            if kind is None:
                raise LookupError(f"a {meta.get('type')!r} is no movie or show")
            self._where[key] = (str(meta.get("librarySectionID")), kind[1])
        return self._where[key]

    def _watchlist(self, add: Sequence[Title], remove: Sequence[Title]) -> set[str]:
        """The watchlist's part of Plan to Watch, by plex.tv ratingKey (a title of a legacy agent has
        none: said, and left off); the refs now as asked."""
        assert self.discover is not None
        done = {t.ref for t in add if t.ref in self._watchlisted} | {t.ref for t in remove if t.ref not in self._watchlisted}
        work = [(t, True) for t in add if t.ref not in done] + [(t, False) for t in remove if t.ref not in done]
        for n, (title, adding) in enumerate(work):
            plex = self._watchlisted.get(title.ref) or self._plex_keys.get(title.ref)
            if plex is None:
                self.log.info("%s: %s not put on the plex.tv watchlist: it has no plex.tv id (a legacy agent's match)",
                              self.name, title.label)
                continue
            try:
                (self.discover.add if adding else self.discover.remove)(plex)
            except _CUT_OFF as exc:
                self.log.warning("%s: %d of %d watchlist changes not made: %s", self.name, len(work) - n, len(work), exc)
                break
            except ERRORS as exc:
                self.log.warning("%s: %s not %s the plex.tv watchlist: %s", self.name, title.label,
                                 "put on" if adding else "taken off", exc)
                continue
            if adding:
                self._watchlisted[title.ref] = plex
            else:
                self._watchlisted.pop(title.ref, None)
            done.add(title.ref)
        return done
