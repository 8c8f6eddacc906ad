"""The Simkl client against the emulator (the judge) and a scripted server for exact misbehaviour."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import ANY

import pytest

from bridge.simkl.client import AuthError, ClientConfig, PermanentError, QuotaError, SimklClient, TransientError
from bridge.simkl.library import library_titles
from tests.conftest import TOKEN, make_client

MATRIX = {"title": "The Matrix", "year": 1999, "ids": {"tmdb": 603}}


class Scripted:
    """A loopback server answering a queue of canned (status, body, headers) replies, recording requests."""

    def __init__(self, replies):
        self.replies, self.seen = list(replies), []
        outer = self

        class H(BaseHTTPRequestHandler):
            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                outer.seen.append((self.command, self.path, dict(self.headers), self.rfile.read(n)))
                status, body, headers = outer.replies.pop(0) if outer.replies else (200, {}, {})
                if status is None:  # drop the connection
                    self.close_connection = True
                    return
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    servers = []

    def make(*replies):
        s = Scripted(replies)
        servers.append(s)
        sleeps: list[float] = []
        client = SimklClient(ClientConfig(base_url=s.url, client_id="cid", post_interval=0, max_retries=2), TOKEN,
                             sleep=sleeps.append, rng=lambda: 1.0)
        return s, client, sleeps

    yield make
    for s in servers:
        s.close()


def test_the_emulator_accepts_what_the_client_sends(emulator, client) -> None:
    reply = client.add_history({"movies": [dict(MATRIX, watched_at="2024-01-01T00:00:00Z")]})
    assert reply["added"]["movies"] == 1
    assert client.scrobble("pause", {"progress": 40, "movie": MATRIX})["action"] == "pause"
    (pb,) = client.get_playback()
    assert client.delete_playback(pb["id"]) is True
    assert client.delete_playback(pb["id"]) is True  # already gone counts as gone
    assert "movies" in client.get_activities()


def test_every_request_identifies_the_app(scripted) -> None:
    server, client, _ = scripted((201, {"added": {}}, {}))
    client.add_history({"movies": [MATRIX]})
    method, path, headers, body = server.seen[0]
    assert path.startswith("/sync/history?") and "client_id=cid" in path and "app-name=simkl-bridge" in path
    # No rewatch session unless asked for one (api.simkl.org/guides/rewatches).
    assert "app-version=" in path and "allow_rewatch" not in path
    assert headers["simkl-api-key"] == "cid" and headers["User-Agent"].startswith("simkl-bridge/")
    assert headers["Authorization"] == f"Bearer {TOKEN}" and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"movies": [MATRIX]}


def test_5xx_then_success_is_retried_with_growing_backoff(scripted) -> None:
    server, client, sleeps = scripted((502, {}, {}), (503, {}, {}), (200, {"ok": 1}, {}))
    assert client.get_activities() == {"ok": 1}
    assert sleeps == [1.0, 2.0]


def test_a_write_is_tried_once_per_call(scripted) -> None:
    """The sender's per-account backoff retries writes; the client adds no requests of its own."""
    server, client, sleeps = scripted((503, {}, {"Retry-After": "9"}), (201, {"ok": 1}, {}))
    with pytest.raises(TransientError) as err:
        client.add_history({"movies": [MATRIX]})
    assert err.value.retry_after == 9.0 and len(server.seen) == 1 and sleeps == []


def test_429_retry_after_is_obeyed(scripted) -> None:
    server, client, sleeps = scripted((429, {"error": "x"}, {"Retry-After": "7"}), (200, [], {}))
    assert client.get_playback() == []
    assert sleeps == [7.0]


def test_transient_failures_surface_after_the_retries(scripted) -> None:
    server, client, sleeps = scripted((None, None, {}), (500, b"oops", {}), (429, {}, {"Retry-After": "30"}))
    with pytest.raises(TransientError) as err:
        client.get_activities()
    assert err.value.retry_after == 30.0 and len(server.seen) == 3


def test_scrobble_lock_collision_waits_and_409_means_already_recorded(scripted) -> None:
    server, client, sleeps = scripted((400, {"error": "RATE_LIMIT"}, {}),
                                      (409, {"watched_at": "2024-01-15T10:30:00.000Z", "expires_at": "2024-01-15T11:30:00.000Z"}, {}))
    with pytest.raises(TransientError) as err:
        client.scrobble("stop", {"progress": 99, "movie": MATRIX})
    assert err.value.retry_after == 5.0 and sleeps == []  # the sender waits the lock out
    reply = client.scrobble("stop", {"progress": 99, "movie": MATRIX})
    assert reply["already_recorded"] is True


