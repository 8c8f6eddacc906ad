"""The built addon zip installed in a real Kodi (Debian's package, headless), posting to a real bridge."""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import SECRET, watches
from tests.kodi_real import RealKodi, available, free_port

pytestmark = [pytest.mark.kodi, pytest.mark.slow,
              pytest.mark.skipif(available() is not None, reason=f"real Kodi: {available()}")]

BUILD = Path(__file__).resolve().parent.parent / "scripts" / "build_kodi_addon.py"
ADDON_ID = "service.simkl.bridge"
SETTINGS = """<settings version="2">
    <setting id="bridge_url">http://127.0.0.1:{port}</setting>
    <setting id="secret">{secret}</setting>
    <setting id="user">alice</setting>
    <setting id="server">living-room</setting>
</settings>
"""


def eventually(kodi: RealKodi, probe, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    addon_lines = [ln for ln in kodi_log(kodi).splitlines() if ADDON_ID in ln]
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; the addon logged:\n" + "\n".join(addon_lines[-20:]))


@pytest.fixture(scope="module")
def bridge_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def kodi(tmp_path_factory, bridge_port):
    """Kodi with the zip's addon installed and enabled, its settings pointing at `bridge_port`."""
    root = tmp_path_factory.mktemp("kodi-addon")
    built = subprocess.run([sys.executable, str(BUILD), "--out", str(root / "dist")], capture_output=True, text=True,
                           timeout=60, check=True)
    with zipfile.ZipFile(built.stdout.strip()) as zf:
        zf.extractall(root / "unpacked")
    k = RealKodi(root, addons=[root / "unpacked" / ADDON_ID])
    settings = k.home / ".kodi" / "userdata" / "addon_data" / ADDON_ID / "settings.xml"
    settings.parent.mkdir(parents=True)
    settings.write_text(SETTINGS.format(port=bridge_port, secret=SECRET))
    k.build()
    yield k
    k.quit()


@pytest.fixture
def bridge(bridge_for, bridge_port):
    b = bridge_for(f'http: {{listen: "127.0.0.1:{bridge_port}", secret: {SECRET}}}')
    b.start(reconcile=False)
    return b


def kodi_log(kodi: RealKodi) -> str:
    return (kodi.root / "kodi-console.log").read_text(errors="replace")


def test_a_library_movie_played_to_the_end_reaches_simkl_through_the_addon(kodi, bridge, emulator) -> None:
    kodi.play(kodi.movie)
    kodi.seek(90)
    kodi.wait_stopped()
    (watch,) = eventually(kodi, lambda: watches(emulator), "the history entry")
    assert (watch["title"], watch["type"], watch["simkl"]) == ("The Matrix", "movie", 53536)
    (post,) = [r["body"] for r in emulator.requests if r["method"] == "POST" and r["path"] == "/sync/history"]
    assert post["movies"][0]["ids"] == {"tmdb": 603, "imdb": "tt0133093"}


def test_a_paused_library_episode_is_saved_under_its_shows_ids(kodi, bridge, emulator) -> None:
    kodi.play(kodi.episode)
    kodi.seek(40)
    time.sleep(0.5)
    kodi.set_playing(False)
    (playback,) = eventually(kodi, lambda: emulator.state()["users"].get("alice", {}).get("playbacks"), "the playback")
    assert playback["show"]["ids"]["tvdb"] == 81189
    assert (playback["episode"]["season"], playback["episode"]["number"]) == (1, 2)
    assert 35 <= playback["progress"] <= 50
    kodi.stop()
    eventually(kodi, lambda: bridge.status()["sessions"] == 0, "the stop to reach the bridge")


def test_a_loose_file_is_not_sent_and_kodi_log_says_why(kodi, bridge, emulator) -> None:
    kodi.play(kodi.loose)
    kodi.seek(90)
    kodi.wait_stopped()
    lines = eventually(kodi, lambda: [ln for ln in kodi_log(kodi).splitlines() if f"[{ADDON_ID}]" in ln and "direct.mp4" in ln],
                       "the addon's log line")
    assert len(lines) == 1 and "not sent" in lines[0]
    time.sleep(1)
    assert emulator.state()["requests"] == {} and bridge.status()["sessions"] == 0
