"""Kodi's player callbacks -> `Playback`. The only place that reads the player itself."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import xbmc

from kodibridge import events, library
from kodibridge.playback import Playback

log = logging.getLogger("kodibridge.player")


def rpc(method: str, params: dict) -> Any:
    """One JSON-RPC call inside Kodi; its `result`, or RpcError."""
    reply = json.loads(xbmc.executeJSONRPC(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})))
    if not isinstance(reply, dict) or "result" not in reply:
        error = reply.get("error") if isinstance(reply, dict) else reply
        raise library.RpcError(f"{method}: {error}")
    return reply["result"]


class Player(xbmc.Player):
    def __init__(self, playback: Playback):
        super().__init__()
        self.playback = playback
        self._skipped = ""  # the file last reported as unmatched: one log line per file

    def onAVStarted(self) -> None:
        if not self.isPlayingVideo():
            return
        # The info tag of a file outside the library has no file name: ask the player for it.
        playing = self.getPlayingFile()
        try:
            item = library.resolve(self.getVideoInfoTag(), rpc, playing)
        except events.NoIds as exc:
            self.playback.stopped(time.time())  # whatever played before has ended
            if self._skipped != playing:
                self._skipped = playing
                log.info("%s", exc)
            return
        self.playback.started(item, self._time() or 0.0, self._total() or 0.0, time.time())

    def onPlayBackPaused(self) -> None:
        self.playback.paused(self._time(), time.time())

    def onPlayBackResumed(self) -> None:
        self.playback.resumed(self._time(), time.time())

    def onPlayBackSeek(self, time_ms: int, seek_offset_ms: int) -> None:
        self.playback.seeked(time_ms / 1000.0, time.time())

    def onPlayBackStopped(self) -> None:
        self.playback.stopped(time.time())

    def onPlayBackEnded(self) -> None:
        self.playback.ended(time.time())

    def onPlayBackError(self) -> None:
        self.playback.stopped(time.time())

    def tick(self) -> None:
        """The service loop calls this every second: the stop callbacks cannot read the position.
        Only while a play is tracked: an unmatched file's position is of no use to anyone."""
        if self.playback.play is not None and self.isPlayingVideo():
            position = self._time()
            if position is not None:
                self.playback.tick(position, self._total() or 0.0, time.time())

    def _time(self) -> float | None:
        return self._read(self.getTime)

    def _total(self) -> float | None:
        return self._read(self.getTotalTime)

    @staticmethod
    def _read(getter: Any) -> float | None:
        # Kodi raises RuntimeError when the player let go of the file between the check and the call.
        try:
            return float(getter())
        except RuntimeError:
            return None