def test_401_is_an_auth_error_and_other_4xx_are_permanent(scripted) -> None:
    _, client, _ = scripted((401, {"error": "user_token_failed"}, {}))
    with pytest.raises(AuthError, match="simkl-bridge login"):
        client.get_playback()
    _, client, sleeps = scripted((400, {"error": "wrong_parameter", "code": 400}, {}))
    with pytest.raises(PermanentError) as err:
        client.scrobble("pause", {"progress": 500})
    assert (err.value.status, err.value.error, sleeps) == (400, "wrong_parameter", [])


def test_garbage_success_bodies_are_refused_in_one_line(scripted) -> None:
    _, client, _ = scripted((201, b"<html>", {}), (200, {"not": "a list"}, {}))
    with pytest.raises(PermanentError, match="not a JSON object"):
        client.add_history({"movies": []})
    with pytest.raises(PermanentError, match="expected a list"):
        client.get_playback()


def test_posts_are_paced_to_simkls_limit(emulator) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    client = SimklClient(ClientConfig(base_url=emulator.url, client_id="emulator-client", post_interval=1.0), TOKEN,
                         sleep=sleep, clock=lambda: now[0])
    emulator.post_interval = 0
    for _ in range(3):
        client.add_history({"movies": [MATRIX]})
    assert slept == [1.0, 1.0]


