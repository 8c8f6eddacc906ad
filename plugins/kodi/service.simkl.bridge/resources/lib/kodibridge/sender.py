"""Sends queued events to the bridge's `POST /event`, oldest first, with backoff.

urllib from the standard library: Kodi's Python has no `requests`.
What the bridge answers decides an event's fate:
- 2xx: delivered, removed.
- 400/413: the event itself is bad; resending cannot help: removed with a log line.
- 401/403: a wrong secret; the event stays queued and the log says what to fix.
- anything else (network error, 404, 429, 5xx): the bridge is away; retried later.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from kodibridge.diskqueue import DiskQueue

log = logging.getLogger("kodibridge.sender")

TIMEOUT = 10.0
BACKOFF_FIRST = 2.0
BACKOFF_CAP = 120.0  # after an outage, delivery resumes within two minutes

DELIVERED, REJECTED, REFUSED, RETRY = "delivered", "rejected", "refused", "retry"


@dataclass(frozen=True)
class Target:
    url: str  # the bridge's base URL, e.g. http://192.168.1.10:8765
    secret: str


def outcome(status: int) -> str:
    if 200 <= status < 300:
        return DELIVERED
    if status in (400, 413):
        return REJECTED
    if status in (401, 403):
        return REFUSED
    return RETRY


def post(target: Target, event: dict, timeout: float = TIMEOUT) -> tuple[int, str]:
    """(status, the bridge's one-line reason). Raises OSError when the bridge cannot be reached."""
    request = urllib.request.Request(
        target.url.rstrip("/") + "/event",
        data=json.dumps(event).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Bridge-Secret": target.secret},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, ""
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, _reason(exc.read())


def _reason(body: bytes) -> str:
    try:
        return str(json.loads(body).get("error") or "")
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")


class Sender:
    def __init__(self, queue: DiskQueue, target: Callable[[], Target], *, clock: Callable[[], float] = time.monotonic):
        self.queue = queue
        self.target = target  # read on every attempt: settings may change while Kodi runs
        self.clock = clock
        self.delay = 0.0
        self.next_at = 0.0
        self.unreachable = False  # said once per outage, not on every retry

    def reset(self) -> None:
        """Try again now (new settings: the last failure says nothing about them)."""
        self.delay = self.next_at = 0.0

    def drain(self) -> float:
        """Send what is queued, oldest first, until the queue is empty or the bridge fails.
        Returns the seconds to wait before the next attempt (0 when nothing is left)."""
        now = self.clock()
        if now < self.next_at:
            return self.next_at - now
        target = self.target()
        if not target.url.startswith(("http://", "https://")) or not target.secret:
            if len(self.queue):
                log.warning("set the bridge URL (http://HOST:PORT, now %r) and the secret in the addon settings: "
                            "%d events wait", target.url, len(self.queue))
            return self._backoff(now)
        while True:
            batch = self.queue.head()
            if not batch:
                self.delay = 0.0
                return 0.0
            for row_id, event in batch:
                if not self._send_one(target, row_id, event):
                    return self._backoff(now)

    def _send_one(self, target: Target, row_id: int, event: dict) -> bool:
        """False when the event must wait (it stays at the head of the queue)."""
        what = f"{event.get('state')} {event.get('kind')} {event.get('title')!r}"
        try:
            status, reason = post(target, event)
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections; ValueError: a bad URL
            if not self.unreachable:
                self.unreachable = True
                log.warning("bridge at %s unreachable (%s); events wait on disk and are retried",
                            target.url, getattr(exc, "reason", exc))
            return False
        if self.unreachable:
            self.unreachable = False
            log.info("bridge at %s reachable again; sending %d waiting events", target.url, len(self.queue))
        result = outcome(status)
        if result == DELIVERED:
            self.queue.remove(row_id)
            self.delay = 0.0
            return True
        if result == REJECTED:
            self.queue.remove(row_id)
            log.error("bridge refused %s for good (HTTP %d: %s); dropped", what, status, reason)
            return True
        if result == REFUSED:
            log.error("bridge at %s refused the secret (HTTP %d): set the addon's secret to the bridge's http.secret; "
                      "%d events wait", target.url, status, len(self.queue))
            return False
        log.warning("bridge at %s answered HTTP %d (%s); %d events wait", target.url, status, reason, len(self.queue))
        return False

    def _backoff(self, now: float) -> float:
        self.delay = min(BACKOFF_CAP, self.delay * 2 if self.delay else BACKOFF_FIRST)
        self.next_at = now + self.delay
        return self.delay
