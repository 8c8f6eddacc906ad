"""The Plex stand-in itself: the identity and containers the adapter is judged by, as python-plexapi
4.18 and Tautulli read them from real servers (the file each follows is named in the test). Plain
requests, python-plexapi itself and a raw websocket play the client, never the adapter."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime

import requests
import websocket
from plexapi.server import PlexServer

from tests.adapters.plex.standin import OWNER_EMAIL, TOKEN, PlexStandIn


def get(plex: PlexStandIn, path: str) -> ET.Element:
    reply = requests.get(plex.url + path, headers={"X-Plex-Token": TOKEN}, timeout=5)
    assert reply.status_code == 200
    return ET.fromstring(reply.text)


def test_the_owner_is_an_email_at_the_root_and_account_1_by_name(plex) -> None:
    """plexapi/server.py PlexServer: myPlexUsername is the "Email address if signed into myPlex"
    (tests/test_server.py matches it against an e-mail pattern); SystemAccount lists /accounts by id
    and name; Tautulli pmsconnect.get_current_activity takes `User id="1"` of /status/sessions as
    the admin and looks every other user up by id."""
    root = get(plex, "/")
    assert root.get("myPlexUsername") == OWNER_EMAIL and "@" in OWNER_EMAIL
    accounts = {a.get("id"): a.get("name") for a in get(plex, "/accounts") if a.tag == "Account"}
    assert accounts["1"] == "alice"
    plex.play("7", "100")
    plex.play("8", "100", user="bob", user_id=2)
    users = {v.get("sessionKey"): v.find("User").attrib for v in get(plex, "/status/sessions")}
    assert (users["7"]["id"], users["7"]["title"]) == ("1", "alice")
    assert (users["8"]["id"], users["8"]["title"]) == ("2", accounts["2"])


def test_metadata_names_the_library_on_its_container(plex) -> None:
    """Tautulli pmsconnect.get_metadata_details reads librarySectionID and librarySectionTitle from the
    MediaContainer of /library/metadata; plexapi base.fetchItems copies the container's librarySectionID
    onto items that lack it. The stand-in keeps them off the item, the narrower form a reader must take."""
    root = get(plex, "/library/metadata/400")
    (item,) = [e for e in root if e.tag == "Video"]
    assert (root.get("librarySectionID"), root.get("librarySectionTitle")) == ("3", "Home Videos")
    assert item.get("librarySectionTitle") is None and item.get("librarySectionID") is None


def test_a_session_item_names_its_library(plex) -> None:
    """Tautulli pmsconnect.get_session_each reads the session item's own librarySectionTitle."""
    plex.play("7", "400")
    (video,) = list(get(plex, "/status/sessions"))
    assert (video.get("librarySectionID"), video.get("librarySectionTitle")) == ("3", "Home Videos")


def test_alerts_carry_every_state_tautulli_tells_apart(plex) -> None:
    """Tautulli activity_handler.ActivityHandler.process: playing, paused, buffering, stopped, and
    error (on_error: the session is kept, a later stop still ends it)."""
    ws = websocket.create_connection(plex.url.replace("http", "ws") + "/:/websockets/notifications",
                                     header=[f"X-Plex-Token: {TOKEN}"], timeout=2)
    plex.wait_connected()
    plex.play("7", "100", offset=1_000)
    plex.alert("7", "error", 60_000)
    states = []
    for _ in range(2):
        (entry,) = json.loads(ws.recv())["NotificationContainer"]["PlaySessionStateNotification"]
        states.append((entry["state"], entry["viewOffset"]))
    assert states == [("playing", 1_000), ("error", 60_000)]
    assert "7" in plex.sessions  # an error does not end the session
    ws.close()


# -- the library, as python-plexapi 4.18 reads and writes it -----------------------------------------

T = 1_700_000_000


def plexapi_server(plex: PlexStandIn) -> PlexServer:
    return PlexServer(plex.url, TOKEN, timeout=5)


