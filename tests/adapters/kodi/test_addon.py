"""The Kodi addon (plugins/kodi/service.simkl.bridge) against a real bridge and the Simkl emulator.

Kodi's own modules (`xbmc`, `xbmcaddon`, `xbmcvfs`) are small stand-ins holding what a player and a
video library would say; everything else is the addon's real code: the player callbacks, the disk
queue in the profile folder, the urllib sender and the service loop, posting to the bridge's real
`POST /event` on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRET, watches

ROOT = Path(__file__).resolve().parents[3]
ADDON = ROOT / "plugins" / "kodi" / "service.simkl.bridge"
PROFILE = "special://profile/addon_data/service.simkl.bridge/"


@dataclass
class Tag:
    """What `Player.getVideoInfoTag()` holds for the playing item."""

    media: str = ""
    dbid: int = -1
    uniqueids: dict[str, str] = field(default_factory=dict)
    imdbnumber: str = ""
    title: str = ""
    year: int = 0
    file: str = ""

    def getMediaType(self) -> str:
        return self.media

    def getDbId(self) -> int:
        return self.dbid

    def getUniqueID(self, provider: str) -> str:
        return self.uniqueids.get(provider, "")

    def getIMDBNumber(self) -> str:
        return self.imdbnumber

    def getTitle(self) -> str:
        return self.title

    def getYear(self) -> int:
        return self.year

    def getFile(self) -> str:
        # Seen in Kodi 20: the tag of a file outside the library has no file name.
        return self.file if self.dbid > 0 else ""


MATRIX = Tag("movie", 1, {"tmdb": "603", "imdb": "tt0133093"}, "603", "The Matrix", 1999, "/movies/The.Matrix.mkv")
# A junk id as scrapers sometimes leave them: the bridge answers 400 to it, so the addon drops it.
INCEPTION = Tag("movie", 2, {"tmdb": "27205", "tvdb": "n/a"}, "tt1375666", "Inception", 2010, "/movies/Inception.mkv")
LOOSE = Tag("", -1, {}, "", "", 0, "/downloads/some.video.mkv")
# Breaking Bad S01E02 and S01E03 stored in one file; the tags carry the episode's own ids.
DOUBLE = "/tv/Breaking Bad/S01E02-E03.mkv"
EPISODE = Tag("episode", 11, {"tvdb": "349232", "tmdb": "62086"}, "349232", "Cat's in the Bag...", 1970, DOUBLE)
LIBRARY = {
    "tvshows": {5: {"tvshowid": 5, "title": "Breaking Bad", "year": 2008, "imdbnumber": "81189",
                    "uniqueid": {"tvdb": "81189", "tmdb": "1396", "imdb": "tt0903747"}}},
    "episodes": {11: {"episodeid": 11, "tvshowid": 5, "season": 1, "episode": 2, "file": DOUBLE},
                 12: {"episodeid": 12, "tvshowid": 5, "season": 1, "episode": 3, "file": DOUBLE},
                 13: {"episodeid": 13, "tvshowid": 5, "season": 1, "episode": 4, "file": "/tv/Breaking Bad/S01E04.mkv"}},
}


class Kodi:
    """The state behind the stand-in modules: what plays, where, the settings, the library."""

    def __init__(self, profile: Path):
        self.profile = profile
        self.tag: Tag | None = None
        self.time = 0.0
        self.total = 0.0
        self.settings = {"bridge_url": "", "secret": SECRET, "user": "alice", "server": "living-room"}
        self.abort = threading.Event()
        self.log: list[tuple[int, str]] = []
        self.reads = 0  # position reads (getTime/getTotalTime)

    def play(self, tag: Tag, total: float) -> None:
        self.tag, self.time, self.total = tag, 0.0, total

    def jsonrpc(self, request: str) -> str:
        call = json.loads(request)
        method, params = call["method"], call["params"]
        if method == "VideoLibrary.GetEpisodeDetails" and params["episodeid"] in LIBRARY["episodes"]:
            result: Any = {"episodedetails": LIBRARY["episodes"][params["episodeid"]]}
        elif method == "VideoLibrary.GetTVShowDetails" and params["tvshowid"] in LIBRARY["tvshows"]:
            result = {"tvshowdetails": LIBRARY["tvshows"][params["tvshowid"]]}
        elif method == "VideoLibrary.GetEpisodes":
            result = {"episodes": [e for e in LIBRARY["episodes"].values()
                                   if e["tvshowid"] == params["tvshowid"] and e["season"] == params["season"]]}
        else:
            return json.dumps({"id": 1, "jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid params."}})
        return json.dumps({"id": 1, "jsonrpc": "2.0", "result": result})

    def modules(self) -> dict[str, types.ModuleType]:
        kodi = self

        class Player:
            def isPlayingVideo(self) -> bool:
                return kodi.tag is not None

            def getPlayingFile(self) -> str:
                assert kodi.tag is not None
                return kodi.tag.file

            def getVideoInfoTag(self) -> Tag:
                assert kodi.tag is not None
                return kodi.tag

            def getTime(self) -> float:
                kodi.reads += 1
                if kodi.tag is None:
                    raise RuntimeError("Kodi is not playing any media file")
                return kodi.time

            def getTotalTime(self) -> float:
                kodi.reads += 1
                if kodi.tag is None:
                    raise RuntimeError("Kodi is not playing any media file")
                return kodi.total

        class Monitor:
            def abortRequested(self) -> bool:
                return kodi.abort.is_set()

            def waitForAbort(self, timeout: float) -> bool:
                return kodi.abort.wait(min(timeout, 0.02))

        class Addon:
            def __init__(self, addon_id: str = "") -> None:
                self.values = dict(kodi.settings)  # like Kodi's, a snapshot of the settings

            def getSetting(self, name: str) -> str:
                return self.values.get(name, "")

            def getAddonInfo(self, name: str) -> str:
                return {"profile": PROFILE, "id": "service.simkl.bridge"}[name]

        xbmc = types.ModuleType("xbmc")
        xbmc.Player, xbmc.Monitor = Player, Monitor
        xbmc.executeJSONRPC = kodi.jsonrpc
        xbmc.log = lambda msg, level=0: kodi.log.append((level, msg))
        xbmc.LOGDEBUG, xbmc.LOGINFO, xbmc.LOGWARNING, xbmc.LOGERROR = 0, 1, 2, 3
        xbmcaddon = types.ModuleType("xbmcaddon")
        xbmcaddon.Addon = Addon
        xbmcvfs = types.ModuleType("xbmcvfs")
        xbmcvfs.translatePath = lambda path: path.replace("special://profile/", f"{kodi.profile}/")
        xbmcvfs.mkdirs = lambda path: Path(path).mkdir(parents=True, exist_ok=True) or True
        return {"xbmc": xbmc, "xbmcaddon": xbmcaddon, "xbmcvfs": xbmcvfs}


@pytest.fixture
def kodi(tmp_path, monkeypatch):
    state = Kodi(tmp_path / "kodi-profile")
    for name, module in state.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.syspath_prepend(str(ADDON / "resources" / "lib"))
    # The addon's modules bind the stand-ins at import: import them afresh for every test.
    for name in [n for n in sys.modules if n == "kodibridge" or n.startswith("kodibridge.")]:
        monkeypatch.delitem(sys.modules, name)
    yield state
    state.abort.set()
    for name in [n for n in sys.modules if n == "kodibridge" or n.startswith("kodibridge.")]:
        del sys.modules[name]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def service(kodi: Kodi, url: str = "", clock: Clock | None = None):
    """The addon's Service as Kodi would start it, pointed at `url`."""
    from kodibridge.service import Service

    if url:
        kodi.settings["bridge_url"] = url
    svc = Service()
    if clock is not None:
        svc.sender.clock = clock
    return svc


