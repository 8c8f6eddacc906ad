"""The shared HTTP server over a real socket: secret, limits, handler failures, and what the
emulator needs of it (path parameters, reply headers, hang-ups, kept-alive connections)."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import pytest
import requests

from bridge.http import Hangup, HttpError, HttpServer, Response

SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture
def server():
    srv = HttpServer("127.0.0.1", 0, SECRET)
    seen: list = []

    def echo(req):
        seen.append(req.json())
        return 200, {"ok": True}

    def boom(req):
        raise RuntimeError("handler bug")

    def picky(req):
        raise HttpError(422, "payload.Metadata: missing")

    srv.add_route("POST", "/echo", echo)
    srv.add_route("POST", "/boom", boom)
    srv.add_route("POST", "/picky", picky)
    srv.add_route("GET", "/open", lambda req: (200, "hello"), secret=False)
    srv.start()
    srv.seen = seen
    yield srv
    srv.stop()


def test_secret_in_path_query_or_header(server) -> None:
    assert requests.post(f"{server.url}/{SECRET}/echo", json={"a": 1}, timeout=5).status_code == 200
    assert requests.post(f"{server.url}/echo?secret={SECRET}", json={"a": 2}, timeout=5).status_code == 200
    assert requests.post(f"{server.url}/echo", json={"a": 3}, headers={"X-Bridge-Secret": SECRET}, timeout=5).status_code == 200
    assert server.seen == [{"a": 1}, {"a": 2}, {"a": 3}]


def test_wrong_or_missing_secret_is_refused_and_not_logged(server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    assert requests.post(f"{server.url}/wrong-secret/echo", json={}, timeout=5).status_code == 403
    assert requests.post(f"{server.url}/echo", json={}, timeout=5).status_code == 403
    assert server.seen == []
    ok = requests.post(f"{server.url}/{SECRET}/echo", json={}, timeout=5)
    assert ok.status_code == 200
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bridge"))
    assert "refused, missing or wrong secret" in ours
    assert SECRET not in ours and "wrong-secret" not in ours


def test_bad_input_gets_a_one_line_reason_and_the_server_keeps_going(server) -> None:
    r = requests.post(f"{server.url}/{SECRET}/echo", data=b"{not json", timeout=5)
    assert r.status_code == 400 and r.json()["error"].startswith("body: not JSON")
    assert requests.post(f"{server.url}/{SECRET}/picky", data=b"x", timeout=5).json() == {"error": "payload.Metadata: missing"}
    assert requests.post(f"{server.url}/{SECRET}/boom", data=b"x", timeout=5).status_code == 500
    assert requests.get(f"{server.url}/open", timeout=5).text == "hello"
    assert requests.get(f"{server.url}/nowhere", timeout=5).status_code == 404


def test_oversized_body_is_refused(server) -> None:
    big = b"x" * (5 * 1024 * 1024)
    r = requests.post(f"{server.url}/{SECRET}/echo", data=big, timeout=10)
    assert r.status_code == 413


@contextmanager
def serving(routes, **kw):
    srv = HttpServer("127.0.0.1", 0, SECRET, **kw)
    for method, path, handler in routes:
        srv.add_route(method, path, handler, secret=False)
    srv.start()
    try:
        yield srv.url
    finally:
        srv.stop()


def hang_up(req):
    raise Hangup


def test_paths_with_parameters_exact_paths_first() -> None:
    routes = [("GET", "/items/{id}", lambda req: (200, {"id": req.params["id"], "q": req.query.get("q")})),
              ("GET", "/items/new", lambda req: (200, "the new one")),
              ("GET", "/pins/{code}/{step}", lambda req: (200, req.params))]
    with serving(routes) as url:
        assert requests.get(f"{url}/items/42?q=x", timeout=5).json() == {"id": "42", "q": ["x"]}
        assert requests.get(f"{url}/items/new", timeout=5).text == "the new one"
        assert requests.get(f"{url}/items/42/", timeout=5).json()["id"] == "42"  # a trailing slash is the same path
        assert requests.get(f"{url}/pins/AB12C/poll", timeout=5).json() == {"code": "AB12C", "step": "poll"}
        assert requests.get(f"{url}/items/4/2", timeout=5).status_code == 404  # a parameter is one segment


def test_an_open_route_is_only_at_its_own_path(server) -> None:
    # The leading-segment form is the secret's; it does not make an open route answer elsewhere.
    assert requests.get(f"{server.url}/{SECRET}/open", timeout=5).status_code == 404
    assert requests.get(f"{server.url}/anything/open", timeout=5).status_code == 404


def test_replies_carry_their_headers_and_a_204_has_no_body() -> None:
    routes = [("GET", "/busy", lambda req: Response(429, {"error": "slow down"}, {"Retry-After": "7"})),
              ("DELETE", "/items/{id}", lambda req: Response(204))]
    with serving(routes) as url:
        busy = requests.get(f"{url}/busy", timeout=5)
        assert (busy.status_code, busy.headers["Retry-After"], busy.json()) == (429, "7", {"error": "slow down"})
        gone = requests.delete(f"{url}/items/1", timeout=5)
        assert gone.status_code == 204 and gone.content == b"" and "Content-Type" not in gone.headers


def test_a_handler_can_hang_up_without_a_reply() -> None:
    with serving([("GET", "/hangup", hang_up), ("GET", "/ok", lambda req: (200, "ok"))]) as url:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/hangup", timeout=5)
        assert requests.get(f"{url}/ok", timeout=5).text == "ok"


def test_keep_alive_only_once_the_body_is_read() -> None:
    routes = [("POST", "/read", lambda req: (200, len(req.body()))), ("POST", "/unread", lambda req: (200, "ignored"))]
    with serving(routes, keep_alive=True) as url, requests.Session() as session:
        assert session.post(f"{url}/read", data=b"abc", timeout=5).headers.get("Connection") != "close"
        assert session.post(f"{url}/unread", data=b"abc", timeout=5).headers["Connection"] == "close"
        assert session.post(f"{url}/read", data=b"abcd", timeout=5).json() == 4
    with serving(routes) as url:  # the bridge's endpoint: every connection closes after its reply
        assert requests.post(f"{url}/read", data=b"abc", timeout=5).headers["Connection"] == "close"


def test_a_fallback_and_an_error_shape_of_the_server_s_own() -> None:
    def boom(req):
        raise RuntimeError("handler bug")

    routes = [("GET", "/boom", boom)]
    with serving(routes, fallback=lambda req: (404, {"wrong": req.path}),
                 error_body=lambda status, reason: {"code": status, "message": reason}) as url:
        assert requests.get(f"{url}/nowhere/at/all", timeout=5).json() == {"wrong": "/nowhere/at/all"}
        boomed = requests.get(f"{url}/boom", timeout=5)
        assert boomed.status_code == 500 and boomed.json() == {"code": 500, "message": "internal error"}
