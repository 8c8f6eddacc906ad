"""Reading what Simkl took from its reply (bridge/confirm.py), in each shape the docs give it."""

from __future__ import annotations

from bridge import confirm
from bridge.events import Ids, Kind, Numbering, PlayEvent, State
from bridge.outbox import Entry
from bridge.simkl.bodies import history_body

MATRIX = PlayEvent("plex", "home", "alice", "1", Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093"), State.STOPPED, title="The Matrix")
AOT_S2E4 = PlayEvent("plex", "home", "alice", "1", Kind.EPISODE, Ids(tvdb=267440), State.STOPPED, season=2, episodes=(4,))
BY_OWN_IDS = PlayEvent("plex", "home", "alice", "1", Kind.EPISODE, Ids(), State.STOPPED, season=1, episodes=(1,),
                       episode_ids=Ids(tvdb=4242))


def entry(event: PlayEvent, n: int = 1, rewatch: bool = False) -> Entry:
    return Entry(n, "alice", "history", event.item.key, f"k{n}", history_body(event, "2026-01-01T00:00:00Z"), 1.7e9, 0,
                 0.0, "", rewatch)


def test_not_found_is_recognised_unmodified_and_reduced() -> None:
    """Older replies echo the item unmodified; the add-to-history reference echoes a top-level
    episode reduced (ids as strings, no title or watched_at)."""
    e = entry(BY_OWN_IDS)
    unmodified = {"not_found": {"episodes": [e.body["episodes"][0]]}}
    reduced = {"not_found": {"episodes": [{"ids": {"tvdb": "4242"}}]}}
    other = {"not_found": {"episodes": [{"ids": {"tvdb": "4243"}}], "movies": [{"ids": {"tvdb": "4242"}}]}}
    assert confirm.not_found([e], unmodified) == [e] and confirm.not_found([e], reduced) == [e]
    assert confirm.not_found([e], other) == [] and confirm.not_found([e], {"not_found": None}) == []


def test_counts_short_of_what_was_asked_leave_only_what_the_reply_cannot_vouch_for() -> None:
    movie, episode, own = entry(MATRIX, 1), entry(AOT_S2E4, 2), entry(BY_OWN_IDS, 3)
    batch = [movie, episode, own]
    full = {"added": {"movies": 1, "shows": 1, "episodes": 2}}
    assert confirm.unconfirmed(batch, full) == []
    # Nothing counted: the movie and the numbered episode need the library; the episode Simkl
    # matched by its own ids would have been in not_found otherwise.
    assert confirm.unconfirmed(batch, {"added": {"movies": 0, "shows": 0, "episodes": 0}}) == [movie, episode]
    assert confirm.unconfirmed(batch, {}) == [movie, episode]  # no counts at all: nothing confirmed
    # A completed status confirms the movie, in the 2026 echo (type, rating) or the blueprint's bare one.
    for request in ({**movie.body["movies"][0], "type": "movie", "rating": None}, movie.body["movies"][0]):
        reply = {"added": {"movies": 0, "episodes": 2, "statuses": [{"request": request, "response": {"status": "completed"}}]}}
        assert confirm.unconfirmed(batch, reply) == []
    assert confirm.unconfirmed([entry(MATRIX, rewatch=True)], {"added": {"movies": 0}}) == []  # a rewatch may add nothing


def test_the_library_read_back_finds_an_anime_by_where_tvdb_puts_it() -> None:
    """extended=full_anime_seasons gives each anime episode its TVDB place: the TVDB-numbered write
    is found on the second cour."""
    library = {"anime": [{"show": {"title": "Shingeki no Kyojin Season 2", "ids": {"simkl": 595891, "tvdb": "267440"}},
                          "seasons": [{"number": 1, "episodes": [{"number": 4, "tvdb": {"season": 2, "episode": 4},
                                                                  "watched_at": "2026-01-01T00:00:00Z"}]}]}]}
    e = entry(AOT_S2E4)
    assert confirm.not_in_library([e], library) == []
    assert confirm.not_in_library([e], None) == [e] and confirm.not_in_library([e], {}) == [e]
    anidb = PlayEvent("plex", "home", "alice", "1", Kind.EPISODE, Ids(anidb=10944), State.STOPPED, season=1, episodes=(4, 5),
                      numbering=Numbering.ANIDB)
    assert confirm.not_in_library([entry(anidb)], library) == [entry(anidb)]  # E5 is not there


def test_the_session_a_rewatch_joined() -> None:
    reply = {"added": {"statuses": [{"request": {}, "response": {"status": "completed", "rewatch_id": 7482,
                                                                "rewatch_status": "completed"}}]}}
    assert confirm.rewatch_session(reply) == 7482
    assert confirm.rewatch_session({"added": {"statuses": [{"response": {"status": "completed"}}]}}) is None


def test_the_read_back_starts_a_day_before_the_write_and_never_more_than_a_week_back() -> None:
    now = 1.7e9 + 3600
    assert confirm.read_back_since([entry(MATRIX)], now) == 1.7e9 - 86400
    old = Entry(1, "alice", "history", "k", "k", {}, 1.0e9, 0, 0.0, "")  # a library sync's real watch date
    assert confirm.read_back_since([old], now) == now - 8 * 86400
