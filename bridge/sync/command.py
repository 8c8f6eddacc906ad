"""`simkl-bridge sync`: one library sync by hand, with a plan to look at first if wanted.

`--dry-run` plans and prints; `--plan FILE` also writes the plan; `--apply FILE` carries out exactly
that plan (nothing is read again but the servers' and Simkl's current state it is checked against:
nothing). The additions are queued in the outbox; when no daemon runs on the state dir this command
delivers them itself, at Simkl's one POST a second, with a bar on a terminal (a line every few seconds
elsewhere) and the time left by the POST budget (bridge/sync/progress.py); when one runs, its sender
delivers them.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bridge.accounts import AccountMap
from bridge.config import Config
from bridge.daemon import SYNC_BASELINE, build_adapters
from bridge.library import TitleShelf
from bridge.outbox import Outbox
from bridge.outbox_view import OutboxView
from bridge.sender import Sender
from bridge.simkl.auth import TokenStore, token_for
from bridge.simkl.client import ClientConfig, SimklClient
from bridge.state import OUTBOX, create_private, running
from bridge.sync.baseline import Baseline
from bridge.sync.progress import LOOK_EVERY, Drains, combined
from bridge.sync.runner import apply, plan_from_json, plan_json
from bridge.sync.service import Request, SyncService
from bridge.sync.titles import apply_titles, plans_from_json

log = logging.getLogger("bridge.sync")

ERASE = "\x1b[K"  # to the end of the line, on a terminal


def run(config: Config, state_dir: Path, request: Request, *, plan_file: Path | None = None,
        apply_file: Path | None = None, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out  # at the call: a default would keep the stdout of the import
    tokens = TokenStore(state_dir)
    clients: dict[str, SimklClient] = {}

    def client_for(account: str) -> SimklClient | None:
        settings = config.accounts.get(account)
        token, _ = token_for(tokens, account, settings.token_env if settings else None)
        if token is None:
            return None
        if account not in clients:
            s = config.simkl
            clients[account] = SimklClient(ClientConfig(base_url=s.api_url, client_id=s.client_id, app_name=s.app_name,
                                                        read_timeout=s.timeout), token)
        return clients[account]

    for private in (OUTBOX, SYNC_BASELINE):
        create_private(state_dir / private)
    outbox = Outbox(state_dir / OUTBOX)
    adapters = build_adapters(config)
    service = SyncService(config, outbox, Baseline(state_dir / SYNC_BASELINE), adapters, client_for,
                          AccountMap(config.users, config.catch_all).resolve)
    if apply_file is not None:
        queued = _apply(service, apply_file.read_text(), out)
    else:
        reports = service.run_once(request)
        for report in reports:
            print(report.line(), file=out)
        if plan_file is not None:
            plan_file.write_text("\n".join(plan_json(r) for r in reports))
            print(f"plan written to {plan_file}", file=out)
        queued = sum(r.queued for r in reports)
    if queued and not request.dry_run:
        if running(state_dir) is not None:
            print(f"{queued:,} addition(s) queued; the running daemon sends them", file=out)
        else:
            deliver(outbox, client_for, config.outbox.batch_size, out)
    return 0


def _apply(service: SyncService, text: str, out: TextIO) -> int:
    """Exactly the plan in `text`: one account's, as `--plan` wrote it."""
    account, plans = plan_from_json(text)
    holders = {holder.name: holder for holder, _ in service.holders(account, Request(account))}
    queued = 0
    for name, plan in plans.items():
        if name not in holders:
            print(f"{name}: not a server of {account}'s in this config; its part of the plan is skipped", file=out)
            continue
        queued += apply(account, holders[name], plan, service.outbox, service.baseline.simkl(account), time.time())
    rated = {name: holder for name, (holder, _) in service.titles(account, Request(account)).items()}
    for name, titles in plans_from_json(json.loads(text).get("titles")).items():
        if name not in rated:
            print(f"{name}: syncs no ratings or lists in this config; its part of the plan is skipped", file=out)
            continue
        queued += apply_titles(account, rated[name], titles, service.outbox,
                               service.baseline.simkl_titles(account) or TitleShelf(), time.time())[0]
    print(f"applied: {queued} write(s) queued", file=out)
    return queued


def deliver(outbox: Outbox, client_for: Callable[[str], SimklClient | None], batch_size: int, out: TextIO,
            clock: Callable[[], float] = time.monotonic) -> None:
    """Send what waits, the daemon's way (its sender loop, on a thread: one flush drains a whole
    backlog), and show how far: a bar redrawn in place on a terminal, a line every few seconds
    elsewhere. `clock` times the lines only."""
    sender = Sender(outbox, client_for, batch_size=batch_size)
    view = OutboxView(outbox.path)
    drains = Drains(view, lambda: batch_size, clock=clock)
    for account in outbox.next_due_per_account():
        drains.follow(account)
    stop, wake = threading.Event(), threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop, wake), name="sync-sender", daemon=True)
    thread.start()
    tty = out.isatty()
    try:
        while outbox.pending():
            _show(drains, out, tty)
            # Asked before the count: None with writes still pending is a login or a retry by hand.
            if sender.next_wake() is None and (left := outbox.pending()):
                end = "\n" if tty and drains.read() else ""
                print(f"{end}{left:,} write(s) wait (a login, or parked: see `simkl-bridge status`)", file=out)
                return
            stop.wait(LOOK_EVERY)
        _show(drains, out, tty)
    finally:
        stop.set()
        wake.set()
        thread.join()
        view.close()


def _show(drains: Drains, out: TextIO, tty: bool) -> None:
    said = drains.due()
    if not tty:
        for progress in said:
            print(progress.line(), file=out)
        return
    # "\r" back to the line's start, ESC [K erases what a longer line before left of itself.
    for progress in said:
        if not progress.pending:
            out.write(f"\r{progress.line()}{ERASE}\n")
    following = list(drains.read().values())
    if following:
        out.write(f"\r{combined(following).bar()}{ERASE}")
    out.flush()
