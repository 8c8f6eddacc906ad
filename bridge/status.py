"""`simkl-bridge status` and `simkl-bridge queue`: the state dir read for a person (or `--json` for
a script), and parked or unwanted writes handled by id.

`status` works with the daemon running or not: it reads the outbox read-only and asks the lock
file whether a daemon holds the state dir; when one does and it has an HTTP endpoint, the
servers' connection state comes from the daemon itself.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import requests

import bridge
from bridge.config import Config
from bridge.outbox_view import OutboxMissing, OutboxView, Row
from bridge.simkl.auth import TokenStore
from bridge.state import OUTBOX, running
from bridge.times import iso
from bridge.web.report import accounts, age, unmatched
from bridge.wire import one_line


class Problem(Exception):
    """One line for the person, exit status 2."""


def open_view(config: Config) -> OutboxView | None:
    """The outbox read-only; None when the bridge never ran with this state dir."""
    path = Path(config.state_dir).expanduser() / OUTBOX
    try:
        return OutboxView(path)
    except OutboxMissing:
        return None
    except Exception as exc:  # sqlite3 and OS errors alike: one line, with what to look at
        raise Problem(f"cannot read the outbox {path}: {exc}; is it readable by this user? (ls -l {path.parent})") from None


def daemon(config: Config) -> dict[str, Any] | None:
    """What the running daemon says of itself, or None when none runs on this state dir."""
    held = running(Path(config.state_dir))
    if held is None:
        return None
    if config.http is not None:
        host, _, port = config.http.listen.rpartition(":")
        host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        try:
            reply = requests.get(f"http://{host}:{port}/status", headers={"X-Bridge-Secret": config.http.secret}, timeout=3)
            if reply.ok:
                held["servers"] = reply.json().get("servers", [])
        except (requests.RequestException, ValueError):
            held["servers_error"] = f"its endpoint http://{host}:{port} did not answer"
    return held


def gather(config: Config) -> dict[str, Any]:
    view = open_view(config)
    try:
        tokens = TokenStore(Path(config.state_dir))
        return {"version": bridge.__version__, "state_dir": str(config.state_dir), "daemon": daemon(config),
                "outbox": view is not None, "accounts": accounts(config, tokens, view),
                "parked": [r.to_json() for r in view.parked()] if view is not None else [],
                "unmatched": unmatched(config.state_dir)}
    finally:
        if view is not None:
            view.close()


def _ago(ts: float, now: float) -> str:
    return f"{iso(ts)} ({age(now - ts)} ago)"


def text(report: dict[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    lines = [f"simkl-bridge {report['version']}, state dir {report['state_dir']}"]
    d = report["daemon"]
    if d is None:
        lines.append("daemon: not running")
    else:
        lines.append(f"daemon: running (pid {d.get('pid')}, since {_ago(d['started'], now) if 'started' in d else '?'})")
        for s in d.get("servers", []):
            state = "disabled" if not s["enabled"] else "webhooks only" if s["connected"] is None else (
                "connected" if s["connected"] else "NOT CONNECTED")
            lines.append(f"  {s['name']}: {state}")
        if "servers_error" in d:
            lines.append(f"  ({d['servers_error']})")
    if not report["outbox"]:
        lines.append("outbox: none yet (the daemon has not run with this state dir)")
    for a in report["accounts"]:
        login = f"logged in (token from {a['token_from']})" if a["logged_in"] else f"not logged in: {a['login_hint']}"
        lines.append(f"account {a['name']}: {login}")
        last = _ago(a["last_sent_at"], now) if a["last_sent_at"] else "never"
        lines.append(f"  sent {a['sent']}, last delivery {last}")
        lines.append(f"  pending {a['pending']}" + (":" if a["waiting"] else ""))
        lines += [f"    #{w['id']} {w['what']}" + (f" (last try failed: {w['error']})" if w["error"] else "")
                  for w in a["waiting"]]
        if a["pending"] > len(a["waiting"]):
            lines.append(f"    … and {a['pending'] - len(a['waiting'])} more (simkl-bridge queue list --account {a['name']})")
        parked = [w for w in report["parked"] if w["account"] == a["name"]]
        lines.append(f"  parked {a['parked']}" + (":" if parked else ""))
        lines += [f"    #{w['id']} {w['what']}: {w['error']}" for w in parked]
        if a["last_error"]:
            lines.append(f"  last error: {a['last_error']['error']} ({a['last_error']['what']})")
    lines += _unmatched(report["unmatched"], now)
    if report["parked"]:
        lines.append("Parked writes wait for you: `simkl-bridge queue retry ID` sends one again, "
                     "`simkl-bridge queue drop ID` forgets it.")
    return "\n".join(lines)


def _unmatched(report: dict[str, Any] | None, now: float) -> list[str]:
    """The last sync's matching report: a count per account and reason, the first items, the file."""
    if report is None:
        return []
    if report["error"]:
        return [f"last library sync: its matching report {report['path']}: {report['error']}"]
    head = f"last library sync {_ago(report['at'], now)}:"
    if not report["items"]:
        return [f"{head} every item was matched"]
    lines = [f"{head} {report['items']:,} item(s) could not be matched"]
    lines += [f"  {c['account']}: {c['items']:,} {one_line(c['reason'])}" for c in report["counts"]]
    lines += [one_line(f"    {i['account']} {i['server']} {i['kind']} {i['title']} ({i['ref']}): {i['reason']}")
              for i in report["first"]]
    if report["items"] > len(report["first"]):
        lines.append(f"    … and {report['items'] - len(report['first']):,} more in {report['path']}")
    else:
        lines.append(f"  (listed in {report['path']})")
    return lines


def status(config: Config, as_json: bool) -> str:
    report = gather(config)
    return json.dumps(report, indent=2) if as_json else text(report)


def queue_list(config: Config, account: str | None, state: str, as_json: bool) -> str:
    view = open_view(config)
    if view is None:
        return "[]" if as_json else "the outbox is empty (the daemon has not run with this state dir)"
    try:
        names = [account] if account else list(config.accounts)
        rows: list[Row] = []
        if state in ("pending", "all"):
            rows += [r for a in names for r in view.pending(a, 1000)]
        if state in ("parked", "all"):
            rows += view.parked(account)
    finally:
        view.close()
    if as_json:
        return json.dumps([r.to_json() for r in rows], indent=2)
    if not rows:
        return f"no {state if state != 'all' else 'pending or parked'} write"
    return "\n".join(f"#{r.id} {r.account} {r.state}: {r.what}" + (f" ({r.error})" if r.error else "") for r in rows)
