"""The HTTP server's connections as a client on the LAN can use them: stalled, slow, half-closed and
surplus connections cannot hold a thread; methods, framing and encodings are refused with a JSON
reason; a client that goes away is a debug line. Raw sockets say exactly what is sent and when."""

from __future__ import annotations

import json
import logging
import select
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from bridge.http import HttpServer
from tests.conftest import eventually

SECRET = "s3cret-s3cret-s3cret"


@contextmanager
def serving(**kw) -> Iterator[HttpServer]:
    srv = HttpServer("127.0.0.1", 0, SECRET, **kw)
    srv.seen = []
    srv.release = threading.Event()

    def echo(req):
        srv.seen.append(req.json())
        return 200, {"ok": True}

    def slow(req):
        srv.release.wait(10)
        return 200, "x" * 4_000_000

    srv.add_route("POST", "/echo", echo)
    srv.add_route("GET", "/open", lambda req: (200, {"hello": "world"}), secret=False)
    srv.add_route("GET", "/slow", slow, secret=False)
    srv.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.stop()


def connect(srv: HttpServer) -> socket.socket:
    host, port = srv.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def reply(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One whole reply, read until the server closes or its Content-Length is in."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed without a reply, after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", 0)):
        body += sock.recv(65536)
    return int(status_line.split()[1]), headers, body


def closed(sock: socket.socket) -> bool:
    """Whether the server has closed its side (what is left unread is read first)."""
    try:
        while chunk := sock.recv(65536):
            del chunk
    except ConnectionResetError:
        pass
    return True


