"""The Jellyfin stand-in itself: each behaviour the adapter is judged by, version by version, as the
server's own code has it (jellyfin/jellyfin at the tags in standin.py's docstring; the file each test
follows is named in it). A raw websocket and plain requests play the client, never the adapter."""

from __future__ import annotations

import json
import time

import pytest
import requests
import websocket

from tests.adapters.jellyfin.helpers import every_version, jellyfin, minutes  # noqa: F401 - fixtures
from tests.adapters.jellyfin.standin import (
    ALICE,
    ALICE_TOKEN,
    API_KEY,
    BOB,
    EMPTY_ID,
    FORCE_KEEPALIVE,
    TICKS,
    USER_DATA_BATCH,
    USER_TOKENS,
    VERSIONS,
    JellyfinStandIn,
)
from tests.conftest import eventually

BOB_TOKEN = next(t for t, user in USER_TOKENS.items() if user == BOB)
KEY_HEADER = f'MediaBrowser Client="probe", Device="probe", DeviceId="probe-1", Version="1", Token="{API_KEY}"'
ALICE_HEADER = f'MediaBrowser Client="Jellyfin Web", Device="Firefox", DeviceId="web-1", Version="10", Token="{ALICE_TOKEN}"'


class Probe:
    """A websocket client that keeps every message it is sent."""

    def __init__(self, jf: JellyfinStandIn, header: str = KEY_HEADER):
        self.ws = websocket.create_connection(jf.url.replace("http", "ws") + "/socket", header=[f"Authorization: {header}"],
                                              timeout=2)
        self.messages: list[dict] = []

    def send(self, kind: str, data: object = None) -> None:
        self.ws.send(json.dumps({"MessageType": kind, **({"Data": data} if data is not None else {})}))

    def wait(self, kind: str, what: str) -> dict:
        """Read until a message of `kind` comes (or the stand-in's silence times the read out)."""
        while True:
            found = next((m for m in self.messages if m["MessageType"] == kind), None)
            if found is not None:
                self.messages.remove(found)
                return found
            try:
                self.messages.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                raise AssertionError(f"no {kind} message: {what}") from None

    def kinds(self) -> list[str]:
        """What came so far, reading until the socket stays quiet."""
        self.ws.settimeout(0.3)
        try:
            while True:
                self.messages.append(json.loads(self.ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        return [m["MessageType"] for m in self.messages]


def subscribe(probe: Probe, jf: JellyfinStandIn) -> None:
    probe.send("SessionsStart", "0,1500")
    probe.send("KeepAlive")  # answered after SessionsStart was processed: the two are read in order
    probe.wait("KeepAlive", "the KeepAlive answer")


@every_version
def test_sessions_start_from_an_api_key_subscribes_except_on_10_9_to_10_10(jellyfin) -> None:
    """SessionInfoWebSocketListener.Start: 10.9.0-10.10.7 call AuthorizationInfo.User.HasPermission
    first, and an API key has no User; WebSocketConnection logs the exception and answers KeepAlive
    as ever. Nothing is pushed on subscribing (BasePeriodicWebSocketListener.Start), only at the next
    session event."""
    probe = Probe(jellyfin)
    subscribe(probe, jellyfin)
    assert "Sessions" not in probe.kinds()
    jellyfin.play("s1", ALICE, jellyfin.matrix, 60)
    if jellyfin.version == "10.10.7":
        assert "Sessions" not in probe.kinds()
        assert any("Failed to process WebSocket message" in line for line in jellyfin.log)
    else:
        (session,) = [s for s in probe.wait("Sessions", "the push")["Data"] if "NowPlayingItem" in s]
        assert session["NowPlayingItem"]["Id"] == jellyfin.matrix and jellyfin.log == []


def test_an_administrators_token_subscribes_on_10_10() -> None:
    """The same check passes for a user who is an administrator (SessionInfoWebSocketListener.Start)."""
    with JellyfinStandIn("10.10.7") as jf:
        movie = jf.add_movie("The Matrix", {"Tmdb": "603"})
        probe = Probe(jf, ALICE_HEADER)
        subscribe(probe, jf)
        jf.play("s1", BOB, movie, 60)
        assert any("NowPlayingItem" in s for s in probe.wait("Sessions", "the push")["Data"])


@every_version
def test_force_keepalive_goes_to_sockets_with_a_session(jellyfin) -> None:
    """SessionWebSocketListener.ProcessWebSocketConnectedAsync: up to 10.10 only a socket whose token is
    a device's (a user's) joins a session and is sent ForceKeepAlive; from 10.11 every socket,
    an API key's with a session of no user, which GET /Sessions lists."""
    key, user = Probe(jellyfin), Probe(jellyfin, ALICE_HEADER)
    assert user.wait("ForceKeepAlive", "the user's socket")["Data"] == FORCE_KEEPALIVE
    listed = requests.get(jellyfin.url + "/Sessions", headers={"Authorization": KEY_HEADER}, timeout=5).json()
    if jellyfin.version == "10.11.11":
        assert key.wait("ForceKeepAlive", "the API key's socket")["Data"] == FORCE_KEEPALIVE
        assert {s["UserId"] for s in listed} == {EMPTY_ID, ALICE}
    else:
        assert "ForceKeepAlive" not in key.kinds() and {s["UserId"] for s in listed} == {ALICE}


@every_version
def test_user_data_changed_never_reaches_an_api_key(jellyfin) -> None:
    """UserDataChangeNotifier: saves but playback progress, gathered until 500 ms pass without one,
    each item with its parent (an episode's season), sent to the user's sessions only."""
    key, user = Probe(jellyfin), Probe(jellyfin, ALICE_HEADER)
    subscribe(key, jellyfin)
    jellyfin.play("s1", ALICE, jellyfin.bb_s1e2, minutes(20))
    stopped = time.monotonic()
    jellyfin.stop("s1")
    message = user.wait("UserDataChanged", "alice's own socket")
    assert time.monotonic() - stopped >= USER_DATA_BATCH - 0.05  # a batch, not one message per save
    season = jellyfin.items[jellyfin.bb_s1e2]["SeasonId"]
    assert message["Data"]["UserId"] == ALICE
    assert [e["ItemId"] for e in message["Data"]["UserDataList"]] == [jellyfin.bb_s1e2, season]
    eventually(lambda: jellyfin.user_data_sent, "the batch")
    assert "UserDataChanged" not in key.kinds()


def test_unforced_pushes_wait_for_the_subscriptions_interval() -> None:
    """BasePeriodicWebSocketListener.HandleMessages: an unforced update (SessionInfo's own progress
    timer) goes only to a socket whose last push is IntervalMs old; forced ones always."""
    with JellyfinStandIn("10.11.11") as jf:
        movie = jf.add_movie("The Matrix", {"Tmdb": "603"})
        probe = Probe(jf)
        subscribe(probe, jf)
        jf.play("s1", ALICE, movie, 60)  # forced
        assert jf.auto_progress("s1", 61) is None  # inside 1.5 s of the last push: dropped
        assert jf.progress("s1", 62) and probe.kinds().count("Sessions") == 2  # a client's report: forced
        for sock in jf.sockets:
            sock.last_push -= 1.5  # as if the interval had passed
        assert jf.auto_progress("s1", 63) is not None


def test_ancestors_name_the_library_only_for_a_user(jellyfin) -> None:
    """LibraryController.GetAncestors: TranslateParentItem swaps the top physical folder for the user's
    CollectionFolder only when a user is given; otherwise the chain ends in a Folder and the AggregateFolder."""
    headers = {"Authorization": KEY_HEADER}
    path = f"{jellyfin.url}/Items/{jellyfin.bb_s1e2}/Ancestors"
    bare = requests.get(path, headers=headers, timeout=5).json()
    assert [a["Type"] for a in bare] == ["Season", "Series", "Folder", "AggregateFolder"]
    mine = requests.get(path, params={"userId": ALICE}, headers=headers, timeout=5).json()
    assert [a["Type"] for a in mine] == ["Season", "Series", "CollectionFolder", "UserRootFolder"]
    assert mine[2]["Name"] == "Shows"


@pytest.mark.parametrize(("version", "legacy", "accepted"), [
    ("10.10.7", True, {"header", "scheme", "emby", "x-emby-token", "api_key", "ApiKey"}),
    ("10.11.11", True, {"header", "scheme", "emby", "x-emby-token", "api_key", "ApiKey"}),
    ("10.11.11", False, {"header", "scheme", "ApiKey"}),  # EnableLegacyAuthorization off, master's default
])
def test_where_a_token_is_read(version: str, legacy: bool, accepted: set[str]) -> None:
    """AuthorizationContext.GetAuthorizationInfoFromDictionary and GetAuthorization."""
    with JellyfinStandIn(version, legacy_auth=legacy) as jf:
        ways = {"header": ({"Authorization": KEY_HEADER}, {}),
                "scheme": ({"Authorization": f'MediaBrowser Token="{API_KEY}"'}, {}),
                "emby": ({"Authorization": f'Emby Token="{API_KEY}"'}, {}),
                "x-emby-token": ({"X-Emby-Token": API_KEY}, {}),
                "api_key": ({}, {"api_key": API_KEY}),
                "ApiKey": ({}, {"ApiKey": API_KEY})}
        answered = {way for way, (headers, params) in ways.items()
                    if requests.get(jf.url + "/Sessions", headers=headers, params=params, timeout=5).status_code == 200}
        assert answered == accepted
        assert requests.get(jf.url + "/Sessions", timeout=5).status_code == 401
        assert requests.get(jf.url + "/System/Info/Public", timeout=5).json()["Version"] == version
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(jf.url.replace("http", "ws") + "/socket", timeout=2)
        assert refused.value.status_code == 403  # WebSocketManager: SecurityException, before the upgrade


@pytest.mark.parametrize(("percent", "played", "kept"), [(95, True, 0), (50, False, 50), (3, False, 0)])
def test_a_stop_saves_the_user_data_as_update_play_state_does(jellyfin, percent, played, kept) -> None:
    """SessionManager.OnPlaybackStart clears Played; UserDataManager.UpdatePlayState at the stop: past
    MaxResumePct played and no position, below MinResumePct no position, between them the position."""
    jellyfin.data(ALICE, jellyfin.matrix)["Played"] = True  # seen before: the new start clears it
    runtime = jellyfin.items[jellyfin.matrix]["RunTimeTicks"]
    jellyfin.play("s1", ALICE, jellyfin.matrix, 1)
    assert jellyfin.data(ALICE, jellyfin.matrix)["Played"] is False
    jellyfin.progress("s1", runtime * percent / 100 / TICKS)
    jellyfin.stop("s1")
    data = jellyfin.data(ALICE, jellyfin.matrix)
    assert data["Played"] is played and data["PlaybackPositionTicks"] == pytest.approx(runtime * kept / 100, rel=1e-6)


@pytest.mark.parametrize("version", ["10.8.13", "10.10.7"])
def test_only_10_9_and_later_write_a_users_resume_point(version: str) -> None:
    """ItemsController: POST /UserItems/{itemId}/UserData exists from 10.9."""
    with JellyfinStandIn(version) as jf:
        movie = jf.add_movie("The Matrix", {"Tmdb": "603"})
        reply = requests.post(f"{jf.url}/UserItems/{movie}/UserData", params={"userId": ALICE},
                              json={"PlaybackPositionTicks": 10}, headers={"Authorization": KEY_HEADER}, timeout=5)
        assert reply.status_code == (404 if version == "10.8.13" else 200)


# -- the library: GET /Items listings, the libraries, played marks ----------------------------------


def get(jf: JellyfinStandIn, path: str, headers: dict | None = None, **params) -> requests.Response:
    return requests.get(jf.url + path, params=params, headers=headers or {"Authorization": KEY_HEADER}, timeout=5)


def listing(jf: JellyfinStandIn, **params) -> dict:
    reply = get(jf, "/Items", **params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def names(reply: dict) -> list[str]:
    return [i["Name"] for i in reply["Items"]]


@pytest.fixture
def shelf(request):
    """Three movies added in the order C, The B, A (SortNames "c", "b", "a"), in two libraries."""
    with JellyfinStandIn(getattr(request, "param", VERSIONS[-1])) as jf:
        jf.c = jf.add_movie("C", {"Tmdb": "3"})
        jf.b = jf.add_movie("The B", {"Tmdb": "2"}, library="Kids")
        jf.a = jf.add_movie("A", {"Tmdb": "1"})
        yield jf


every_shelf = pytest.mark.parametrize("shelf", VERSIONS, indirect=True)


@every_shelf
def test_paging_counts_the_whole_listing_only_when_asked(shelf) -> None:
    """SqliteItemRepository.GetItems (10.8-10.10), BaseItemRepository.GetItems (10.11): the count of the
    whole listing only with EnableTotalRecordCount and a Limit or StartIndex; else the page's own."""
    movies = {"Recursive": "true", "IncludeItemTypes": "Movie", "SortBy": "DateCreated"}
    first = listing(shelf, **movies, StartIndex=0, Limit=2)
    assert (names(first), first["TotalRecordCount"], first["StartIndex"]) == (["C", "The B"], 3, 0)
    second = listing(shelf, **movies, StartIndex=2, Limit=2, EnableTotalRecordCount="false")
    assert (names(second), second["TotalRecordCount"], second["StartIndex"]) == (["A"], 1, 2)
    assert listing(shelf, **movies)["TotalRecordCount"] == 3  # everything at once: its own count
    nothing = listing(shelf, **movies, Limit=0)
    assert (nothing["Items"], nothing["TotalRecordCount"]) == ([], 3)  # isReturningZeroItems
    assert get(shelf, "/Items", **movies, Limit="ten").status_code == 400  # model binding


@every_shelf
def test_without_sort_by_the_order_is_the_databases(shelf) -> None:
    """10.8-10.10 add no ORDER BY (GetOrderByText); 10.11 orders by SortName (ApplyOrder), which drops
    a leading "The". SortBy=DateCreated is the order the scan found the items in."""
    movies = {"Recursive": "true", "IncludeItemTypes": "Movie"}
    assert names(listing(shelf, **movies, SortBy="DateCreated")) == ["C", "The B", "A"]
    assert names(listing(shelf, **movies, SortBy="SortName", SortOrder="Descending")) == ["C", "The B", "A"]
    # 10.8-10.10: neither the scan's order nor the names' (GROUP BY PresentationUniqueKey, a GUID).
    assert names(listing(shelf, **movies)) == (["A", "The B", "C"] if shelf.version == "10.11.11" else ["The B", "C", "A"])


def test_provider_ids_and_dates_only_when_fields_name_them(shelf) -> None:
    """DtoService: ProviderIds and DateCreated are ItemFields, sent only when asked for."""
    bare = listing(shelf, Ids=shelf.a)["Items"][0]
    assert "ProviderIds" not in bare and "DateCreated" not in bare
    full = listing(shelf, Ids=shelf.a, Fields="ProviderIds,DateCreated")["Items"][0]
    assert full["ProviderIds"] == {"Tmdb": "1"} and full["DateCreated"].endswith("0Z")


@every_shelf
def test_a_users_listing_holds_their_libraries_and_their_user_data(shelf) -> None:
    """AddUserToQuery: without ParentId the user's views; an unknown userId is a 404 from 10.9, and
    10.8 lists without a user (no UserData). With ParentId an API key lists any library."""
    shelf.enabled_folders[BOB] = {"Movies"}
    movies = {"Recursive": "true", "IncludeItemTypes": "Movie", "SortBy": "DateCreated"}
    mine = listing(shelf, **movies, userId=BOB)
    assert names(mine) == ["C", "A"] and all(i["UserData"]["Played"] is False for i in mine["Items"])
    assert "UserData" not in listing(shelf, **movies, userId=BOB, EnableUserData="false")["Items"][0]
    stranger = get(shelf, "/Items", **movies, userId="c" * 32)
    if shelf.version == "10.8.13":
        assert names(stranger.json()) == ["C", "The B", "A"] and "UserData" not in stranger.json()["Items"][0]
    else:
        assert stranger.status_code == 404
    kids = next(f["Id"] for f in get(shelf, "/Library/MediaFolders").json()["Items"] if f["Name"] == "Kids")
    assert names(listing(shelf, **movies, userId=BOB, ParentId=kids)) == ["The B"]
    roots = listing(shelf, userId=BOB)  # not recursive: the user root's children
    assert [(f["Name"], f["Type"]) for f in roots["Items"]] == [("Movies", "CollectionFolder")]


def test_media_folders_are_for_administrators(shelf) -> None:
    """LibraryController.GetMediaFolders: RequiresElevation (an API key is an administrator)."""
    folders = get(shelf, "/Library/MediaFolders").json()["Items"]
    assert [(f["Name"], f["Type"], f["CollectionType"]) for f in folders] == [("Kids", "CollectionFolder", "movies"),
                                                                             ("Movies", "CollectionFolder", "movies")]
    bob = f'MediaBrowser Client="Jellyfin Web", Device="Firefox", DeviceId="web-2", Version="10", Token="{BOB_TOKEN}"'
    assert get(shelf, "/Library/MediaFolders", headers={"Authorization": bob}).status_code == 403


def test_collections_stand_in_for_their_movies_unless_asked_not_to(shelf) -> None:
    """Folder.CollapseBoxSetItems: a listing that may hold movies collapses them into their collection
    when no user is given, or when the server groups movies into collections; false keeps them."""
    shelf.add_boxset("Letters", [shelf.a, shelf.c])
    movies = {"Recursive": "true", "IncludeItemTypes": "Movie", "SortBy": "DateCreated"}
    assert names(listing(shelf, **movies, userId=ALICE)) == ["C", "The B", "A"]
    assert names(listing(shelf, **movies)) == ["The B", "Letters"]  # the collection was made last
    shelf.group_into_collections = True
    assert names(listing(shelf, **movies, userId=ALICE)) == ["The B", "Letters"]
    assert names(listing(shelf, **movies, userId=ALICE, CollapseBoxSetItems="false")) == ["C", "The B", "A"]


def test_missing_episodes_are_virtual_items(shelf) -> None:
    """ExcludeLocationTypes=Virtual sets IsVirtualItem=false (ItemsController.GetItems)."""
    show = shelf.add_series("Show", {"Tvdb": "1"})
    shelf.add_episode(show, 1, 1)
    shelf.add_episode(show, 1, 2, missing=True)
    episodes = {"Recursive": "true", "IncludeItemTypes": "Episode", "SortBy": "DateCreated"}
    assert names(listing(shelf, **episodes)) == ["Episode 1", "Episode 2"]
    assert names(listing(shelf, **episodes, ExcludeLocationTypes="Virtual")) == ["Episode 1"]


def mark(jf: JellyfinStandIn, method: str, item_id: str, legacy: bool, user: str = ALICE, **params) -> requests.Response:
    path = f"/Users/{user}/PlayedItems/{item_id}" if legacy else f"/UserPlayedItems/{item_id}"
    query = params | ({} if legacy else {"userId": user})
    return requests.request(method, jf.url + path, params=query, headers={"Authorization": KEY_HEADER}, timeout=5)


@every_shelf
def test_played_marks_by_version(shelf) -> None:
    """PlaystateController: /UserPlayedItems/{itemId}?userId= from 10.9, whose old
    /Users/{userId}/PlayedItems/{itemId} stays as an obsolete twin; 10.8 has only the old one."""
    new = mark(shelf, "POST", shelf.a, legacy=False)
    if shelf.version == "10.8.13":
        assert new.status_code == 404 and "no stand-in route" in new.text
    else:
        assert new.status_code == 200 and new.json()["Played"] is True
    old = mark(shelf, "POST", shelf.c, legacy=True, datePlayed="2020-05-01T10:00:00.000Z")
    assert old.status_code == 200 and old.json()["LastPlayedDate"] == "2020-05-01T10:00:00.0000000Z"


@every_shelf
def test_a_mark_as_base_item_mark_played_makes_it(shelf) -> None:
    """BaseItem.MarkPlayed: with a date the count goes up by one and the date is that one; the position
    is cleared; without a date 10.8 stamps now and 10.9+ keep the date there was. MarkUnplayed clears
    the count, the position and the date."""
    legacy = shelf.version == "10.8.13"
    data = shelf.data(ALICE, shelf.a)
    data.update(PlayCount=2, PlaybackPositionTicks=5 * TICKS, LastPlayedDate="2019-01-01T00:00:00.0000000Z")
    done = mark(shelf, "POST", shelf.a, legacy, datePlayed="20200501100000").json()  # the legacy form, UTC
    assert (done["PlayCount"], done["PlaybackPositionTicks"], done["Played"]) == (3, 0, True)
    assert done["LastPlayedDate"] == "2020-05-01T10:00:00.0000000Z"
    undated = mark(shelf, "POST", shelf.a, legacy).json()
    assert undated["PlayCount"] == 3
    assert (undated["LastPlayedDate"] == "2020-05-01T10:00:00.0000000Z") is (not legacy)
    cleared = mark(shelf, "DELETE", shelf.a, legacy).json()
    assert (cleared["PlayCount"], cleared["Played"], "LastPlayedDate" in cleared) == (0, False, False)
    assert mark(shelf, "POST", shelf.a, legacy, datePlayed="yesterday").status_code == 400


@every_shelf
def test_marks_of_items_and_users_jellyfin_cannot_find(shelf) -> None:
    """10.8: no item is a NullReferenceException (500), no user an ArgumentNullException (400, via
    ExceptionMiddleware); 10.9+: NotFound for either, and for an item the user may not see."""
    legacy = shelf.version == "10.8.13"
    missing, stranger = mark(shelf, "POST", "d" * 32, legacy), mark(shelf, "POST", shelf.a, legacy, user="c" * 32)
    assert (missing.status_code, stranger.status_code) == ((500, 400) if legacy else (404, 404))
    shelf.enabled_folders[BOB] = {"Movies"}
    assert mark(shelf, "POST", shelf.b, legacy, user=BOB).status_code == (200 if legacy else 404)