def received(bridge) -> list[dict[str, Any]]:
    """Record what reaches the bridge's sink (the engine's input), in arrival order."""
    seen: list[dict[str, Any]] = []
    sink = bridge.sink

    def recording(event):
        seen.append({"session": event.session, "state": event.state.value, "title": event.title,
                     "episodes": list(event.episodes), "position": event.position})
        sink(event)

    bridge.sink = recording
    return seen


def play_to_end(svc, kodi: Kodi, tag: Tag, total: float = 100.0) -> None:
    kodi.play(tag, total)
    svc.player.onAVStarted()
    kodi.time = total - 1
    svc.player.tick()
    kodi.tag = None
    svc.player.onPlayBackEnded()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- through the real Kodi service loop -----------------------------------------------------------


def test_a_movie_played_to_the_end_is_one_history_entry(kodi, emulator, bridge_for) -> None:
    bridge = bridge_for()
    bridge.http.start()
    svc = service(kodi, bridge.http.url)
    loop = threading.Thread(target=svc.run, daemon=True)
    loop.start()
    kodi.play(MATRIX, 120.0)
    svc.player.onAVStarted()
    kodi.time = 60.0
    deadline = time.monotonic() + 5
    while svc.playback.play.position != 60.0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the service loop reads the position while it plays
    kodi.tag = None
    svc.player.onPlayBackEnded()
    deadline = time.monotonic() + 5
    while len(svc.queue) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(svc.queue) == 0, "the sender thread did not deliver"
    bridge.flush()
    (watch,) = watches(emulator)
    assert (watch["title"], watch["type"], watch["simkl"]) == ("The Matrix", "movie", 53992)
    kodi.abort.set()
    loop.join(timeout=10)
    assert not loop.is_alive()


