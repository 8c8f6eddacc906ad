"""Kodi JSON-RPC transport: the raw TCP notification socket, and HTTP for requests.

On TCP port 9090 Kodi writes JSON objects back to back with no delimiter, and replies and
notifications interleave in any order (OnPause may come before the PlayPause reply). So bytes go
through an incremental decoder, and replies are matched to their request by id.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from typing import Any, Callable

import requests

Notification = Callable[[str, dict[str, Any]], None]


class RpcError(Exception):
    """Kodi answered with an error object, did not answer in time, or the link is down."""


class JsonStream:
    """Bytes in, whole JSON objects out, however the stream was cut into packets.

    Objects are delimited by brace depth (outside strings); each complete one is then parsed.
    """

    def __init__(self, limit: int = 8 * 1024 * 1024):
        self.limit = limit
        self._buf = bytearray()
        self._pos = 0  # how far the scan has got
        self._depth = 0
        self._in_string = False
        self._escape = False

    def feed(self, data: bytes) -> list[Any]:
        self._buf += data
        out: list[Any] = []
        buf = self._buf
        i = self._pos
        while i < len(buf):
            c = buf[i]
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif c == 0x5C:  # backslash
                    self._escape = True
                elif c == 0x22:  # quote
                    self._in_string = False
            elif c == 0x22:
                self._in_string = True
            elif c in (0x7B, 0x5B):  # { [
                self._depth += 1
            elif c in (0x7D, 0x5D):  # } ]
                self._depth -= 1
                if self._depth == 0:
                    out.append(_parse(bytes(buf[: i + 1])))
                    del buf[: i + 1]
                    i = -1
            elif self._depth == 0 and c not in b" \t\r\n":
                raise ValueError(f"Kodi sent something that is not a JSON object (byte {c!r})")
            i += 1
        self._pos = i
        if len(buf) > self.limit:
            raise ValueError(f"a Kodi message over {self.limit} bytes never ended")
        return out


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"Kodi sent a message that is not JSON: {exc}") from None


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: dict[str, Any] | None = None


class TcpConnection:
    """One TCP connection to Kodi's JSON-RPC port. `serve` reads until the socket closes, handing
    notifications to `on_notification` and replies to the `call` waiting for them."""

    def __init__(self, host: str, port: int, connect_timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.sock.settimeout(None)
        # A Kodi box switched off mid-play never closes its end: keepalive probes find out within
        # about a minute, and the read fails so that the supervisor reconnects.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, option):  # Linux names; other systems keep their defaults
                self.sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self.closed = threading.Event()

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
        if self.closed.is_set():
            raise RpcError(f"{method}: not connected")
        rid = next(self._ids)
        waiter = _Pending()
        with self._lock:
            self._pending[rid] = waiter
        message = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
        try:
            with self._send_lock:
                self.sock.sendall(json.dumps(message).encode())
            if not waiter.done.wait(timeout):
                raise RpcError(f"{method}: no reply within {timeout:g} s")
        except OSError as exc:
            raise RpcError(f"{method}: {exc}") from None
        finally:
            with self._lock:
                self._pending.pop(rid, None)
        return _result(method, waiter.reply)

    def serve(self, on_notification: Notification, stop: threading.Event) -> None:
        stream = JsonStream()
        try:
            while not stop.is_set():
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    if self.closed.is_set():
                        return  # closed on purpose (stop): not a failure
                    raise
                if not data:
                    return
                for message in stream.feed(data):
                    self._dispatch(message, on_notification)
        finally:
            self.close()

    def _dispatch(self, message: Any, on_notification: Notification) -> None:
        if not isinstance(message, dict):
            return
        if "id" in message and ("result" in message or "error" in message):
            with self._lock:
                waiter = self._pending.get(message["id"])
            if waiter is not None:
                waiter.reply = message
                waiter.done.set()
            return
        method, params = message.get("method"), message.get("params")
        if isinstance(method, str) and isinstance(params, dict):
            on_notification(method, params.get("data") if isinstance(params.get("data"), dict) else {})

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self._lock:
            for waiter in self._pending.values():
                waiter.done.set()  # reply None: the caller reports the lost link


class HttpRpc:
    """Requests over Kodi's web server (`/jsonrpc`), with optional basic auth. Used when the TCP
    link is not up, e.g. for resume points at startup."""

    def __init__(self, host: str, port: int, username: str | None = None, password: str | None = None, timeout: float = 10.0):
        self.url = f"http://{host}:{port}/jsonrpc"
        self.auth = (username, password or "") if username else None
        self.timeout = timeout
        self._ids = itertools.count(1)

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        message = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or {}}
        try:
            reply = requests.post(self.url, json=message, auth=self.auth, timeout=timeout or self.timeout)
        except requests.RequestException as exc:
            raise RpcError(f"{method}: {type(exc).__name__}") from None
        if reply.status_code == 401:
            raise RpcError(f"{method}: Kodi refused the web server login (401); check kodi username/password")
        if reply.status_code != 200:
            raise RpcError(f"{method}: HTTP {reply.status_code}")
        try:
            return _result(method, reply.json())
        except ValueError:
            raise RpcError(f"{method}: reply is not JSON") from None


def _result(method: str, reply: Any) -> Any:
    if not isinstance(reply, dict):
        raise RpcError(f"{method}: connection lost before the reply")
    if "error" in reply:
        err = reply["error"]
        message = err.get("message") if isinstance(err, dict) else err
        raise RpcError(f"{method}: Kodi error: {message}")
    return reply.get("result")
