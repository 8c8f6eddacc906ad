"""Jellyfin's movies and shows for the ratings and lists sync (the TitleHolder of bridge/library.py),
for the configured user: each with that user's rating, and the Simkl buckets mirrored as collections.

What Jellyfin holds (jellyfin/jellyfin, 10.8 to 10.11): one per-user rating, `UserData.Rating`, a
double from 0 to 10 (MediaBrowser.Controller/Entities/UserItemData.cs; any other value is an
ArgumentOutOfRangeException, a 400). `Likes` is no second value: it reads `Rating >= 6.5` and sets
Rating to 10 or 1. No date is kept with it, so `rated_at` is None. Simkl's 1-10 is Jellyfin's 1.0 to
10.0: lossless both ways (`as_rating` reads a value set by another client). Set with
`POST /UserItems/{id}/UserData` and a body of `{"Rating": r}` (ItemsController.UpdateItemUserData,
10.9+; UserDataManager.SaveUserData copies only the fields given, so a null Rating clears nothing),
cleared with `DELETE .../Rating` (UserLibraryController.DeleteUserItemRating). 10.8 has no way to set
a value: its only write is `POST /Users/{userId}/Items/{id}/Rating?likes=`, a 10 or a 1, which would
turn a 7 into a 10 on Simkl at the next read. On 10.8 ratings are read and cleared, never set.

The lists are collections (BoxSets), named `list_name(bucket)`, not playlists, because a playlist
cannot mirror a Simkl list for this bridge:
- a playlist cannot hold a show: PlaylistManager.AddToPlaylistInternal expands every folder it is
  given into its episodes (Playlist.GetPlaylistItems: a Series becomes its episodes as of that day,
  and later episodes never join), where a collection holds the Series itself (CollectionManager.
  AddToCollectionAsync links any item);
- an API key cannot take anything off a user's playlist on 10.9.0-10.10.7: RemoveItemFromPlaylist
  looks the playlist up for the caller's user (GetPlaylistForUser -> UserManager.GetUserById), which
  for a key is Guid.Empty and throws, a 400; 10.11 added the key's branch. Collections need
  CollectionManagement, which an API key always has (UserPermissionHandler), on every version.
What a collection costs: it is the server's, not the user's. Every user who may see its items sees
it, and two `jellyfin:` entries for two users of one server share one "Simkl: Plan to Watch". With
the server's "group movies into collections" on, a listed movie shows as its collection in library
views (CollectionManager.CollapseItemsWithinBoxSets); the library reads ask for CollapseBoxSetItems=false.
A collection is read as the user sees it (`GET /Items?ParentId=` with `userId`: BoxSet children are
its linked items, filtered per user; without a user a BoxSet has no children), and changed by the
items' own Ids: `POST`/`DELETE /Collections/{id}/Items?ids=`. Adding an item that is gone fails the
whole request (AddToCollectionAsync throws before linking any), so a refused chunk is tried one by one.
"""

from __future__ import annotations

import logging
from typing import Any

from bridge.adapters.jellyfin.api import JellyfinError
from bridge.adapters.jellyfin.library import _FATAL, _ITEM_ID, CHUNK, JellyfinLibrary
from bridge.adapters.jellyfin.map import item_event, norm_id
from bridge.events import EventError, State
from bridge.ids import clean_ids, numbering_for
from bridge.item import Ids, Item, Kind
from bridge.library import Title, TitleHolder, as_rating, list_name
from bridge.wire import is_count

log = logging.getLogger("bridge.adapters.jellyfin")


def title_of(dto: dict[str, Any], listed: frozenset[str]) -> Title:
    """One Movie or Series BaseItemDto read for a user -> its Title: ids as the library read maps
    them (a series' ProviderIds are the show's; anime ids alone mean AniDB numbering), empty ids when
    it has none usable. A DTO without UserData was not read for a user: JellyfinError."""
    data = dto.get("UserData")
    if not isinstance(data, dict):
        raise JellyfinError(f"GET /Items: item {norm_id(dto.get('Id')) or '?'} has no UserData: not read for the user")
    ref, name = norm_id(dto.get("Id")), str(dto.get("Name") or "")
    year = dto.get("ProductionYear")
    year = year if is_count(year) and year > 1800 else None
    if dto.get("Type") == "Series":
        raw = dto.get("ProviderIds")
        ids = clean_ids(raw if isinstance(raw, dict) else {}, strict=False)
        item = Item(Kind.SHOW, ids, numbering_for(ids))
    else:
        try:
            event = item_event(dto, server="", user="", session="titles", state=State.WATCHED, position_ticks=None, at=0.0)
            item, name, year = Item(Kind.MOVIE, event.ids), event.title, event.year
        except EventError:
            item = Item(Kind.MOVIE, Ids())
    return Title(item, name, year, ref, as_rating(data.get("Rating")), None, None, listed)


