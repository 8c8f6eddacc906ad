"""A real Kodi (Debian's package) run headless on Xvfb for the end-to-end tests, and the fixtures
that run a bridge against it.

Follows shared/kodi-headless.md: a private HOME with a null ALSA sink (without it every playback
stalls 10 s), a small offline library of generated clips whose .nfo files carry the ids, scraped by
metadata.local after the content type is written into Kodi's path table (JSON-RPC cannot set it).
"""

from __future__ import annotations

import glob
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.adapters.kodi import KodiAdapter
from tests import conftest

CLIP_SECONDS = 20
# Kodi writes `lastplayed` in its local time zone (its own setting, not $TZ). A zone with a
# half-hour offset west of UTC makes any confusion of Kodi's clock with the test machine's show.
KODI_TZ = "America/St_Johns"

MOVIE_NFO = """<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>
<movie><title>The Matrix</title><year>1999</year>
<uniqueid type="tmdb" default="true">603</uniqueid><uniqueid type="imdb">tt0133093</uniqueid>
<fileinfo><streamdetails><video><codec>h264</codec><durationinseconds>20</durationinseconds></video></streamdetails></fileinfo></movie>
"""
SHOW_NFO = """<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>
<tvshow><title>Test Show</title><year>2008</year>
<uniqueid type="tvdb" default="true">81189</uniqueid><uniqueid type="tmdb">1396</uniqueid>
<uniqueid type="imdb">tt0903747</uniqueid></tvshow>
"""
EPISODE_NFO = """<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>
<episodedetails><title>Second Episode</title><season>1</season><episode>2</episode>
<uniqueid type="tvdb" default="true">349232</uniqueid><uniqueid type="tmdb">62086</uniqueid>
<uniqueid type="imdb">tt1054724</uniqueid></episodedetails>
"""
GUISETTINGS = """<settings version="2">
    <setting id="services.webserver">true</setting>
    <setting id="services.webserverport">{http_port}</setting>
    <setting id="services.webserverauthentication">false</setting>
    <setting id="services.esenabled">true</setting>
    <setting id="services.esallinterfaces">false</setting>
    <setting id="services.zeroconf">false</setting>
    <setting id="services.upnp">false</setting>
    <setting id="services.airplay">false</setting>
    <setting id="general.addonupdates">2</setting>
    <setting id="general.addonnotifications">false</setting>
    <setting id="audiooutput.audiodevice">ALSA:default</setting>
    <setting id="audiooutput.guisoundmode">0</setting>
    <setting id="locale.timezone">{tz}</setting>
</settings>
"""
ADVANCED = """<advancedsettings version="1.0"><loglevel>0</loglevel>
<jsonrpc><compactoutput>true</compactoutput><tcpport>{tcp_port}</tcpport></jsonrpc></advancedsettings>
"""


def available() -> str | None:
    """Why a real Kodi cannot run here, or None when it can."""
    missing = [b for b in ("kodi", "xvfb-run", "ffmpeg") if shutil.which(b) is None]
    return f"not installed: {', '.join(missing)}" if missing else None


def _no_core_dumps() -> None:
    # A crashing Kodi leaves a core of ~400 MB in the working directory otherwise.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_clip(path: Path, seconds: int = CLIP_SECONDS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=160x120:rate=10",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(path)], check=True, timeout=120)


def addon_id(addon: Path) -> str:
    return ET.parse(addon / "addon.xml").getroot().attrib["id"]


class KodiCrashed(RuntimeError):
    """Kodi itself aborted during a test: not the bridge's doing (see `real_kodi`)."""


def real_kodi(test):
    """Marks a test that drives a real Kodi. Kodi 20.1 aborts now and then on its own (seen at the
    end of a play: CDirectoryProvider::OnJobComplete frees GUI textures on a job thread); a test
    that failed because Kodi died is run again (twice at most) on a Kodi started anew. Any other failure stands."""
    for mark in (pytest.mark.kodi, pytest.mark.slow, pytest.mark.flaky(reruns=2, only_rerun=["KodiCrashed"]),
                 pytest.mark.skipif(available() is not None, reason=f"real Kodi: {available()}")):
        test = mark(test)
    return test


