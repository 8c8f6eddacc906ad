"""Wires the addon together inside Kodi: settings, the disk queue, the player, the sender thread."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from typing import Any

import xbmc
import xbmcaddon
import xbmcvfs

from kodibridge.diskqueue import DiskQueue
from kodibridge.playback import Playback, Who
from kodibridge.player import Player
from kodibridge.sender import Sender, Target

log = logging.getLogger("kodibridge")

ADDON_ID = "service.simkl.bridge"
DEFAULT_NAME = "kodi"
_LEVELS = {logging.DEBUG: "LOGDEBUG", logging.INFO: "LOGINFO", logging.WARNING: "LOGWARNING", logging.ERROR: "LOGERROR"}


class KodiLog(logging.Handler):
    """The addon's log lines go to kodi.log, tagged with the addon id."""

    def emit(self, record: logging.LogRecord) -> None:
        level = getattr(xbmc, _LEVELS.get(record.levelno, "LOGERROR"))
        xbmc.log(f"[{ADDON_ID}] {record.getMessage()}", level)


class Monitor(xbmc.Monitor):
    def __init__(self, service: Service):
        super().__init__()
        self.service = service

    def onSettingsChanged(self) -> None:
        self.service.reload_settings()


class Service:
    def __init__(self) -> None:
        self.addon = xbmcaddon.Addon(ADDON_ID)
        profile = xbmcvfs.translatePath(self.addon.getAddonInfo("profile"))
        xbmcvfs.mkdirs(profile)
        self.queue = DiskQueue(os.path.join(profile, "queue.sqlite"))
        self.sender = Sender(self.queue, self.target)
        self.playback = Playback(self.enqueue, self.who)
        self.player = Player(self.playback)
        self.monitor = Monitor(self)
        self._wake = threading.Event()
        self._stop = threading.Event()

    def setting(self, name: str) -> str:
        return str(self.addon.getSetting(name) or "").strip()

    def target(self) -> Target:
        return Target(self.setting("bridge_url"), self.setting("secret"))

    def who(self) -> Who:
        return Who(self.setting("user") or DEFAULT_NAME, self.setting("server") or DEFAULT_NAME)

    def reload_settings(self) -> None:
        # An Addon object keeps the values it was made with: a new one reads the changed ones.
        self.addon = xbmcaddon.Addon(ADDON_ID)
        self.sender.reset()
        self._wake.set()

    def enqueue(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put(event)
        except sqlite3.Error as exc:  # a full or broken profile disk must not break playback
            log.error("could not queue a %s event: %s", event.get("state"), exc)
            return
        self._wake.set()

    def send_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wait = self.sender.drain()
            except Exception as exc:  # a sender bug must not end delivery for the rest of the session
                log.error("sending failed: %s: %s", type(exc).__name__, exc)
                wait = 60.0
            self._wake.wait(wait or None)

    def run(self) -> None:
        log.info("started: reporting to %s as %s; %d events waiting",
                 self.target().url or "(no bridge URL set)", self.who().user, len(self.queue))
        sender = threading.Thread(target=self.send_loop, name="simkl-bridge-sender", daemon=True)
        sender.start()
        while not self.monitor.abortRequested():
            self.player.tick()
            if self.monitor.waitForAbort(1):
                break
        self._stop.set()
        self._wake.set()
        sender.join(timeout=15)
        self.queue.close()


def run() -> None:
    log.setLevel(logging.INFO)
    log.addHandler(KodiLog())
    Service().run()
