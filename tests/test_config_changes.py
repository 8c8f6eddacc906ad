"""What a reload changed, and which of it needs a restart."""

from __future__ import annotations

from bridge.config import parse
from bridge.config.changes import changed, needs_restart

BASE = "simkl: {client_id: abc}\naccounts: {alice: {}}\nhttp: {secret: a-secret-of-24-characters}\n"


def test_changes_are_named_by_key_and_sorted_into_now_and_after_a_restart() -> None:
    old = parse(BASE)
    new = parse(BASE.replace("secret: a-secret", "listen: '127.0.0.1:9000', secret: b-secret") +
                "log_level: debug\nengine: {watched_threshold: 90}\nkodi: [{name: lr}]\n")
    keys = changed(old, new)
    assert sorted(keys) == ["engine.watched_threshold", "http.listen", "http.secret", "kodi", "log_level"]
    assert sorted(k for k in keys if needs_restart(k)) == ["http.listen", "kodi"]
    assert changed(old, parse(BASE)) == []
    assert needs_restart("http") and needs_restart("state_dir") and not needs_restart("users")