class RealKodi:
    """`addons`: add-on directories installed into the private home before Kodi starts, enabled once
    it runs (Kodi registers add-ons it finds on disk as disabled until told otherwise)."""

    def __init__(self, root: Path, addons: Sequence[Path] = ()):
        self.root = root
        self.addons = tuple(Path(a) for a in addons)
        self.home = root / "home"
        self.media = root / "media"
        self.http_port = free_port()
        self.tcp_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.movie = self.media / "movies" / "TheMatrix" / "The.Matrix.1999.mp4"
        self.episode = self.media / "tv" / "Test Show" / "Season 01" / "Test.Show.S01E02.mp4"
        self.loose = self.media / "loose" / "direct.mp4"

    # -- setup ----------------------------------------------------------------------------------

    def build(self) -> None:
        """Fixtures first: Kodi caches directory listings, so folders made later are not scanned."""
        make_clip(self.movie)
        self.movie.with_suffix(".nfo").write_text(MOVIE_NFO)
        for target in (self.episode, self.loose):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.movie, target)
        (self.media / "tv" / "Test Show" / "tvshow.nfo").write_text(SHOW_NFO)
        self.episode.with_suffix(".nfo").write_text(EPISODE_NFO)
        userdata = self.home / ".kodi" / "userdata"
        userdata.mkdir(parents=True, exist_ok=True)
        (self.home / ".asoundrc").write_text("pcm.!default { type null }\nctl.!default { type hw card 0 }\n")
        (userdata / "guisettings.xml").write_text(GUISETTINGS.format(http_port=self.http_port, tz=KODI_TZ))
        (userdata / "advancedsettings.xml").write_text(ADVANCED.format(tcp_port=self.tcp_port))
        for addon in self.addons:
            shutil.copytree(addon, self.home / ".kodi" / "addons" / addon_id(addon))
        self.start()
        zone = self.rpc("Settings.GetSettingValue", {"setting": "locale.timezone"})["value"]
        if zone != KODI_TZ:
            raise RuntimeError(f"Kodi runs in time zone {zone!r}, not {KODI_TZ!r} (is tzdata installed?)")
        self._dismiss_first_run_dialog()
        self._enable_addons()
        self._add_sources()
        self.rpc("VideoLibrary.Scan", {"showdialogs": False})
        self._wait(lambda: self.library_counts() == (1, 1), 60, "the library scan")

    def _dismiss_first_run_dialog(self) -> None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            window = self.rpc("GUI.GetProperties", {"properties": ["currentwindow"]})["currentwindow"]
            if window.get("id") == 10100:
                self.rpc("Input.Back")
                return
            time.sleep(0.2)

    def _enable_addons(self) -> None:
        for addon in map(addon_id, self.addons):
            self.rpc("Addons.SetAddonEnabled", {"addonid": addon, "enabled": True})
            self._wait(lambda addon=addon: self.rpc("Addons.GetAddonDetails", {"addonid": addon, "properties": ["enabled"]})["addon"]["enabled"],
                       10, f"add-on {addon} to be enabled")

    def _add_sources(self) -> None:
        db_path = self._wait(lambda: next(iter(glob.glob(str(self.home / ".kodi/userdata/Database/MyVideos*.db"))), None), 30, "the video DB")
        db = sqlite3.connect(db_path)
        with db:
            for path, content, recursive in ((self.media / "movies", "movies", 2147483647), (self.media / "tv", "tvshows", 0)):
                db.execute("INSERT INTO path (strPath,strContent,strScraper,scanRecursive,useFolderNames,strSettings,noUpdate,exclude,allAudio)"
                           " VALUES (?,?,'metadata.local',?,0,'',0,0,0)", (f"{path}/", content, recursive))
        db.close()

    def library_counts(self) -> tuple[int, int]:
        movies = self.rpc("VideoLibrary.GetMovies")["limits"]["total"]
        episodes = self.rpc("VideoLibrary.GetEpisodes")["limits"]["total"]
        return movies, episodes

    # -- process --------------------------------------------------------------------------------

    def start(self) -> None:
        env = dict(os.environ, HOME=str(self.home), KODI_AE_SINK="ALSA")
        # Kodi's output goes to the file through its own descriptor: ours can close at once.
        with open(self.root / "kodi-console.log", "ab") as log:
            self.proc = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 640x360x24", "kodi", "--standalone",
                                          "--windowing=x11", "--logging=console"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=_no_core_dumps)
        self._wait(self.ping, 60, "Kodi to answer JSON-RPC")

    def ping(self) -> bool:
        try:
            return self.rpc("JSONRPC.Ping", timeout=2, retry_for=0) == "pong"
        except (requests.RequestException, RuntimeError):
            return False

    def kill(self) -> None:
        """What a crash looks like to a client: the socket just goes away."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(30)
            self.proc = None
        self._wait(lambda: not self.ping(), 10, "Kodi to go away")

    def quit(self) -> None:
        if self.proc is None:
            return
        try:
            self.rpc("Application.Quit", timeout=5)
            self.proc.wait(20)
        except (requests.RequestException, RuntimeError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def crashed(self) -> bool:
        """Kodi exited without being told to (a deliberate `kill` forgets the process)."""
        return self.proc is not None and self.proc.poll() is not None

    def ensure_running(self) -> None:
        if self.crashed():
            self.kill()  # what is left of the aborted one goes too: xvfb-run leaves its Xvfb running
            self.start()

    def _last_words(self) -> str:
        lines = (self.root / "kodi-console.log").read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no console output"

    # -- driving --------------------------------------------------------------------------------

    def rpc(self, method: str, params: dict[str, Any] | None = None, timeout: float = 10, retry_for: float = 10) -> Any:
        # Kodi's web server now and then resets connections, under load and just after a start; the
        # calls used here are all safe to repeat.
        deadline = time.monotonic() + retry_for
        while True:
            try:
                reply = requests.post(f"http://127.0.0.1:{self.http_port}/jsonrpc", timeout=timeout,
                                      json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}).json()
                break
            except requests.ConnectionError:
                if self.crashed():
                    raise KodiCrashed(f"{method}: Kodi is not running any more ({self._last_words()})") from None
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def play(self, path: Path) -> None:
        self.rpc("Player.Open", {"item": {"file": str(path)}})
        self._wait(lambda: self.position() is not None, 20, f"{path.name} to play")

    def position(self) -> dict[str, Any] | None:
        players = self.rpc("Player.GetActivePlayers")
        if not players:
            return None
        return self.rpc("Player.GetProperties", {"playerid": 1, "properties": ["percentage", "time", "totaltime", "speed"]})

    def set_playing(self, playing: bool) -> None:
        self.rpc("Player.PlayPause", {"playerid": 1, "play": playing})

    def seek(self, percentage: float) -> None:
        self.rpc("Player.Seek", {"playerid": 1, "value": {"percentage": percentage}})

    def stop(self) -> None:
        self.rpc("Player.Stop", {"playerid": 1})
        self._wait(lambda: not self.rpc("Player.GetActivePlayers"), 20, "the player to stop")

    def wait_stopped(self, timeout: float = CLIP_SECONDS + 20) -> None:
        self._wait(lambda: not self.rpc("Player.GetActivePlayers"), timeout, "the clip to end")

    @staticmethod
    def _wait(probe, timeout: float, what: str):
        return conftest.eventually(probe, what, timeout, interval=0.1)


def eventually(probe, what: str, timeout: float = 20.0):
    # A real Kodi takes its time: a roomier default than the other adapters' tests.
    return conftest.eventually(probe, what, timeout, interval=0.05)


@pytest.fixture(scope="module")
def kodi(tmp_path_factory):
    k = RealKodi(tmp_path_factory.mktemp("kodi"))
    k.build()
    yield k
    k.quit()


@pytest.fixture
def kodi_bridge(kodi, bridge_for):
    """A running bridge whose only adapter is this Kodi, with plays attributed to alice."""
    def make():
        extra = f"kodi: [{{name: lr, port: {kodi.tcp_port}, http_port: {kodi.http_port}, user: alice}}]"
        bridge = bridge_for(extra, adapters=None)
        (adapter,) = bridge.adapters
        assert isinstance(adapter, KodiAdapter)
        bridge.start(reconcile=False)
        eventually(adapter.supervisor.connected.is_set, "the adapter to connect")
        return bridge, adapter
    yield make
    if kodi.ping() and kodi.rpc("Player.GetActivePlayers"):
        kodi.stop()


def playbacks(emulator):
    return emulator.state()["users"].get("alice", {}).get("playbacks", [])
