"""`simkl-bridge run` as a service runs it: a real subprocess, its log, its signals, its exit status."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from bridge.simkl.auth import TokenStore
from tests.conftest import SECRET, TOKEN, eventually, watches

MOVIES = [(603, "The Matrix"), (27205, "Inception"), (157336, "Interstellar")]


def write_config(emulator, tmp_path: Path, extra: str = "", listen: str = "127.0.0.1:0") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"""state_dir: {tmp_path / 'state'}
simkl: {{client_id: emulator-client, api_url: "{emulator.url}"}}
accounts: {{alice: {{}}}}
users: [{{user: alice, account: alice}}]
http: {{listen: "{listen}", secret: {SECRET}}}
{extra}""")
    return path


class Daemon:
    """`simkl-bridge run` in a subprocess; its log lines as they come."""

    def __init__(self, config: Path, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "bridge", "run", "-c", str(config), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def url(self) -> str:
        found = eventually(lambda: next((m for line in self.lines if (m := re.search(r"status page at (http://\S+)/\)", line))), None),
                           "the start-up banner", timeout=30)
        return found.group(1)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=30)  # well past the few seconds it may take
        self._reader.join(10)
        return code


def post_stop(url: str, tmdb: int, title: str) -> None:
    event = {"kind": "movie", "state": "stopped", "ids": {"tmdb": tmdb}, "title": title, "user": "alice",
             "position": 95, "duration": 100, "source": "kodi", "session": str(tmdb)}
    assert requests.post(f"{url}/{SECRET}/event", json=event, timeout=10).status_code == 202


@pytest.mark.slow
def test_sigterm_with_writes_waiting_loses_nothing_and_says_so(emulator, tmp_path) -> None:
    config = write_config(emulator, tmp_path)
    TokenStore(tmp_path / "state").put("alice", TOKEN)
    emulator.fault("down")  # Simkl unreachable: the writes wait in the outbox
    daemon = Daemon(config)
    url = daemon.url()
    for tmdb, title in MOVIES:
        post_stop(url, tmdb, title)
    assert daemon.stop(signal.SIGTERM) == 0
    assert not any("Traceback" in line for line in daemon.lines), daemon.lines
    banner = next(line for line in daemon.lines if "starting:" in line)
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO bridge.service: simkl-bridge \d+\.\d+\.\d+ starting: "
                    rf"config {re.escape(str(config))}, state dir {re.escape(str(tmp_path / 'state'))}, servers none, "
                    r"accounts alice \(logged in\), http http://127\.0\.0\.1:\d+", banner)
    assert re.search(r"simkl-bridge stopped \(SIGTERM\) in \d+\.\d s: 3 write\(s\) pending in the outbox, sent at the next start$",
                     daemon.lines[-1])
    assert watches(emulator) == []

    emulator.recover()
    again = Daemon(config)
    again.url()
    eventually(lambda: len(watches(emulator)) == 3, "the three watches on Simkl", timeout=30)
    eventually(lambda: sum("delivered" in line for line in again.lines) == 3, "a line per delivered write")
    assert again.stop(signal.SIGINT) == 0
    assert sorted(w["title"] for w in watches(emulator)) == sorted(t for _, t in MOVIES)
    delivered = [line for line in again.lines if "delivered" in line]
    assert all(re.search(r"INFO bridge.sender: alice: delivered .+ watched \(POST /sync/history", line) for line in delivered), delivered
    assert "stopped (SIGINT)" in again.lines[-1] and "0 write(s) pending" in again.lines[-1]


@pytest.mark.slow
def test_a_request_in_flight_at_sigterm_is_left_pending_and_sent_once_after(emulator, tmp_path) -> None:
    """Simkl holds the POST (the emulator's `hold`): the daemon does not wait for it past its grace,
    exits 0, and the next start sends the write again, which Simkl counts once."""
    config = write_config(emulator, tmp_path)
    TokenStore(tmp_path / "state").put("alice", TOKEN)
    emulator.fault("hold", path="/sync/history", seconds=120)
    daemon = Daemon(config)
    post_stop(daemon.url(), 603, "The Matrix")
    eventually(lambda: emulator.held == 1, "the POST to be in flight")
    assert daemon.stop() == 0
    assert "1 write(s) pending" in daemon.lines[-1] and "bridge-sender" in daemon.lines[-1]
    emulator.recover()  # the held call goes on: Simkl records it, its answer reaches nobody
    eventually(lambda: len(watches(emulator)) == 1, "the held watch on Simkl")
    again = Daemon(config)
    again.url()
    eventually(lambda: any("delivered The Matrix watched" in line for line in again.lines), "the resend to be delivered")
    assert again.stop() == 0
    assert len(watches(emulator)) == 1


@pytest.mark.slow
def test_a_second_daemon_on_the_same_state_dir_is_refused_and_json_logs_go_to_a_file_too(emulator, tmp_path) -> None:
    config = write_config(emulator, tmp_path)
    log_file = tmp_path / "bridge.log"
    daemon = Daemon(config, "--log-format", "json", "--log-file", str(log_file))
    daemon.url()
    try:
        done = subprocess.run([sys.executable, "-m", "bridge", "run", "-c", str(config)], capture_output=True, text=True, timeout=60)
    finally:
        assert daemon.stop() == 0
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert f"another simkl-bridge (pid {daemon.proc.pid}) runs with state_dir {tmp_path / 'state'}: stop it first" in line
    entries = [json.loads(x) for x in daemon.lines]
    assert entries[0]["logger"] == "bridge.service" and "starting:" in entries[0]["message"]
    assert entries[-1]["message"].startswith("simkl-bridge stopped (SIGTERM)") and entries[-1]["time"].endswith("Z")
    assert log_file.read_text().splitlines() == daemon.lines


def refused(config: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "bridge", "run", "-c", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    return line


def test_a_state_dir_that_is_a_file_or_readable_by_others_is_one_line(emulator, tmp_path) -> None:
    config = write_config(emulator, tmp_path)
    (tmp_path / "state").write_text("")
    assert refused(config) == f"simkl-bridge: state_dir {tmp_path / 'state'} is a file, not a directory: remove it or set state_dir to a directory"
    (tmp_path / "state").unlink()
    (tmp_path / "state").mkdir(mode=0o755)
    os.chmod(tmp_path / "state", 0o755)
    assert refused(config).endswith(f"(mode 0755): run chmod 700 {tmp_path / 'state'}")
    os.chmod(tmp_path / "state", 0o700)
    TokenStore(tmp_path / "state").put("alice", TOKEN)
    token = tmp_path / "state" / "tokens" / "alice.json"
    os.chmod(token, 0o644)
    assert refused(config) == f"simkl-bridge: {token} is readable by group and others (mode 0644): run chmod 600 {token}"


def unwritable(path: Path) -> None:
    """A directory this process cannot write into: root writes anywhere a mode allows, so for root
    the directory is made immutable (chattr +i) instead."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o500)


def writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    path.chmod(0o700)


def test_a_state_dir_that_cannot_be_written_is_one_line(emulator, tmp_path) -> None:
    config = write_config(emulator, tmp_path)
    (tmp_path / "state").mkdir(mode=0o700)
    unwritable(tmp_path / "state")
    try:
        line = refused(config)
        done = subprocess.run([sys.executable, "-m", "bridge", "status", "-c", str(config)], capture_output=True, text=True,
                              timeout=60)
    finally:
        writable(tmp_path / "state")
    assert re.fullmatch(rf"simkl-bridge: state_dir {re.escape(str(tmp_path / 'state'))} is not writable by user \S+ \(.+\): "
                        rf"run sudo chown -R \S+ {re.escape(str(tmp_path / 'state'))}", line)
    # status only reads: it works on a state dir it cannot write
    assert done.returncode == 0 and "daemon: not running" in done.stdout, done.stderr


def test_a_listen_port_in_use_is_one_line(emulator, tmp_path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        line = refused(write_config(emulator, tmp_path, listen=f"127.0.0.1:{port}"))
    assert line.startswith(f"simkl-bridge: http.listen 127.0.0.1:{port}: the port is in use")
    assert stat.S_IMODE((tmp_path / "state" / "outbox.sqlite").stat().st_mode) == 0o600


def test_the_examples_placeholder_secret_is_refused(emulator, tmp_path) -> None:
    config = write_config(emulator, tmp_path)
    config.write_text(config.read_text().replace(SECRET, "change-me-to-a-long-random-string"))
    assert "http.secret: is still the example's placeholder: set BRIDGE_SECRET" in refused(config)


@pytest.mark.slow
def test_a_running_daemon_reloads_an_edit_once_says_what_waits_and_keeps_a_bad_one_out(emulator, tmp_path) -> None:
    config = write_config(emulator, tmp_path)
    daemon = Daemon(config)
    daemon.url()
    try:
        status = subprocess.run([sys.executable, "-m", "bridge", "status", "-c", str(config)], capture_output=True, text=True,
                                timeout=60)
        assert f"daemon: running (pid {daemon.proc.pid}, since " in status.stdout, status.stderr
        config.write_text(config.read_text() + "log_level: debug\nkodi: [{name: lr, port: 1}]\n")
        line = eventually(lambda: next((x for x in daemon.lines if "config reloaded" in x), None), "the reload line")
        assert line.endswith(f"config reloaded from {config}: applied log_level; needs a restart to apply: kodi")
        config.write_text(config.read_text() + "engine: {watched_threshold: 900}\n")
        bad = eventually(lambda: next((x for x in daemon.lines if "not reloaded" in x), None), "the refusal")
        assert bad.endswith("config not reloaded, keeping the running one: "
                            f"{config}:8: engine.watched_threshold: must be between 1 and 100, got 900")
    finally:
        assert daemon.stop() == 0
    assert sum("config reloaded" in x for x in daemon.lines) == 1 and sum("not reloaded" in x for x in daemon.lines) == 1
