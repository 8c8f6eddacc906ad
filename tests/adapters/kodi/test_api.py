"""Kodi JSON-RPC transport: the delimiter-less TCP stream, replies matched by id among
notifications, and HTTP with basic auth. Servers here are tiny local stand-ins on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bridge.adapters.kodi.api import HttpRpc, JsonStream, RpcError, TcpConnection
from tests.adapters.kodi.standin import FakeKodi, notification, reply

# What Kodi 20 wrote on 9090 (shared/kodi-headless.md §6), plus strings that fool naive framing.
MESSAGES = [
    {"id": 8, "jsonrpc": "2.0", "result": "OK"},
    {"jsonrpc": "2.0", "method": "Player.OnPlay", "params": {"data": {"item": {"title": "direct.mp4", "type": "movie"},
                                                                      "player": {"playerid": 1, "speed": 1}}, "sender": "xbmc"}},
    {"id": 10, "jsonrpc": "2.0", "result": {"item": {"label": "a {curly} \"quoted\" \\ title}}", "title": "[x]", "type": "unknown"}}},
    {"id": 9, "jsonrpc": "2.0", "result": [{"playerid": 1, "playertype": "internal", "type": "video"}]},
    {"id": 11, "jsonrpc": "2.0", "result": {"label": "naïve – ünïcode"}},
]
WIRE = b"".join(json.dumps(m, ensure_ascii=False, separators=(",", ":")).encode() for m in MESSAGES)


# -- JsonStream -----------------------------------------------------------------------------------


def test_back_to_back_objects_come_out_whole() -> None:
    assert JsonStream().feed(WIRE) == MESSAGES


def test_objects_cut_at_any_byte_come_out_whole_and_in_order() -> None:
    for cut in range(1, len(WIRE)):
        stream = JsonStream()
        assert stream.feed(WIRE[:cut]) + stream.feed(WIRE[cut:]) == MESSAGES, f"cut at byte {cut}"


def test_a_byte_at_a_time() -> None:
    stream = JsonStream()
    out = [m for i in range(len(WIRE)) for m in stream.feed(WIRE[i:i + 1])]
    assert out == MESSAGES


def test_whitespace_between_objects_is_fine() -> None:
    assert JsonStream().feed(b' {"a":1}\r\n\t{"b":"}"} ') == [{"a": 1}, {"b": "}"}]


@pytest.mark.parametrize("garbage, reason", [
    (b"HTTP/1.1 400 Bad Request\r\n", "not a JSON object"),
    (b'{"a": tru}', "not JSON"),
    (b'{"a": "\xff\xfe"}', "not JSON"),
])
def test_garbage_raises_one_line(garbage: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as err:
        JsonStream().feed(garbage)
    assert "\n" not in str(err.value)


def test_a_message_that_never_ends_is_refused() -> None:
    stream = JsonStream(limit=1000)
    with pytest.raises(ValueError, match="over 1000 bytes"):
        stream.feed(b'{"a": "' + b"x" * 2000)


# -- TcpConnection ----------------------------------------------------------------------------------


def serving(conn: TcpConnection) -> tuple[list[tuple[str, dict]], threading.Event]:
    seen: list[tuple[str, dict]] = []
    stop = threading.Event()
    threading.Thread(target=conn.serve, args=(lambda m, d: seen.append((m, d)), stop), daemon=True).start()
    return seen, stop


def test_replies_out_of_order_among_notifications_reach_their_callers() -> None:
    held: list[dict[str, Any]] = []

    def answer(request: dict[str, Any]) -> bytes:
        # Hold the first request; answer the second first, notifications all around, then the first.
        held.append(request)
        if len(held) < 2:
            return notification("Player.OnPlay", player={"playerid": 1, "speed": 1})
        first, second = held
        return (notification("Player.OnPause", player={"playerid": 1, "speed": 0}) + reply(second, {"speed": 0})
                + notification("Player.OnResume", player={"playerid": 1, "speed": 1}) + reply(first, ["first"]))

    kodi = FakeKodi(answer)
    conn = TcpConnection("127.0.0.1", kodi.port)
    seen, stop = serving(conn)
    results: dict[str, Any] = {}
    first = threading.Thread(target=lambda: results.setdefault("first", conn.call("Player.GetActivePlayers")))
    first.start()
    while not kodi.requests:
        threading.Event().wait(0.01)
    results["second"] = conn.call("Player.PlayPause", {"playerid": 1, "play": False})
    first.join(5)
    assert results == {"first": ["first"], "second": {"speed": 0}}
    assert [m for m, _ in seen] == ["Player.OnPlay", "Player.OnPause", "Player.OnResume"]
    assert seen[1][1] == {"player": {"playerid": 1, "speed": 0}}
    assert kodi.requests[1] == {"jsonrpc": "2.0", "id": 2, "method": "Player.PlayPause", "params": {"playerid": 1, "play": False}}
    stop.set()
    conn.close()
    kodi.close()


def test_a_kodi_error_reply_raises_with_kodis_message() -> None:
    kodi = FakeKodi(lambda r: json.dumps({"id": r["id"], "jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid params."}}).encode())
    conn = TcpConnection("127.0.0.1", kodi.port)
    serving(conn)
    with pytest.raises(RpcError, match=r"Player.GetItem: Kodi error: Invalid params\."):
        conn.call("Player.GetItem", {"playerid": 7})
    conn.close()
    kodi.close()


def test_a_silent_kodi_times_out_and_a_dropped_link_fails_the_waiting_call() -> None:
    kodi = FakeKodi(lambda r: b"")
    conn = TcpConnection("127.0.0.1", kodi.port)
    serving(conn)
    with pytest.raises(RpcError, match="no reply within"):
        conn.call("JSONRPC.Ping", timeout=0.2)
    threading.Timer(0.2, kodi.close).start()
    with pytest.raises(RpcError, match="connection lost"):
        conn.call("JSONRPC.Ping", timeout=5)
    assert conn.closed.wait(2)
    with pytest.raises(RpcError, match="not connected"):
        conn.call("JSONRPC.Ping")


def test_garbage_on_the_socket_ends_serve_with_a_clear_reason() -> None:
    kodi = FakeKodi(lambda r: b"<html>not kodi</html>")
    conn = TcpConnection("127.0.0.1", kodi.port)
    failed: list[Exception] = []

    def run() -> None:
        try:
            conn.serve(lambda m, d: None, threading.Event())
        except ValueError as exc:
            failed.append(exc)

    reader = threading.Thread(target=run)
    reader.start()
    with pytest.raises(RpcError):
        conn.call("JSONRPC.Ping", timeout=5)
    reader.join(5)
    assert len(failed) == 1 and "not a JSON object" in str(failed[0]) and conn.closed.is_set()
    kodi.close()


# -- HttpRpc ----------------------------------------------------------------------------------------


@pytest.fixture
def kodi_web():
    """Kodi's web server: /jsonrpc behind basic auth kodi:secret."""
    calls: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            expected = "Basic " + base64.b64encode(b"kodi:secret").decode()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append(body)
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="XBMC"')
                self.end_headers()
                return
            if body["method"] == "Bad.Method":
                out = {"id": body["id"], "jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found."}}
            else:
                out = {"id": body["id"], "jsonrpc": "2.0", "result": "pong"}
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server.server_address[1], calls
    server.shutdown()
    server.server_close()


