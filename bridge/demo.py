"""`simkl-bridge demo`: a scripted evening through the real engine, outbox and client, against the
local Simkl emulator. No Simkl account and no media server needed."""

from __future__ import annotations

import logging
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bridge.config import default_config
from bridge.daemon import Bridge
from bridge.emulator import Emulator
from bridge.events import Ids, Kind, PlayEvent, State
from bridge.sender import FlushReport
from bridge.simkl.auth import TokenStore, login
from bridge.simkl.client import ClientConfig, SimklClient

CLIENT_ID = "emulator-client"
# Real Simkl allows 1 POST/s per token; the demo's emulator and client agree on a faster pace so
# that the whole evening replays in a few seconds. Everything else is as Simkl behaves.
DEMO_POST_INTERVAL = 0.2
DAY = 86400.0

MATRIX = PlayEvent("plex", "living-room", "demo", "1", Kind.MOVIE, Ids(tmdb=603, imdb="tt0133093"), State.PLAYING,
                   duration=8160.0, title="The Matrix", year=1999, matched_by="demo script")
EPISODE = PlayEvent("kodi", "bedroom", "demo", "7", Kind.EPISODE, Ids(tvdb=81189, tmdb=1396), State.PLAYING,
                    duration=2820.0, title="Breaking Bad", year=2008, season=1, episodes=(2,), matched_by="demo script")


def evening(start: float) -> list[tuple[str, PlayEvent]]:
    """(what a person did, the event their server reported)."""

    def at(ev: PlayEvent, minutes: float, state: State, fraction: float, **kw: Any) -> PlayEvent:
        return replace(ev, state=state, position=ev.duration * fraction, at=start + minutes * 60, **kw)

    return [
        ("starts The Matrix on the living-room Plex", at(MATRIX, 0, State.PLAYING, 0.0)),
        ("pauses it at 40% for dinner", at(MATRIX, 55, State.PAUSED, 0.4)),
        ("resumes it", at(MATRIX, 95, State.PLAYING, 0.4)),
        ("finishes it", at(MATRIX, 177, State.STOPPED, 1.0)),
        ("(Plex sends a late duplicate stop)", at(MATRIX, 178, State.STOPPED, 1.0, session="webhook-1")),
        ("starts Breaking Bad S01E02 on the bedroom Kodi", at(EPISODE, 185, State.PLAYING, 0.0)),
        ("falls asleep: paused at 30%", at(EPISODE, 200, State.PAUSED, 0.3)),
        ("three days later rewatches The Matrix", at(MATRIX, 3 * 1440, State.PLAYING, 0.0, session="2")),
        ("and finishes it again", at(MATRIX, 3 * 1440 + 136, State.STOPPED, 1.0, session="2")),
    ]


def main(verbose: bool = False) -> int:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="  %(levelname)s %(name)s: %(message)s")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="simkl-bridge-demo-") as tmp, Emulator(
        client_ids=(CLIENT_ID,), post_interval=DEMO_POST_INTERVAL, pin_interval=0.1
    ) as emulator:
        base = emulator.start()
        print(f"Simkl emulator listening on {base}")
        # The evening ends with a rewatch: the account tracks them, as a Simkl VIP may.
        config = default_config(Path(tmp), base, CLIENT_ID, track_rewatches=True)
        account = next(iter(config.accounts))

        def client(token: str | None) -> SimklClient:
            return SimklClient(ClientConfig(base_url=base, client_id=CLIENT_ID, post_interval=DEMO_POST_INTERVAL), token)

        def show_and_approve(line: str) -> None:
            # Stands in for the person typing the code at simkl.com/pin.
            print("  " + line)
            for code in re.findall(r"\b[A-Z0-9]{5,8}\b", line):
                try:
                    emulator.approve_pin(code, "demo-token-not-a-secret", plan="vip")
                except (KeyError, ValueError):
                    pass

        print(f"\n$ simkl-bridge login --account {account}")
        if not login(client(None), TokenStore(Path(tmp)), account, out=show_and_approve):
            print("login failed")
            return 1

        bridge = Bridge(config, adapters=[], client_factory=lambda _acc, token: client(token))
        start = time.time() - 4 * DAY
        print("\nThe evening:")
        for what, event in evening(start):
            bridge.sink(event)
            report = bridge.flush()
            print(f"  - {what:<48} -> {_describe(report)}")

        print("\nWhat Simkl now holds:")
        _print_state(emulator.state(), client(TokenStore(Path(tmp)).get(account)).get_playback())
    print(f"\ndemo finished in {time.monotonic() - began:.1f} s")
    return 0


def _describe(report: FlushReport) -> str:
    return f"{report.requests} request(s), {report.sent} write(s) delivered" if report.requests else "nothing to send"


def _print_state(state: dict[str, Any], playbacks: list[dict[str, Any]]) -> None:
    print("  history:")
    for user in state.get("users", {}).values():
        for watch in user.get("watches", []):
            print(f"    {watch.get('title', '?'):<32} {watch.get('label', ''):<10} watched_at {watch.get('watched_at')}")
    print("  playbacks (GET /sync/playback):")
    for pb in playbacks:
        media = pb.get("movie") or pb.get("show") or pb.get("anime") or {}
        ep = pb.get("episode") or {}
        where = f"S{ep.get('season'):02d}E{ep.get('number', ep.get('episode')):02d}" if ep else ""
        print(f"    {media.get('title', '?'):<32} {where:<10} at {pb.get('progress')}%  paused_at {pb.get('paused_at')}")
    if not playbacks:
        print("    (none)")