def test_a_stop_past_the_threshold_uses_the_last_position_read_while_playing(kodi, emulator, bridge_for) -> None:
    bridge = bridge_for()
    bridge.http.start()
    svc = service(kodi, bridge.http.url)
    seen = received(bridge)
    kodi.play(INCEPTION, 100.0)
    svc.player.onAVStarted()
    kodi.time = 91.0
    svc.player.tick()
    kodi.tag = None  # the stop callback comes after the player let go: getTime() would raise
    svc.player.onPlayBackStopped()
    svc.player.onPlayBackStopped()  # Kodi may say it twice; one stop is sent
    svc.sender.drain()
    assert [(e["state"], e["position"]) for e in seen] == [("playing", 0.0), ("stopped", 91.0)]
    bridge.flush()
    assert [w["title"] for w in watches(emulator)] == ["Inception"]


def test_a_pause_becomes_a_simkl_playback(kodi, emulator, bridge_for) -> None:
    bridge = bridge_for()
    bridge.http.start()
    svc = service(kodi, bridge.http.url)
    kodi.play(MATRIX, 200.0)
    svc.player.onAVStarted()
    kodi.time = 80.0
    svc.player.onPlayBackPaused()
    svc.sender.drain()
    bridge.flush()
    (playback,) = emulator.state()["users"]["alice"]["playbacks"]
    assert playback["movie"]["ids"]["tmdb"] == 603 and playback["progress"] == 40.0
    assert watches(emulator) == []


def test_a_loose_file_sends_nothing_and_says_so_once(kodi, emulator, bridge_for, caplog) -> None:
    caplog.set_level(logging.INFO, logger="kodibridge")
    bridge = bridge_for()
    bridge.http.start()
    svc = service(kodi, bridge.http.url)
    for _ in range(2):
        kodi.play(LOOSE, 100.0)
        svc.player.onAVStarted()
        kodi.time = 100.0
        svc.player.tick()
        kodi.tag = None
        svc.player.onPlayBackEnded()
    assert len(svc.queue) == 0
    lines = [r.getMessage() for r in caplog.records if "some.video.mkv" in r.getMessage()]
    assert len(lines) == 1 and "not sent" in lines[0]
    assert kodi.reads == 0  # nothing tracked: the player is left alone
    svc.sender.drain()
    assert emulator.state()["requests"] == {}


def test_a_multi_episode_file_marks_every_episode_in_it(kodi, emulator, bridge_for) -> None:
    bridge = bridge_for()
    bridge.http.start()
    svc = service(kodi, bridge.http.url)
    seen = received(bridge)
    play_to_end(svc, kodi, EPISODE, total=2800.0)
    svc.sender.drain()
    assert seen[-1]["episodes"] == [2, 3] and seen[-1]["title"] == "Breaking Bad"
    bridge.flush()
    marked = sorted((w["title"], w["season"], w["number"]) for w in watches(emulator))
    assert marked == [("Breaking Bad", 1, 2), ("Breaking Bad", 1, 3)]


# -- the queue and the sender ----------------------------------------------------------------------


