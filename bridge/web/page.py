"""The status page's HTML: one self-contained page (no script, no outside resource), the login form,
and nothing else. Every value from a server, Simkl or the config is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

from bridge.times import iso

STYLE = """
body{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em} table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #ddd;vertical-align:top}
.ok{color:#17692b} .bad{color:#a4161a} .muted{color:#777} form{display:inline} button{cursor:pointer}
"""


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width"><style>{STYLE}</style></head><body>{body}</body></html>')


def login(message: str = "") -> str:
    note = f'<p class="bad" id="message">{escape(message)}</p>' if message else ""
    return _page("simkl-bridge: log in", f"""<h1>simkl-bridge</h1>{note}
<p>This page shows what your household watches. Enter the bridge's secret (<code>http.secret</code> in
its config) once; this browser keeps it in a cookie.</p>
<form method="post" action="/login"><label>Secret <input type="password" name="secret" id="secret"
autocomplete="current-password" required></label> <button type="submit" id="login">Open</button></form>""")


def _when(ts: float | None) -> str:
    return iso(ts) if ts else "never"


def _rows(cells: list[list[str]], head: list[str], empty: str) -> str:
    if not cells:
        return f'<p class="muted">{escape(empty)}</p>'
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _server_state(s: dict[str, Any]) -> str:
    if not s["enabled"]:
        return '<span class="muted">disabled</span>'
    if s["connected"] is None:
        return '<span class="muted">webhooks only</span>'
    return '<span class="ok">connected</span>' if s["connected"] else '<span class="bad">not connected</span>'


def _result(w: dict[str, Any]) -> str:
    if w["state"] == "sent":
        return '<span class="ok">delivered</span>'
    if w["state"] == "parked":
        return f'<span class="bad">parked: {escape(w["error"])}</span>'
    failed = f': last try failed ({escape(w["error"])})' if w["error"] else ""
    return f'<span class="muted">waiting{failed}</span>'


def _sync(sync: dict[str, Any]) -> str:
    """The additions on their way, and the last sync's matching report."""
    delivering = "".join(f"<p>{escape(line)}</p>" for line in sync["delivering"])
    u = sync["unmatched"]
    if u is None:
        return delivering + '<p class="muted">No library sync has run yet.</p>'
    if u["error"]:
        return delivering + f'<p class="bad">The matching report {escape(u["path"])}: {escape(u["error"])}</p>'
    if not u["items"]:
        return delivering + f'<p class="ok">The last sync ({_when(u["at"])}) matched every item.</p>'
    counts = _rows([[escape(c["account"]), escape(c["reason"]), f'{c["items"]:,}'] for c in u["counts"]],
                   ["account", "why not matched", "items"], "")
    first = _rows([[escape(i[k]) for k in ("account", "server", "kind", "title", "ref", "reason")] for i in u["first"]],
                  ["account", "server", "kind", "title", "ref", "why"], "")
    more = u["items"] - len(u["first"])
    rest = f" The other {more:,} are" if more else " They are"
    return (delivering + f'<p>The last sync ({_when(u["at"])}) could not match {u["items"]:,} item(s).{rest} listed in '
            f'<code>{escape(u["path"])}</code>.</p>{counts}<p>The first {len(u["first"])}:</p>{first}')


def status(report: dict[str, Any], csrf: str) -> str:
    health = report["health"]
    verdict = ('<p class="ok" id="health">Healthy: every server is connected and Simkl takes every write.</p>' if not health
               else '<ul class="bad" id="health">' + "".join(f"<li>{escape(r)}</li>" for r in health) + "</ul>")
    servers = _rows([[escape(s["name"]), _server_state(s), str(s["disconnects"])] for s in report["servers"]],
                    ["server", "connection", "reconnects"], "No media server is configured.")
    playing = _rows([[escape(p["account"]), escape(p["source"]), escape(p["user"]),
                      escape(p["title"] + (f" S{p['season']:02d}E{p['episodes'][0]:02d}" if p["episodes"] else "")),
                      escape(p["state"]), f"{p['progress']}%"] for p in report["playing"]],
                    ["account", "where", "user", "what", "state", "progress"], "Nothing is playing.")
    accounts = _rows([[escape(a["name"]),
                       ('<span class="bad">token refused by Simkl</span>' if a["blocked"] else
                        '<span class="ok">logged in</span>' if a["logged_in"] else
                        f'<span class="bad">not logged in: {escape(a["login_hint"] or "")}</span>'),
                       str(a["pending"]), str(a["sent"]), str(a["parked"]), _when(a["last_sent_at"])]
                      for a in report["accounts"]],
                     ["account", "Simkl", "pending", "sent", "parked", "last delivery"], "No account.")
    recent = _rows([[_when(w["done_at"] or w["at"]), escape(w["account"]), escape(w["what"]), _result(w)]
                    for w in report["recent"]], ["when", "account", "write", "result"], "No write yet.")
    parked = _rows([[escape(w["account"]), escape(w["what"]), escape(w["error"]), _when(w["done_at"]),
                     f'<form method="post" action="/retry"><input type="hidden" name="csrf" value="{escape(csrf)}">'
                     f'<input type="hidden" name="id" value="{w["id"]}">'
                     f'<button type="submit" id="retry-{w["id"]}">Retry</button></form>'] for w in report["parked"]],
                   ["account", "write", "why it is parked", "parked at", ""], "No parked write.")
    logout = (f'<form method="post" action="/logout"><input type="hidden" name="csrf" value="{escape(csrf)}">'
              '<button type="submit">Forget the secret in this browser</button></form>')
    return _page("simkl-bridge status", f"""<h1>simkl-bridge {escape(report["version"])}</h1>
<p class="muted">as of {iso(report["now"])} · <a href="/">refresh</a></p>{verdict}
<h2>Media servers</h2>{servers}<h2>Playing now</h2>{playing}<h2>Simkl accounts</h2>{accounts}
<h2>Parked writes</h2><div id="parked">{parked}</div>
<h2>Library sync</h2><div id="sync">{_sync(report["sync"])}</div>
<h2>Last {len(report["recent"])} writes</h2><div id="recent">{recent}</div><p>{logout}</p>""")
