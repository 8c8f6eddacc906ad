"""A scripted Kodi for what a real one cannot be made to do (a video player that is not player 1,
garbage replies, a dropped link): a TCP JSON-RPC stand-in on 127.0.0.1, and the adapter driven by it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from bridge.adapters.kodi import KodiAdapter
from bridge.backoff import Backoff
from bridge.config import KodiHost
from bridge.events import PlayEvent
from tests.adapters.kodi.real import eventually


class FakeKodi:
    """Accepts TCP clients on 127.0.0.1, one at a time, and hands each request it reads to `answer`,
    which returns the raw bytes to write back (replies, notifications, in whatever order it likes)."""

    def __init__(self, answer: Callable[[dict[str, Any]], bytes]):
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.client: socket.socket | None = None
        self.connections = 0
        self.requests: list[dict[str, Any]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            while True:
                self.client, _ = self.listener.accept()
                self.connections += 1
                self._talk(self.client)
        except OSError:
            pass  # closed by the test

    def _talk(self, client: socket.socket) -> None:
        decoder, buf = json.JSONDecoder(), ""
        try:
            while data := client.recv(65536):
                buf += data.decode()
                while buf:
                    try:
                        request, end = decoder.raw_decode(buf)
                    except json.JSONDecodeError:
                        break  # the rest of this request is still on its way
                    buf = buf[end:]
                    self.requests.append(request)
                    client.sendall(self.answer(request))
        except OSError:
            pass  # dropped by the test or by the client

    def drop(self) -> None:
        """The link goes away (Kodi itself carries on)."""
        client, self.client = self.client, None
        if client is not None:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client left first
            client.close()

    def close(self) -> None:
        self.drop()
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self.listener.close()


def notification(method: str, **data: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": {"data": data, "sender": "xbmc"}}).encode()


def reply(request: dict[str, Any], result: Any) -> bytes:
    return json.dumps({"id": request["id"], "jsonrpc": "2.0", "result": result}).encode()



MOVIE = {"id": 1, "type": "movie", "title": "The Matrix", "year": 1999, "file": "/m/The.Matrix.1999.mp4",
         "imdbnumber": "603", "uniqueid": {"tmdb": "603", "imdb": "tt0133093"}, "runtime": 8160, "season": -1, "episode": -1,
         "tvshowid": -1}


def kodi_time(s: float) -> dict[str, int]:
    return {"hours": int(s // 3600), "minutes": int(s % 3600 // 60), "seconds": int(s % 60), "milliseconds": 0}


def failure(request: dict[str, Any]) -> bytes:
    return json.dumps({"id": request["id"], "jsonrpc": "2.0", "error": {"code": -32100, "message": "Failed to execute method."}}).encode()


class ScriptedKodi:
    """Answers the adapter's requests from a little state; the video player has id `playerid`."""

    def __init__(self, playerid: int = 1, item: Any = MOVIE):
        self.playerid, self.item = playerid, item
        self.position, self.speed, self.active = 600.0, 1, False
        self.answered: list[str] = []
        # Library requests: method -> params -> result, or None for a Kodi error.
        self.library: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self.fake = FakeKodi(self.answer)

    def answer(self, request: dict[str, Any]) -> bytes:
        method, params = request["method"], request.get("params") or {}
        if method in self.library:
            result = self.library[method](params)
            return failure(request) if result is None else reply(request, result)
        self.answered.append(method)
        if method == "Player.GetActivePlayers":
            players = [{"playerid": self.playerid, "playertype": "internal", "type": "video"}] if self.active else []
            return reply(request, players) + (self.on_avstart() if self.active and self.answered.count(method) == 1 else b"")
        if params.get("playerid", self.playerid) != self.playerid:
            return failure(request)
        if method == "Player.GetItem":
            return reply(request, {"item": self.item})
        if method == "Player.GetProperties":
            return reply(request, {"time": kodi_time(self.position), "totaltime": kodi_time(8160), "speed": self.speed})
        return reply(request, "OK")

    def on_avstart(self) -> bytes:
        return notification("Player.OnAVStart", item={"id": 1, "type": "movie"}, player={"playerid": self.playerid, "speed": 1})

    def start(self) -> None:
        self.active = True
        self.notify("Player.OnAVStart", item={"id": 1, "type": "movie"}, player={"playerid": self.playerid, "speed": 1})

    def notify(self, method: str, **data: Any) -> None:
        eventually(lambda: self.fake.client is not None, "the adapter to connect")
        assert self.fake.client is not None
        self.fake.client.sendall(notification(method, **data))

    def host(self, name: str = "lr") -> KodiHost:
        return KodiHost(name=name, port=self.fake.port, http_port=None, user="alice")


@pytest.fixture
def scripted():
    made: list[tuple[ScriptedKodi, KodiAdapter]] = []

    def make(playing: bool = False, heartbeat: float = 30.0, **kw) -> tuple[ScriptedKodi, KodiAdapter, list[PlayEvent]]:
        kodi = ScriptedKodi(**kw)
        kodi.active = playing
        adapter = KodiAdapter(kodi.host(), backoff=Backoff(0.05, 0.2), heartbeat=heartbeat)
        events: list[PlayEvent] = []
        adapter.start(events.append)
        made.append((kodi, adapter))
        eventually(lambda: "Player.GetActivePlayers" in kodi.answered, "the adapter to look at what Kodi plays")
        return kodi, adapter, events

    yield make
    for kodi, adapter in made:
        adapter.stop()
        kodi.fake.close()
