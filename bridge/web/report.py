"""What the bridge is doing, as plain data: for `/status`, the status page, `/healthz` and
`simkl-bridge status` (which has no running bridge, only the state dir: `accounts` takes what it has).

`health` names every reason the bridge is not doing its job right now: a server it should listen to
is not connected, Simkl does not answer, an account is blocked or not logged in, or a write has
waited longer than `http.max_pending_age`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bridge
from bridge.config import Config
from bridge.outbox_view import AccountCounts, OutboxView
from bridge.simkl.auth import TokenStore, login_hint, token_for
from bridge.sync.service import REPORT_FILE

if TYPE_CHECKING:
    from bridge.daemon import Bridge
    from bridge.sender import Gate

RECENT = 50
DEFAULT_MAX_PENDING_AGE = 3600.0
UNMATCHED_SHOWN = 10  # of the matching report's lines; the file has the rest
REPORT_FIELDS = ("account", "server", "kind", "title", "ref", "reason")


def servers(b: Bridge) -> list[dict[str, Any]]:
    """Each configured server: whether its live connection is up (None: webhooks only, or off)."""
    out = []
    for adapter in b.adapters:
        supervisor = getattr(adapter, "supervisor", None)  # the skeleton's; a bare Adapter has none
        if supervisor is None:
            out.append({"name": adapter.name, "enabled": True, "connected": None, "disconnects": 0})
            continue
        up = supervisor.connected.is_set() if getattr(adapter, "listens", True) else None
        out.append({"name": adapter.name, "enabled": True, "connected": up, "disconnects": supervisor.disconnects})
    for kind, configured in (("plex", b.config.plex), ("jellyfin", b.config.jellyfin), ("kodi", b.config.kodi)):
        out += [{"name": f"{kind}/{s.name}", "enabled": False, "connected": None, "disconnects": 0}
                for s in configured if not s.enabled]
    return out


def accounts(config: Config, tokens: TokenStore, view: OutboxView | None, *, blocked: Iterable[str] = (),
             gates: Mapping[str, Gate] | None = None, environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Per configured account: its token, what waits, what went, what failed last. `blocked` and
    `gates` are the running sender's (Simkl refused the token; Simkl does not answer)."""
    counts = view.counts() if view is not None else {}
    out = []
    for name, settings in config.accounts.items():
        token, source = token_for(tokens, name, settings.token_env, os.environ if environ is None else environ)
        c = counts.get(name, AccountCounts())
        gate = (gates or {}).get(name)
        failed = view.last_error(name) if view is not None else None
        out.append({
            "name": name, "logged_in": token is not None, "token_from": source,
            "login_hint": None if token else login_hint(name, settings.token_env),
            "blocked": name in set(blocked), "simkl_waits_until": gate.until if gate is not None else None,
            "pending": c.pending, "sent": c.sent, "parked": c.parked, "last_sent_at": c.last_sent_at,
            "waiting": [r.to_json() for r in view.pending(name, 10)] if view is not None else [],
            "last_error": failed.to_json() if failed is not None else None,
        })
    return out


def unmatched(state_dir: Path | str, shown: int = UNMATCHED_SHOWN) -> dict[str, Any] | None:
    """The last sync's matching report (bridge/sync/service.py writes it, a tab-separated line an
    item): when, how many items by account and reason, and the first `shown`. None before any sync."""
    path = Path(state_dir).expanduser() / REPORT_FILE
    try:
        text, at = path.read_text(encoding="utf-8", errors="replace"), path.stat().st_mtime
    except FileNotFoundError:
        return None
    except OSError as exc:
        return {"path": str(path), "at": None, "error": f"cannot read it: {exc.strerror or exc}", "items": 0,
                "counts": [], "first": []}
    items = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < len(REPORT_FIELDS):  # not the service's own line: shown as it is, not dropped
            items.append(dict(zip(REPORT_FIELDS, ["?", "?", "?", line, "?", "a line of the report not understood"])))
            continue
        # A tab in a title would shift the fields: the title is whatever lies between kind and ref.
        account, server, kind, *title, ref, reason = fields
        items.append(dict(zip(REPORT_FIELDS, [account, server, kind, "\t".join(title), ref, reason])))
    counts = Counter((i["account"], i["reason"]) for i in items)
    return {"path": str(path), "at": at, "error": None, "items": len(items),
            "counts": [{"account": a, "reason": r, "items": n} for (a, r), n in sorted(counts.items())],
            "first": items[:shown]}


def health(b: Bridge, now: float | None = None) -> list[str]:
    """Why the bridge is unhealthy now; empty when it is not."""
    now = b.clock() if now is None else now
    reasons = [f"{s['name']} is not connected" for s in servers(b) if s["connected"] is False]
    for a in accounts(b.config, b.tokens, b.view, blocked=b.sender.blocked, gates=b.sender.gates):
        if a["blocked"]:
            reasons.append(f"account {a['name']}: Simkl rejected its token: run `simkl-bridge login --account {a['name']}`")
        elif not a["logged_in"]:
            reasons.append(f"account {a['name']} is not logged in: {a['login_hint']}")
        if a["simkl_waits_until"] is not None:
            error = a["last_error"]["error"] if a["last_error"] else "no answer"
            reasons.append(f"Simkl is not reachable for account {a['name']} ({error}); next try in "
                           f"{max(0, round(a['simkl_waits_until'] - now))} s")
    oldest = b.view.oldest_pending(b.config.accounts, now)
    limit = b.config.http.max_pending_age if b.config.http is not None else DEFAULT_MAX_PENDING_AGE
    if oldest is not None and oldest[1] > limit:
        row, waited = oldest
        reasons.append(f"the oldest pending write ({row.account}: {row.what}) has waited {age(waited)}, "
                       f"over http.max_pending_age ({age(limit)})")
    return reasons


def report(b: Bridge, now: float | None = None) -> dict[str, Any]:
    """Everything the status page shows."""
    now = b.clock() if now is None else now
    return {
        "version": bridge.__version__,
        "now": now,
        "health": health(b, now),
        "servers": servers(b),
        "accounts": accounts(b.config, b.tokens, b.view, blocked=b.sender.blocked, gates=b.sender.gates),
        "playing": [{"account": account, "source": f"{e.source}/{e.server}", "user": e.user, "title": e.title or e.ids.key(),
                     "season": e.season, "episodes": list(e.episodes), "state": e.state.value,
                     "progress": round(e.progress, 1)} for account, e in b.playing()],
        "recent": [r.to_json() for r in b.view.recent(b.config.accounts, RECENT)],
        "parked": [r.to_json() for r in b.view.parked(limit=RECENT)],
        "sync": {"delivering": [p.line() for p in b.progress.read().values()], "unmatched": unmatched(b.config.state_dir)},
    }


def age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
