"""The bridge's HTTP endpoint over a real socket: secret, limits, handler failures."""

from __future__ import annotations

import logging

import pytest
import requests

from bridge.http import HttpError, HttpServer

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
    assert r.status_code == 400 and r.json()["error"].startswith("body is not JSON")
    assert requests.post(f"{server.url}/{SECRET}/picky", data=b"x", timeout=5).json() == {"error": "payload.Metadata: missing"}
    assert requests.post(f"{server.url}/{SECRET}/boom", data=b"x", timeout=5).status_code == 500
    assert requests.get(f"{server.url}/open", timeout=5).text == "hello"
    assert requests.get(f"{server.url}/nowhere", timeout=5).status_code == 404


def test_oversized_body_is_refused(server) -> None:
    big = b"x" * (5 * 1024 * 1024)
    r = requests.post(f"{server.url}/{SECRET}/echo", data=big, timeout=10)
    assert r.status_code == 413
