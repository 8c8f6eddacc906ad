"""The real artefact: the built addon zip, linted by kodi-addon-checker and installed in a real Kodi
(Debian's package, headless) that posts to a real bridge."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests import conftest
from tests.adapters.kodi.real import RealKodi, free_port, real_kodi
from tests.conftest import SECRET, watches

ROOT = Path(__file__).resolve().parents[3]
ADDON = ROOT / "plugins" / "kodi" / "service.simkl.bridge"
BUILD = ROOT / "scripts" / "build_kodi_addon.py"
ADDON_ID = "service.simkl.bridge"
SETTINGS = """<settings version="2">
    <setting id="bridge_url">http://127.0.0.1:{port}</setting>
    <setting id="secret">{secret}</setting>
    <setting id="user">alice</setting>
    <setting id="server">living-room</setting>
</settings>
"""


def eventually(kodi: RealKodi, probe, what: str, timeout: float = 30.0):
    try:
        return conftest.eventually(probe, what, timeout, interval=0.1)
    except AssertionError as exc:
        addon_lines = [ln for ln in kodi_log(kodi).splitlines() if ADDON_ID in ln]
        raise AssertionError(f"{exc}; the addon logged:\n" + "\n".join(addon_lines[-20:])) from None


# -- the installable zip ---------------------------------------------------------------------------


def build_zip(out: Path) -> Path:
    """What a user runs: the build script, which prints the zip's path."""
    built = subprocess.run([sys.executable, str(BUILD), "--out", str(out)], capture_output=True, text=True, timeout=60,
                           check=True)
    return Path(built.stdout.strip())


class EmptyAddonRepository(BaseHTTPRequestHandler):
    """Stands in for mirrors.kodi.tv (reached as an HTTP proxy): every branch's addons.xml.gz is
    empty, so the checker sees a new addon and nothing leaves 127.0.0.1."""

    def do_GET(self) -> None:
        body = gzip.compress(b'<?xml version="1.0" encoding="UTF-8"?><addons></addons>')
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_built_zip_installs_as_one_addon_folder_and_passes_kodi_addon_checker(tmp_path) -> None:
    zip_path = build_zip(tmp_path / "dist")
    assert zip_path.name == f"service.simkl.bridge-{ET.parse(ADDON / 'addon.xml').getroot().get('version')}.zip"
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        assert all(n.startswith("service.simkl.bridge/") for n in names)
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert {"service.simkl.bridge/addon.xml", "service.simkl.bridge/service.py",
                "service.simkl.bridge/resources/icon.png"} <= set(names)
        zf.extractall(tmp_path / "unpacked")

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), EmptyAddonRepository)
    threading.Thread(target=proxy.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    env = dict(os.environ, HTTP_PROXY=url, http_proxy=url, HTTPS_PROXY=url, https_proxy=url, NO_PROXY="", no_proxy="")
    try:
        checked = subprocess.run(["kodi-addon-checker", "--branch", "nexus", "service.simkl.bridge"], cwd=tmp_path / "unpacked",
                                 env=env, capture_output=True, text=True, timeout=120)
    finally:
        proxy.shutdown()
        proxy.server_close()
    report = re.sub(r"\x1b\[[0-9;]*m", "", checked.stdout + checked.stderr)
    print(report)  # warnings are worth reading, but only errors fail the build
    errors = [line for line in report.splitlines() if line.startswith("ERROR")]
    assert checked.returncode == 0 and not errors, "\n".join(errors) or report
    assert "icon dimensions are fine 256x256" in report


# -- in a real Kodi ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bridge_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def kodi(tmp_path_factory, bridge_port):
    """Kodi with the zip's addon installed and enabled, its settings pointing at `bridge_port`."""
    root = tmp_path_factory.mktemp("kodi-addon")
    with zipfile.ZipFile(build_zip(root / "dist")) as zf:
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


@real_kodi
def test_a_library_movie_played_to_the_end_reaches_simkl_through_the_addon(kodi, bridge, emulator) -> None:
    kodi.play(kodi.movie)
    kodi.seek(90)
    kodi.wait_stopped()
    (watch,) = eventually(kodi, lambda: watches(emulator), "the history entry")
    assert (watch["title"], watch["type"], watch["simkl"]) == ("The Matrix", "movie", 53992)
    (post,) = [r["body"] for r in emulator.requests if r["method"] == "POST" and r["path"] == "/sync/history"]
    assert post["movies"][0]["ids"] == {"tmdb": 603, "imdb": "tt0133093"}


@real_kodi
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


@real_kodi
def test_a_loose_file_is_not_sent_and_kodi_log_says_why(kodi, bridge, emulator) -> None:
    before = len(kodi_log(kodi))  # the console log outlives a Kodi that is started anew
    kodi.play(kodi.loose)
    kodi.seek(90)
    kodi.wait_stopped()
    lines = eventually(kodi, lambda: [ln for ln in kodi_log(kodi)[before:].splitlines()
                                      if f"[{ADDON_ID}]" in ln and "direct.mp4" in ln], "the addon's log line")
    assert len(lines) == 1 and "not sent" in lines[0]
    time.sleep(1)
    assert emulator.state()["requests"] == {} and bridge.status()["sessions"] == 0