class JellyfinTitles(JellyfinLibrary):
    """The TitleHolder side of JellyfinAdapter, on its LibraryHolder side (the same user, listings
    and excluded libraries)."""

    def titles(self) -> TitleHolder | None:
        """The configured user's titles; none without a `user:` (whose ratings would they be?)."""
        return self if self.users.configured is not None else None

    def read_titles(self, buckets: frozenset[str]) -> list[Title]:
        user = self._user(fresh=True)
        left_out = self._excluded("Movie,Series")
        mirrors = self._collections()
        members = {b: self._members(mirrors[list_name(b)], user) if list_name(b) in mirrors else set() for b in buckets}
        out = []
        for dto in self._listing(userId=user, IncludeItemTypes="Movie,Series", Fields="ProviderIds"):
            ref = norm_id(dto.get("Id"))
            if ref not in left_out and dto.get("Type") in ("Movie", "Series"):
                out.append(title_of(dto, frozenset(b for b, refs in members.items() if ref in refs)))
        log.info("%s: titles read: %d movies and shows, %d rated", self.name, len(out), sum(t.rating is not None for t in out))
        return out

    def rate(self, changes: list[tuple[Title, int | None, float | None]]) -> int:
        """Each title's rating set (or cleared) for the user; Jellyfin keeps no date, so none is sent."""
        work = [c for c in changes if self._named(c[0], "rating not written")]
        done = tried = 0
        try:
            user = self._user()
            version = self.api.version()
            likes_only = version is not None and version[:2] < (10, 9)
            if likes_only and any(rating is not None for _, rating, _ in work):
                log.warning("%s: Jellyfin %s takes a rating only as a like or a dislike (10 or 1): %d ratings not "
                            "written (10.9 and later take the rating itself)", self.name, ".".join(map(str, version or ())),
                            sum(rating is not None for _, rating, _ in work))
            for title, rating, _ in work:
                if rating is None or not likes_only:
                    try:
                        self.api.set_rating(title.ref, user, rating, version is None or likes_only)
                        done += 1
                    except JellyfinError as exc:
                        if exc.status in _FATAL:
                            raise
                        log.warning("%s: %s: rating not written: %s", self.name, title.label, exc)
                tried += 1
        except JellyfinError as exc:
            log.warning("%s: %d of %d ratings not written: %s", self.name, len(work) - tried, len(changes), exc)
        if done:
            log.info("%s: %d ratings written from Simkl", self.name, done)
        return done

    def set_listed(self, bucket: str, add: list[Title], remove: list[Title]) -> int:
        if not add and not remove:
            return 0  # the sync puts every mirror in order each run: one collection has no order to keep
        name = list_name(bucket)
        adds = [t for t in add if self._named(t, f"not put on {name!r}")]
        removes = [t for t in remove if self._named(t, f"not taken off {name!r}")]
        done = 0
        pending = len(adds) + len(removes)
        try:
            user = self._user()
            mirrors = self._collections()
            if name not in mirrors and not adds:
                return 0  # nothing to take off a list that is not there
            collection = mirrors.get(name) or self.api.create_collection(name)
            if name not in mirrors:
                log.info("%s: collection %r made", self.name, name)
            held = self._members(collection, user)
            new = list(dict.fromkeys(t.ref for t in adds if t.ref not in held))
            gone = list(dict.fromkeys(t.ref for t in removes if t.ref in held))
            pending = len(new) + len(gone)
            labels = {t.ref: t.label for t in (*adds, *removes)}
            for refs, put in ((new, True), (gone, False)):
                for n in range(0, len(refs), CHUNK):
                    chunk = refs[n:n + CHUNK]
                    done += self._change(collection, chunk, put, labels, name)
                    pending -= len(chunk)
        except JellyfinError as exc:
            log.warning("%s: %d changes to %r not made: %s", self.name, pending, name, exc)
        if done:
            log.info("%s: %r: %d titles put on or taken off", self.name, name, done)
        return done

    # -- helpers ----------------------------------------------------------------------------------

    def _named(self, title: Title, what: str) -> bool:
        """Whether the title's ref names a Jellyfin item; a line when it does not."""
        if _ITEM_ID.fullmatch(norm_id(title.ref)):
            return True
        log.warning("%s: %s %s: %r names no Jellyfin item", self.name, title.label, what, title.ref)
        return False

    def _collections(self) -> dict[str, str]:
        """Every collection of the server by name (the first of a name, in the server's order): a
        BoxSet-only listing is the server's whole, whatever its parent (ItemsController.GetItems)."""
        items, _ = self.api.query_items(IncludeItemTypes="BoxSet", Recursive="true", EnableImages="false",
                                        EnableUserData="false")
        found: dict[str, str] = {}
        for dto in items:
            if dto.get("Type") == "BoxSet" and norm_id(dto.get("Id")):
                found.setdefault(str(dto.get("Name") or ""), norm_id(dto.get("Id")))
        return found

    def _members(self, collection: str, user: str) -> set[str]:
        """The Ids of a collection's items the user sees, a page at a time."""
        held: set[str] = set()
        start = 0
        while True:
            items, total = self.api.query_items(ParentId=collection, userId=user, StartIndex=start, Limit=self.page,
                                                EnableImages="false", EnableUserData="false")
            held.update(norm_id(dto.get("Id")) for dto in items)
            start += self.page
            if not items or (total is not None and start >= total):
                return held

    def _change(self, collection: str, refs: list[str], put: bool, labels: dict[str, str], name: str) -> int:
        """One request for the chunk; refused (not for the run's reasons), one per item, each refusal a line."""
        try:
            self.api.collection_items(collection, refs, put)
            return len(refs)
        except JellyfinError as exc:
            if exc.status in _FATAL:
                raise
            if len(refs) > 1:
                return sum(self._change(collection, [ref], put, labels, name) for ref in refs)
            log.warning("%s: %s not %s %r: %s", self.name, labels.get(refs[0], refs[0]), "put on" if put else "taken off",
                        name, exc)
            return 0