def test_a_section_lists_one_type_page_by_page_as_plexapi_asks(plex) -> None:
    """plexapi/library.py LibrarySection.all/search: the type from utils.SEARCHTYPES, includeGuids=1,
    pages of container_size (base.fetchItems sends X-Plex-Container-Start/-Size as headers and stops at
    the container's totalSize); totalViewSize asks for a page of 0 by query arguments and reads
    totalSize; tests/test_library.py: a start past the end gives nothing; tests/test_fetch_items.py:
    a page's size is its own, its offset the start, totalSize the whole listing's."""
    shows = plexapi_server(plex).library.section("TV Shows")
    episodes = shows.all(libtype="episode", container_size=1)
    assert sorted(e.ratingKey for e in episodes) == [202, 203, 503]
    assert [r.headers.get("x-plex-container-start") for r in plex.requests if r.query.get("type") == "4"] == ["0", "1", "2"]
    office = next(e for e in episodes if e.ratingKey == 503)
    assert [g.id for g in office.guids] == ["tvdb://300000"] and office.grandparentRatingKey == 500
    assert (shows.totalViewSize(libtype="episode"), shows.totalViewSize(libtype="show")) == (3, 2)
    assert len(plexapi_server(plex).library.section("Movies").search(container_start=9999, container_size=1)) == 0
    reply = requests.get(plex.url + "/library/sections/2/all", params={"type": "4"}, timeout=5,
                         headers={"X-Plex-Token": TOKEN, "X-Plex-Container-Start": "1", "X-Plex-Container-Size": "1"})
    root = ET.fromstring(reply.text)
    assert (root.get("size"), root.get("offset"), root.get("totalSize"), len(root)) == ("1", "1", "3", 1)
    assert all(v.find("Guid") is None for v in root)  # Guids only with includeGuids=1


def test_several_items_are_read_by_their_keys_at_once(plex) -> None:
    """plexapi/base.py fetchItems: a list of keys is read as /library/metadata/<key1,key2,key3>; the
    items found are listed, and a list of which none is found is a 404 like one unknown key."""
    found = plexapi_server(plex).fetchItems([100, 202, 999])
    assert [i.ratingKey for i in found] == [100, 202]
    assert requests.get(plex.url + "/library/metadata/998,999", headers={"X-Plex-Token": TOKEN}, timeout=5).status_code == 404


def test_marks_are_plexapis_scrobble_and_unscrobble_and_leave_no_history(plex) -> None:
    """plexapi/mixins/played_unplayed.py markPlayed/markUnplayed (`/:/scrobble`, `/:/unscrobble` with key
    and identifier); tests/test_video.py test_video_movie_watched: viewCount 1, then 0; since PMS
    1.40.0.7998 a mark makes no history row (python-plexapi PR #1366, tests/test_history.py)."""
    plex.clock = lambda: T
    server = plexapi_server(plex)
    movie = server.fetchItem(100)
    assert not movie.isPlayed
    movie.markPlayed()
    movie.reload()
    assert (movie.viewCount, movie.lastViewedAt) == (1, datetime.fromtimestamp(T))
    assert server.history() == []
    movie.markUnplayed()
    movie.reload()
    assert (movie.viewCount, movie.lastViewedAt) == (0, None)
    assert requests.get(plex.url + "/:/scrobble", params={"key": "100"}, headers={"X-Plex-Token": TOKEN},
                        timeout=5).status_code == 400  # plexapi always names the identifier


def test_the_history_holds_every_accounts_plays_newest_first(plex) -> None:
    """plexapi/server.py history: sort=viewedAt:desc, accountID, metadataItemID, librarySectionID, paged
    by fetchItems; base.PlexHistory reads viewedAt, accountID and historyKey; library.py
    LibrarySection.history asks for the owner's, accountID=1."""
    plex.view("100", T - 300)
    plex.view("503", T - 200, account=2)
    plex.view("202", T - 100)
    server = plexapi_server(plex)
    rows = [(h.ratingKey, h.accountID, h.viewedAt) for h in server.history()]
    assert rows == [(202, 1, datetime.fromtimestamp(T - 100)), (503, 2, datetime.fromtimestamp(T - 200)),
                    (100, 1, datetime.fromtimestamp(T - 300))]
    assert [h.ratingKey for h in server.history(accountID=1)] == [202, 100]
    assert [h.ratingKey for h in server.history(ratingKey=503)] == [503]
    assert [h.ratingKey for h in server.library.section("Movies").history()] == [100]
    assert [h.ratingKey for h in server.history(mindate=datetime.fromtimestamp(T - 150))] == [202]
    assert server.history()[0].historyKey == "/status/sessions/history/3"
    # The owner's count and date move with the owner's plays only.
    assert (plex.items["100"]["viewCount"], "viewCount" in plex.items["503"]) == (1, False)
