"""`simkl-bridge doctor`: a pass/fail line per thing the bridge needs, against the emulator and
media-server stand-ins, and an exit status for scripts."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from bridge.config import parse
from bridge.doctor import main as doctor_main
from bridge.simkl.auth import TokenStore
from tests.adapters.jellyfin.standin import API_KEY, JellyfinStandIn
from tests.adapters.kodi.standin import FakeKodi, reply
from tests.adapters.plex.standin import TOKEN as PLEX_TOKEN
from tests.adapters.plex.standin import PlexStandIn
from tests.conftest import SECRET, TOKEN


def doctor(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", "doctor", "-c", str(config)], capture_output=True, text=True,
                          timeout=120)


def test_doctor_passes_a_good_setup_and_names_each_failure(emulator, tmp_path) -> None:
    kodi = FakeKodi(lambda request: reply(request, "pong"))
    plex = PlexStandIn()
    plex.start()
    # a port held by a listener (in use), and one bound without listening (refused): no one else can take either
    with JellyfinStandIn() as jellyfin, socket.create_server(("127.0.0.1", 0)) as taken, socket.socket() as off:
        port = taken.getsockname()[1]
        off.bind(("127.0.0.1", 0))
        config = tmp_path / "config.yaml"
        good = f"""state_dir: {tmp_path / 'state'}
simkl: {{client_id: emulator-client, api_url: "{emulator.url}"}}
accounts: {{alice: {{}}}}
http: {{listen: "127.0.0.1:0", secret: {SECRET}}}
plex: [{{name: home, url: "{plex.url}", token: {PLEX_TOKEN}}}]
jellyfin: [{{name: jf, url: "{jellyfin.url}", api_key: {API_KEY}}}]
kodi: [{{name: lr, port: {kodi.port}, http_port: null}}]
"""
        config.write_text(good)
        TokenStore(tmp_path / "state").put("alice", TOKEN)
        done = doctor(config)
        assert done.returncode == 0, done.stdout
        lines = done.stdout.splitlines()
        assert [line.split(":")[0] for line in lines[:-1]] == [
            "PASS  config", "PASS  state dir", "PASS  listen", "PASS  simkl", "PASS  account alice", "PASS  plex/home",
            "PASS  jellyfin/jf", "PASS  kodi/lr"]
        assert "clocks agree within" in lines[3] and lines[-1] == "all checks passed"

        # a token Simkl refuses, a key Jellyfin refuses, a Kodi that is off, a port in use, a loose token file
        emulator.revoke(TOKEN)
        kodi.close()
        os.chmod(tmp_path / "state" / "tokens" / "alice.json", 0o644)
        config.write_text(good.replace(API_KEY, "f" * 32).replace("127.0.0.1:0", f"127.0.0.1:{port}")
                          .replace(f"token: {PLEX_TOKEN}", "token: not-the-token")
                          .replace(f"port: {kodi.port}", f"port: {off.getsockname()[1]}"))
        done = doctor(config)
    plex.stop()
    assert done.returncode == 1
    failed = {line.split(":")[0][6:]: line for line in done.stdout.splitlines() if line.startswith("FAIL")}
    assert set(failed) == {"state dir", "listen", "account alice", "plex/home", "jellyfin/jf", "kodi/lr"}
    assert "401" in failed["plex/home"] or "nauthorized" in failed["plex/home"]
    assert failed["state dir"].endswith("run chmod 600 " + str(tmp_path / "state" / "tokens" / "alice.json"))
    assert "in use" in failed["listen"]
    assert "Simkl refuses the token from login: run `simkl-bridge login --account alice`" in failed["account alice"]
    assert "the API key was refused" in failed["jellyfin/jf"]
    assert "Connection refused" in failed["kodi/lr"] or "ConnectionRefusedError" in failed["kodi/lr"]
    assert done.stdout.splitlines()[-1] == "6 check(s) failed"


def test_doctor_names_a_clock_that_is_off(emulator, tmp_path) -> None:
    """The emulator's Date header is this machine's clock: the doctor's own clock runs 5 minutes fast."""
    config = parse(f"simkl: {{client_id: emulator-client, api_url: '{emulator.url}'}}\naccounts: {{alice: {{}}}}\n"
                   f"state_dir: {tmp_path}\n")
    lines: list[str] = []
    assert doctor_main(config, tmp_path / "config.yaml", lines.append, clock=lambda: time.time() + 300) == 1
    (clock,) = [line for line in lines if line.startswith("FAIL  clock")]
    # the Date header has whole seconds: 300 s less up to one
    assert re.search(r"this machine's clock is (299|300|301) s ahead of Simkl's: watched times would be off", clock)
