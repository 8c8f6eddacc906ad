"""Idle cost of `simkl-bridge run` as a service runs it: CPU-seconds per hour and resident memory of
the daemon process, against the local emulator with no media server, or with one real Kodi
(Debian's package, headless: tests/adapters/kodi/real.py). Nothing plays: this is the cost of
being there for months.

    python3 bench/idle_service.py --minutes 10           # emulator, no servers
    python3 bench/idle_service.py --minutes 10 --kodi    # and one real Kodi
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.emulator import Emulator
from bridge.simkl.auth import TokenStore
from tests.conftest import SECRET, TOKEN, eventually

WARM_UP = 30.0  # start-up reconciliation, the first connection, imports settling


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--kodi", action="store_true", help="with one real Kodi (needs kodi, xvfb-run, ffmpeg)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="simkl-bridge-idle-"))
    kodi = None
    with Emulator() as emulator:
        emulator.start()
        emulator.add_token(TOKEN, "alice")
        servers = ""
        if args.kodi:
            from tests.adapters.kodi.real import RealKodi

            kodi = RealKodi(root / "kodi")
            kodi.build()
            servers = f"kodi: [{{name: lr, port: {kodi.tcp_port}, http_port: {kodi.http_port}}}]\n"
        config = root / "config.yaml"
        config.write_text(f"state_dir: {root / 'state'}\nsimkl: {{client_id: emulator-client, api_url: '{emulator.url}'}}\n"
                          f"accounts: {{alice: {{}}}}\nusers: [{{account: alice}}]\n"
                          f"http: {{listen: '127.0.0.1:0', secret: {SECRET}}}\n{servers}")
        TokenStore(root / "state").put("alice", TOKEN)
        daemon = subprocess.Popen([sys.executable, "-m", "bridge", "run", "-c", str(config)], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(daemon.stdout or []), daemon=True).start()
        try:
            eventually(lambda: any("starting:" in line for line in lines), "the banner", timeout=60)
            if kodi is not None:
                eventually(lambda: not any("disconnected" in line for line in lines[-3:]), "the Kodi link", timeout=60)
            time.sleep(WARM_UP)
            cpu0, t0 = cpu_seconds(daemon.pid), time.monotonic()
            peak = rss_mib(daemon.pid)
            deadline = t0 + args.minutes * 60
            while time.monotonic() < deadline:
                time.sleep(min(30.0, max(0.0, deadline - time.monotonic())))
                peak = max(peak, rss_mib(daemon.pid))
            cpu1, t1 = cpu_seconds(daemon.pid), time.monotonic()
            rss = rss_mib(daemon.pid)
        finally:
            daemon.terminate()
            daemon.wait(30)
            if kodi is not None:
                kodi.quit()
    what = "one real Kodi" if args.kodi else "no media server"
    print(f"simkl-bridge run, emulator, {what}: {t1 - t0:.0f} s measured after {WARM_UP:.0f} s warm-up")
    print(f"  idle CPU {(cpu1 - cpu0) / (t1 - t0) * 3600:.2f} CPU-s/h ({cpu1 - cpu0:.2f} CPU-s)")
    print(f"  RSS {rss:.1f} MiB at the end (peak {peak:.1f} MiB)")
    print(f"  daemon log lines while idle: {len(lines)} in all; exit status {daemon.returncode}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
