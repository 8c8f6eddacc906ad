"""How often Kodi 20.1 aborts on its own at the end of a play, with and without the bridge's addon.

Run by hand (needs kodi, xvfb-run and ffmpeg): `python3 bench/kodi_aborts.py [plays] [block] [minutes]`
(defaults: 300 plays per setup, blocks of 25, at most 120 minutes in all).

Two Kodis are built as the tests build them (tests/adapters/kodi/real.py): one plain, one with the
built addon zip installed and posting to a local endpoint that accepts every event (202), as a
running bridge does. They take turns in blocks of `block` plays, so a change in the machine's load
weighs on both alike; only one runs at a time. Each play opens the library movie, seeks to 90% and
lets it end, which is where the tests saw Kodi abort (an assertion in
CDirectoryProvider::OnJobComplete: the home screen's widgets reloading after the play). A play
counts as aborted when the Kodi process is gone by the time it has answered JSON-RPC twice after the
end; Kodi is then started anew. Prints one line per abort (Kodi's last words) and the rates with a
95% Wilson interval.

Measured on the CI machine (2 cores, Debian's Kodi 20.1, 300 plays each): plain Kodi aborted 22 times
(7.3%, 95% interval 4.9-10.9%), Kodi with the addon 18 times (6.0%, 3.8-9.3%), every abort the same
pthread mutex assertion (EDEADLK on an error-checking mutex) just after CVideoPlayer::CloseFile: the
addon adds no risk that can be told apart; Kodi aborts about once in 15 plays to the end either way.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.http import HttpServer
from tests.adapters.kodi.real import KodiCrashed, RealKodi, available
from tests.adapters.kodi.test_addon_real import ADDON_ID, SETTINGS, build_zip

SECRET = "bench-secret-0123456789"


@dataclass
class Tally:
    name: str
    kodi: RealKodi
    plays: int = 0
    aborts: int = 0
    refused: int = 0
    words: list[str] = field(default_factory=list)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def console(kodi: RealKodi) -> str:
    return (kodi.root / "kodi-console.log").read_text(errors="replace")


def play_once(tally: Tally) -> None:
    kodi = tally.kodi
    tally.plays += 1
    before = len(console(kodi))
    try:
        kodi.play(kodi.movie)
        kodi.seek(90)
        kodi.wait_stopped()
        for _ in range(2):  # the widgets' reload runs on a job thread just after the end
            kodi.rpc("JSONRPC.Ping", retry_for=2)
        died = kodi.crashed()
    except (KodiCrashed, RuntimeError, OSError, AssertionError) as exc:
        died = kodi.crashed()
        if not died:  # Kodi refused a call (a seek before the player was ready): not a play, not counted
            tally.plays -= 1
            tally.refused += 1
            print(f"{tally.name}: a play Kodi did not carry out ({exc}); not counted", flush=True)
            if kodi.rpc("Player.GetActivePlayers"):
                kodi.stop()
            return
    if died:
        tally.aborts += 1
        said = console(kodi)[before:].splitlines()
        tally.words.append(next((line for line in said if "Assertion" in line), kodi._last_words()))
        print(f"{tally.name}: play {tally.plays} aborted: {tally.words[-1]}", flush=True)
        kodi.ensure_running()


def main() -> None:
    plays = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    block = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    minutes = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
    if (why := available()) is not None:
        sys.exit(f"kodi_aborts: a real Kodi cannot run here ({why})")
    deadline = time.monotonic() + minutes * 60
    endpoint = HttpServer("127.0.0.1", 0, SECRET)
    received: list[bytes] = []
    endpoint.add_route("POST", "/event", lambda request: (202, {"accepted": received.append(request.body()) is None}))
    endpoint.start()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(build_zip(root / "dist")) as zf:
            zf.extractall(root / "unpacked")
        with_addon = RealKodi(root / "addon", addons=[root / "unpacked" / ADDON_ID])
        settings = with_addon.home / ".kodi" / "userdata" / "addon_data" / ADDON_ID / "settings.xml"
        settings.parent.mkdir(parents=True)
        settings.write_text(SETTINGS.format(port=endpoint.url.rsplit(":", 1)[1], secret=SECRET))
        tallies = [Tally("plain", RealKodi(root / "plain")), Tally("addon", with_addon)]
        for tally in tallies:
            tally.kodi.build()
            tally.kodi.quit()
        try:
            while time.monotonic() < deadline and any(t.plays < plays for t in tallies):
                for tally in tallies:
                    if tally.plays >= plays or time.monotonic() >= deadline:
                        continue
                    tally.kodi.start()
                    for _ in range(min(block, plays - tally.plays)):
                        play_once(tally)
                    tally.kodi.quit()
                print(" ".join(f"{t.name} {t.aborts}/{t.plays}" for t in tallies), flush=True)
        finally:
            for tally in tallies:
                tally.kodi.quit()
            endpoint.stop()
    for t in tallies:
        low, high = wilson(t.aborts, t.plays)
        print(f"{t.name}: {t.aborts} aborts in {t.plays} plays = {t.aborts / max(1, t.plays):.2%} "
              f"(95% interval {low:.2%}-{high:.2%})")
    # The addon was really at work: it posted its events (start, stop) for the plays it saw.
    print(f"events the addon posted: {len(received)}")


if __name__ == "__main__":
    main()
