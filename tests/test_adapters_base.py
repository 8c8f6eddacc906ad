"""Connection supervision: a listener that dies is restarted, with backoff, polling meanwhile."""

from __future__ import annotations

import threading
import time

from bridge.adapters.base import Supervisor
from bridge.backoff import Backoff


def test_backoff_grows_caps_and_resets() -> None:
    b = Backoff(base=1.0, cap=8.0, rng=lambda: 1.0)
    assert [b.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    b.reset()
    assert b.next() == 1.0
    assert 0.5 <= Backoff(base=1.0, rng=lambda: 0.0).next() <= 1.0


def test_supervisor_reconnects_and_polls_while_down() -> None:
    attempts: list[float] = []
    polls: list[float] = []
    healthy = threading.Event()

    def listen(stop: threading.Event, connected: threading.Event) -> None:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise ConnectionRefusedError("server restarting")
        connected.set()
        healthy.set()
        stop.wait()

    sup = Supervisor("test", listen, poll=lambda: polls.append(time.monotonic()), poll_interval=0.01,
                     backoff=Backoff(base=0.05, cap=0.2, rng=lambda: 1.0))
    sup.start()
    assert healthy.wait(5)
    assert sup.connected.is_set() and len(attempts) == 3
    assert attempts[2] - attempts[1] >= 0.09  # the second wait was longer than the first
    assert polls, "nothing polled while the connection was down"
    polled_before = len(polls)
    time.sleep(0.1)
    assert len(polls) == polled_before  # no polling while connected
    sup.stop()
    assert not sup._thread.is_alive()


def test_supervisor_logs_one_line_per_outage(caplog) -> None:
    caplog.set_level("DEBUG", logger="bridge.adapters")
    calls = []

    def listen(stop, connected):
        calls.append(1)
        if len(calls) >= 4:
            stop.wait()
        raise OSError("refused")

    sup = Supervisor("srv", listen, backoff=Backoff(base=0.01, cap=0.01, rng=lambda: 1.0))
    sup.start()
    deadline = time.monotonic() + 5
    while len(calls) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    sup.stop()
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "srv: disconnected" in warnings[0].getMessage()


def test_a_server_answering_with_a_whole_page_is_still_one_short_line(caplog) -> None:
    caplog.set_level("WARNING", logger="bridge.adapters")
    page = "HTTP/1.1 502 Bad Gateway\r\nServer: proxy\r\n\r\n<html>\n<body>" + "x" * 5000 + "</body>\n</html>"
    done = threading.Event()

    def listen(stop, connected):
        if done.is_set():
            stop.wait()
        done.set()
        raise ConnectionError(page)

    sup = Supervisor("srv", listen, backoff=Backoff(base=0.01, cap=0.01, rng=lambda: 1.0))
    sup.start()
    deadline = time.monotonic() + 5
    while not caplog.records and time.monotonic() < deadline:
        time.sleep(0.01)
    sup.stop()
    (line,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in line and "502 Bad Gateway" in line and len(line) < 300