def test_events_wait_on_disk_while_the_bridge_is_down_and_arrive_once_in_order(kodi, emulator, bridge_for, caplog) -> None:
    caplog.set_level(logging.INFO, logger="kodibridge")
    port = free_port()  # nothing listens there yet: the bridge is down
    clock = Clock()
    svc = service(kodi, f"http://127.0.0.1:{port}", clock)
    play_to_end(svc, kodi, MATRIX)
    kodi.play(INCEPTION, 100.0)
    svc.player.onAVStarted()
    kodi.time = 30.0
    svc.player.onPlayBackPaused()
    waiting = len(svc.queue)
    assert waiting == 4
    assert svc.sender.drain() > 0 and len(svc.queue) == waiting  # refused connection: kept, backing off
    clock.now += 3600
    assert svc.sender.drain() > 0 and len(svc.queue) == waiting
    assert sum("unreachable" in r.getMessage() for r in caplog.records) == 1  # once per outage
    svc.queue.close()  # Kodi restarts while the bridge is still down

    svc = service(kodi, clock=clock)
    assert len(svc.queue) == waiting
    assert svc.sender.drain() > 0  # still down after the restart
    bridge = bridge_for(extra=f'http: {{listen: "127.0.0.1:{port}", secret: {SECRET}}}')
    bridge.http.start()  # the bridge is back
    seen = received(bridge)
    clock.now += 3600  # past the backoff
    assert svc.sender.drain() == 0.0
    assert [(e["title"], e["state"]) for e in seen] == [
        ("The Matrix", "playing"), ("The Matrix", "stopped"), ("Inception", "playing"), ("Inception", "paused")]
    assert len(svc.queue) == 0
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    svc.sender.drain()
    assert len(seen) == 4  # nothing is sent twice
    bridge.flush()
    bridge.clock = lambda: time.time() + 3600  # past the bridge's own retry of a rate-limited write
    bridge.flush()
    assert [w["title"] for w in watches(emulator)] == ["The Matrix"]
    assert [p["movie"]["title"] for p in emulator.state()["users"]["alice"]["playbacks"]] == ["Inception"]


def test_an_event_the_bridge_rejects_is_dropped_not_retried(kodi, emulator, bridge_for, caplog) -> None:
    caplog.set_level(logging.INFO, logger="kodibridge")
    bridge = bridge_for()
    bridge.http.start()
    seen = received(bridge)
    svc = service(kodi, bridge.http.url)
    svc.queue.put({"source": "kodi", "kind": "movie", "state": "stopped", "ids": {}, "title": "Broken"})
    play_to_end(svc, kodi, MATRIX)
    assert svc.sender.drain() == 0.0
    assert len(svc.queue) == 0 and [e["title"] for e in seen] == ["The Matrix", "The Matrix"]
    (line,) = [r.getMessage() for r in caplog.records if "Broken" in r.getMessage()]
    assert "HTTP 400" in line and "no usable id" in line and "dropped" in line


def test_a_wrong_secret_keeps_events_and_says_what_to_fix(kodi, emulator, bridge_for, caplog) -> None:
    caplog.set_level(logging.INFO, logger="kodibridge")
    bridge = bridge_for()
    bridge.http.start()
    kodi.settings["secret"] = "not-the-secret"
    svc = service(kodi, bridge.http.url)
    play_to_end(svc, kodi, MATRIX)
    assert svc.sender.drain() > 0 and len(svc.queue) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("HTTP 403" in m and "secret" in m for m in errors)
    kodi.settings["secret"] = SECRET
    svc.monitor.onSettingsChanged()  # the user fixed it in the addon settings
    assert svc.sender.drain() == 0.0 and len(svc.queue) == 0
    bridge.flush()
    assert len(watches(emulator)) == 1


def test_the_queue_keeps_the_newest_events_when_full(kodi, caplog) -> None:
    caplog.set_level(logging.INFO, logger="kodibridge")
    from kodibridge.diskqueue import DiskQueue

    queue = DiskQueue(str(kodi.profile.parent / "q.sqlite"), limit=3)
    for n in range(5):
        queue.put({"n": n})
    assert [e["n"] for _, e in queue.head()] == [2, 3, 4]
    assert sum("dropped the oldest" in r.getMessage() for r in caplog.records) == 2


def test_backoff_grows_and_new_settings_retry_at_once(kodi) -> None:
    clock = Clock()
    svc = service(kodi, f"http://127.0.0.1:{free_port()}", clock)
    play_to_end(svc, kodi, MATRIX)
    waits = []
    for _ in range(8):
        waits.append(svc.sender.drain())
        assert svc.sender.drain() == waits[-1]  # not due yet: no new attempt, no longer wait
        clock.now += waits[-1]
    assert waits[:4] == [2.0, 4.0, 8.0, 16.0] and waits[-1] == 120.0
    assert len(svc.queue) == 2
    svc.monitor.onSettingsChanged()  # new settings: the last failure says nothing about them
    assert svc.sender.next_at == 0.0


def test_a_bridge_url_without_http_is_named_in_the_log_and_events_wait(kodi, caplog) -> None:
    caplog.set_level(logging.INFO, logger="kodibridge")
    svc = service(kodi, "192.168.1.10:8765")
    play_to_end(svc, kodi, MATRIX)
    assert svc.sender.drain() > 0 and len(svc.queue) == 2
    assert any("set the bridge URL" in r.getMessage() and "'192.168.1.10:8765'" in r.getMessage() for r in caplog.records)