def test_http_requests_carry_the_configured_login(kodi_web) -> None:
    port, calls = kodi_web
    assert HttpRpc("127.0.0.1", port, "kodi", "secret").call("JSONRPC.Ping") == "pong"
    assert calls[-1]["method"] == "JSONRPC.Ping" and calls[-1]["jsonrpc"] == "2.0"


@pytest.mark.parametrize("username, password", [("kodi", "wrong"), (None, None)])
def test_a_refused_login_says_so_in_one_line(kodi_web, username, password) -> None:
    port, _ = kodi_web
    with pytest.raises(RpcError) as err:
        HttpRpc("127.0.0.1", port, username, password).call("JSONRPC.Ping")
    message = str(err.value)
    assert "401" in message and "username/password" in message and "\n" not in message
    assert "wrong" not in message  # the password is never echoed


def test_http_error_replies_and_unreachable_kodi(kodi_web) -> None:
    port, _ = kodi_web
    with pytest.raises(RpcError, match=r"Bad\.Method: Kodi error: Method not found"):
        HttpRpc("127.0.0.1", port, "kodi", "secret").call("Bad.Method")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(RpcError, match=r"JSONRPC\.Ping: ConnectionError"):
        HttpRpc("127.0.0.1", closed_port, timeout=2).call("JSONRPC.Ping")