def test_the_token_never_shows(scripted, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    _, client, _ = scripted((None, None, {}), (None, None, {}), (None, None, {}), (401, {}, {}), (403, {"error": "x"}, {}))
    errors = []
    for call in (client.get_activities, client.get_activities, lambda: client.add_history({})):
        try:
            call()
        except Exception as exc:
            errors.append(f"{exc!s} {exc!r}")
    assert len(errors) == 3
    assert TOKEN not in " ".join(errors) + repr(client) + caplog.text


def test_a_slow_reply_does_not_make_the_next_post_land_too_soon(emulator) -> None:
    # Simkl spaces POSTs by when it receives them; a reply that took long (the server counted the
    # POST late) must not let the next one arrive inside the limit and draw a 429.
    emulator.post_interval = 0.3
    client = SimklClient(ClientConfig(base_url=emulator.url, client_id="emulator-client", post_interval=0.3,
                                      max_retries=0), TOKEN)
    emulator.fault("slow", seconds=0.5)
    for _ in range(3):
        client.add_history({"movies": [MATRIX]})
    assert "POST /sync/history 429" not in emulator.state()["requests"]


def test_a_rewatch_asks_for_a_session_and_nothing_else_does(scripted) -> None:
    server, client, _ = scripted((201, {"added": {}}, {}), (201, {"added": {}}, {}))
    client.add_history({"movies": [MATRIX]}, allow_rewatch=True)
    client.add_history({"movies": [MATRIX]})
    assert ["allow_rewatch=yes" in path for _, path, _, _ in server.seen] == [True, False]


@pytest.mark.parametrize(("status", "error"), [(403, "api_limits"), (412, "limit_exceeded"), (423, "locked")])
def test_api_limits_are_a_long_wait_not_a_refusal(scripted, status, error) -> None:
    """Blueprint status table: 412 is also "Total Requests Limit Exceeded", 403 "denied due to API
    limits"; 423 is locked. None is final, and none is retried within the call."""
    server, client, sleeps = scripted((status, {"error": error}, {"Retry-After": "900"}))
    with pytest.raises(QuotaError) as err:
        client.get_activities()
    assert err.value.retry_after == 900 and len(server.seen) == 1 and sleeps == []


def test_a_wrong_client_id_names_the_config_key_but_one_simkl_took_is_not_wrong(scripted) -> None:
    _, client, _ = scripted((412, {"error": "client_id_failed"}, {}))
    with pytest.raises(PermanentError, match=r"simkl\.client_id"):
        client.get_activities()
    _, client, _ = scripted((200, {}, {}), (412, {"error": "client_id_failed"}, {}))
    client.get_activities()
    with pytest.raises(QuotaError):
        client.get_activities()


def test_no_post_is_sent_while_simkl_blocks_them(emulator) -> None:
    """Simkl's POST throttle grows with every POST during the block: the client sends none before
    the block's Retry-After, however the caller asks."""
    now = [100.0]
    emulator.monotonic = lambda: now[0]
    emulator.post_interval = 1.0
    client = SimklClient(ClientConfig(base_url=emulator.url, client_id="emulator-client", post_interval=0), TOKEN,
                         clock=lambda: now[0])
    client.add_history({"movies": [MATRIX]})
    with pytest.raises(TransientError) as err:
        client.add_history({"movies": [MATRIX]})  # over Simkl's limit: blocked for 1 s
    assert err.value.retry_after == 1
    posts = len(emulator.requests)
    for call in (lambda: client.add_history({"movies": [MATRIX]}), lambda: client.scrobble("pause", {"progress": 5, "movie": MATRIX})):
        with pytest.raises(TransientError, match="not sent"):
            call()
    assert len(emulator.requests) == posts
    assert client.get_playback() == []  # reads go on
    now[0] += 1
    assert client.add_history({"movies": [MATRIX]})["added"]["movies"] == 0
    assert "POST /sync/history 429" in emulator.state()["requests"] and emulator.state()["requests"]["POST /sync/history 429"] == 1


def test_add_to_list_puts_to_on_every_item(emulator, scripted) -> None:
    """The reference page reads `to` per item; the seed page's examples put it at the top: both go."""
    client = make_client(emulator)
    reply = client.add_to_list("plantowatch", {"movies": [MATRIX], "shows": [{"ids": {"tvdb": 81189}}]})
    assert [m["to"] for m in reply["added"]["movies"]] == ["plantowatch"] and reply["added"]["shows"][0]["to"] == "plantowatch"
    server, client, _ = scripted((201, {"added": {}}, {}))
    client.add_to_list("hold", {"shows": [{"ids": {"tvdb": 81189}}]})
    assert json.loads(server.seen[0][3]) == {"to": "hold", "shows": [{"ids": {"tvdb": 81189}, "to": "hold"}]}


def test_an_empty_library_is_an_empty_mapping_whether_null_or_empty(emulator, scripted) -> None:
    assert make_client(emulator).get_all_items("movies", date_from="2024-01-01T00:00:00Z") == {}
    server, client, _ = scripted((200, None, {}), (200, {}, {}), (200, [1], {}))
    assert client.get_all_items() == {} and client.get_all_items("shows", "watching") == {}
    assert server.seen[1][1].startswith("/sync/all-items/shows/watching?")
    with pytest.raises(PermanentError, match="expected an object"):
        client.get_all_items()


def test_ratings_are_set_read_and_cleared(emulator) -> None:
    client = make_client(emulator)
    reply = client.add_ratings({"movies": [{**MATRIX, "rating": 9, "rated_at": "2015-03-15T15:30:11Z"}],
                                "anime": [{"ids": {"anidb": 9541}, "rating": 10}]})
    assert (reply["added"]["movies"], reply["added"]["shows"]) == (1, 1)  # anime counted among the shows
    (matrix,) = library_titles(client.get_ratings("movies"))
    assert (matrix.title, matrix.rating, matrix.rated_at, matrix.item.ids.tmdb) == ("The Matrix", 9, 1426433411.0, 603)
    assert client.get_ratings("movies", "1,2,3") == {}  # none of those values: Simkl's null
    assert [t.rating for t in library_titles(client.get_ratings("anime", "10"))] == [10]
    assert client.remove_ratings({"movies": [MATRIX]})["deleted"]["movies"] == 1
    assert client.get_ratings("movies") == {}
    assert emulator.state()["users"]["alice"]["ratings"] == {"39687": {"rating": 10, "rated_at": ANY}}


def test_a_ratings_read_names_its_type_and_values_in_the_path(scripted) -> None:
    server, client, _ = scripted((200, None, {}), (200, ["x"], {}))
    assert client.get_ratings("shows", "8,9,10", date_from="2024-01-01T00:00:00Z") == {}
    path = server.seen[0][1]
    assert path.startswith("/sync/ratings/shows/8,9,10?") and "date_from=2024-01-01T00%3A00%3A00Z" in path
    with pytest.raises(PermanentError, match="expected an object"):
        client.get_ratings("movies")


def test_a_history_removal_unmarks_exactly_the_episode_named(emulator) -> None:
    client = make_client(emulator)
    show = {"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 1}, {"number": 2}]}]}
    client.add_history({"shows": [show]})
    reply = client.remove_history({"shows": [{"ids": {"tvdb": 81189}, "seasons": [{"number": 1, "episodes": [{"number": 2}]}]}]})
    assert reply["deleted"]["episodes"] == 1
    assert [w["label"] for w in emulator.state()["users"]["alice"]["watches"]] == ["S01E01"]