def post(path: str, body: bytes, *, length: int | None = None, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Bridge-Secret: {SECRET}\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n{extra}\r\n").encode() + body


def test_a_body_shorter_than_its_length_is_answered_408_and_its_thread_freed() -> None:
    with serving(read_timeout=0.3) as srv:
        sock = connect(srv)
        sock.sendall(post("/echo", b'{"a": 1', length=100))  # 7 of 100 bytes, and then nothing
        status, _, body = reply(sock)
        assert status == 408 and json.loads(body) == {"error": "the request did not arrive within 0.3 s"}
        assert closed(sock)
        eventually(lambda: srv.serving == 0, "the connection's thread to end")
        assert srv.seen == []


def test_a_request_trickling_in_is_cut_at_its_deadline_however_often_a_byte_comes() -> None:
    with serving(read_timeout=0.3) as srv:
        sock = connect(srv)
        sock.sendall(b"GET /open HTTP/1.1\r\n")
        for _ in range(1000):  # a byte every 10 ms for up to 10 s: each byte alone would reset a per-read timeout
            if select.select([sock], [], [], 0.01)[0]:
                break
            sock.sendall(b"X")
        status, _, body = reply(sock)
        assert status == 408 and "did not arrive within 0.3 s" in json.loads(body)["error"]


def test_a_half_closed_request_is_not_taken_for_a_whole_one() -> None:
    with serving() as srv:
        sock = connect(srv)
        sock.sendall(post("/echo", b'{"a": 1}', length=100))
        sock.shutdown(socket.SHUT_WR)  # the client is done sending: 8 bytes of 100
        status, _, body = reply(sock)
        assert status == 400 and json.loads(body) == {"error": "the body ended after 8 of 100 bytes"}
        assert srv.seen == []


def test_a_kept_alive_connection_idle_too_long_is_closed() -> None:
    with serving(keep_alive=True, idle_timeout=0.2) as srv:
        sock = connect(srv)
        sock.sendall(post("/echo", b'{"a": 1}'))
        status, headers, _ = reply(sock)
        assert status == 200 and headers.get("connection") != "close"
        assert closed(sock)  # nothing more was sent: the server ends the connection
        eventually(lambda: srv.serving == 0, "the idle connection's thread to end")


def test_connections_past_the_bound_are_answered_503_without_a_thread(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.http")
    threads = threading.active_count()
    with serving(max_connections=64, read_timeout=30) as srv:
        socks = [connect(srv) for _ in range(200)]  # connected, and never a byte sent
        eventually(lambda: srv.serving + srv.refused == 200, "every connection to be taken or refused")
        assert (srv.serving, srv.refused) == (64, 136)
        assert threading.active_count() <= threads + 1 + 64  # the serving loop and one thread each
        busy = [s for s in socks if select.select([s], [], [], 0)[0]]
        status, headers, body = reply(busy[0])
        assert status == 503 and headers["retry-after"] == "1"
        assert json.loads(body) == {"error": "too many connections at once; try again shortly"}
        assert len([r for r in caplog.records if "refused (503" in r.getMessage()]) == 2  # the 1st and the 101st
        for s in socks:
            s.close()
        eventually(lambda: srv.serving == 0, "the held connections to end")
        assert requests.get(f"{srv.url}/open", timeout=5).json() == {"hello": "world"}


def test_other_methods_of_a_known_path_get_405_and_head_is_answered_where_get_is() -> None:
    with serving() as srv:
        for method in ("PUT", "DELETE", "OPTIONS", "PATCH", "BREW"):
            r = requests.request(method, f"{srv.url}/open", timeout=5)
            assert (r.status_code, r.headers["Allow"]) == (405, "GET, HEAD"), method
            assert r.json() == {"error": f"{method} is not allowed here (allowed: GET, HEAD)"}
        head = requests.head(f"{srv.url}/open", timeout=5)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["Content-Length"] == str(len(json.dumps({"hello": "world"})))
        assert requests.get(f"{srv.url}/{SECRET}/echo", timeout=5).status_code == 405  # the secret's path form too
        nowhere = requests.delete(f"{srv.url}/nowhere", timeout=5)
        assert nowhere.status_code == 404 and nowhere.json() == {"error": "no such route"}


@pytest.mark.parametrize(("extra", "length", "status", "error"), [
    ("Content-Length: 8\r\n", None, 400, "more than one Content-Length"),
    ("Content-Length: 0\r\n", None, 400, "more than one Content-Length"),
    ("", "\u00b2", 400, "Content-Length '\u00b2' is not a number of bytes"),  # "²".isdigit(), yet no number
    ("", "+8", 400, "Content-Length '+8' is not a number of bytes"),
    ("", "8 ", 400, None),
    ("Transfer-Encoding: chunked\r\n", None, 411, "Transfer-Encoding is not accepted: send the body with a Content-Length"),
], ids=["two lengths", "two different lengths", "unicode digit", "signed", "padded", "chunked"])
def test_a_body_whose_extent_is_ambiguous_is_refused(extra, length, status, error) -> None:
    with serving() as srv:
        sock = connect(srv)
        head = f"POST /echo HTTP/1.1\r\nHost: x\r\nX-Bridge-Secret: {SECRET}\r\n"
        head += f"Content-Length: {8 if length is None else length}\r\n{extra}\r\n"
        sock.sendall(head.encode("latin-1") + b'{"a": 1}')
        got, _, body = reply(sock)
        if error is None:  # the space around a value is no part of it: "8 " is 8, as a proxy reads it too
            assert got == 200
        else:
            assert (got, json.loads(body)) == (status, {"error": error})
            assert srv.seen == []


@pytest.mark.parametrize(("body", "error"), [
    ('{"a": 1}'.encode("utf-16"), "body: not UTF-8 text (invalid start byte at byte 0)"),
    ('{"a": 1}'.encode("utf-32-le"), "body: not JSON"),  # valid UTF-8 (ASCII and NULs), but no JSON
    (b"\xef\xbb\xbf{}", "body: not JSON (Unexpected UTF-8 BOM"),
    (b'{"a": NaN}', "body: not JSON (NaN is not a JSON number)"),
    (b'{"a": -Infinity}', "body: not JSON (-Infinity is not a JSON number)"),
    (b"[" * 100_000, "body: JSON nested deeper than 32 levels"),
    (b"[" * 33 + b"]" * 33, "body: JSON nested deeper than 32 levels"),
    (b"1" * 5000, "body: not JSON (an integer of 5000 digits)"),
], ids=["utf-16", "utf-32", "bom", "nan", "infinity", "100000 deep", "33 deep", "5000 digits"])
def test_only_utf8_json_of_bounded_size_and_depth_is_read(body, error) -> None:
    with serving() as srv:
        r = requests.post(f"{srv.url}/{SECRET}/echo", data=body, timeout=5)
        assert r.status_code == 400 and r.json()["error"].startswith(error)
        assert srv.seen == []


def test_the_server_s_own_refusals_are_json() -> None:
    with serving() as srv:
        for raw, status in ((b"GET /open HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", 431), (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
                            (b"GET /open HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400)):
            sock = connect(srv)
            sock.sendall(raw)
            got, headers, body = reply(sock)
            assert got == status and headers["content-type"] == "application/json" and "error" in json.loads(body)


def test_a_client_that_goes_away_is_a_debug_line_not_a_traceback(caplog, capfd) -> None:
    caplog.set_level(logging.DEBUG, logger="bridge.http")
    with serving() as srv:
        sock = connect(srv)
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        eventually(lambda: srv.serving == 1, "the request to be at its handler")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset: the reply has nowhere to go
        srv.release.set()
        eventually(lambda: [r for r in caplog.records if "went away before its reply was sent" in r.getMessage()],
                   "the debug line")
        eventually(lambda: srv.serving == 0, "the thread to end")
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "went away" in r.getMessage())
    assert "Traceback" not in capfd.readouterr().err


def test_slow_connections_do_not_stop_the_server_answering_others() -> None:
    with serving(max_connections=8, read_timeout=30) as srv:
        stalled = [connect(srv) for _ in range(4)]
        for s in stalled:
            s.sendall(post("/echo", b"{", length=50))
        eventually(lambda: srv.serving == 4, "the stalled requests to hold their connections")
        assert requests.post(f"{srv.url}/{SECRET}/echo", json={"b": 2}, timeout=5).json() == {"ok": True}
        for s in stalled:
            s.close()
