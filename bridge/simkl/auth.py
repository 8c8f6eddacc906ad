"""Logging in to Simkl (the PIN/device flow) and keeping tokens on disk.

Simkl tokens last about five years and cannot be refreshed, so a token is simply stored, one file
per account, readable by the owner only. `login` never prints the token. An account may take its
token from an environment variable instead (`token_env`); `token_for` is the one rule for which
token counts, for the daemon and `status` alike.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from bridge.simkl.client import SimklClient, SimklError

_ACCOUNT = re.compile(r"^[A-Za-z0-9_.-]+$")


class TokenStore:
    def __init__(self, state_dir: str | Path):
        self.dir = Path(state_dir).expanduser() / "tokens"

    def _path(self, account: str) -> Path:
        if not _ACCOUNT.match(account) or account in (".", ".."):
            raise ValueError(f"account name {account!r}: use letters, digits, '-', '_' or '.'")
        return self.dir / f"{account}.json"

    def get(self, account: str) -> str | None:
        try:
            data = json.loads(self._path(account).read_text())
        except (OSError, ValueError):
            return None
        token = data.get("access_token") if isinstance(data, dict) else None
        return token if isinstance(token, str) and token else None

    def put(self, account: str, token: str) -> None:
        path = self._path(account)
        self.dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.dir.mkdir(exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"access_token": token, "created_at": int(time.time())}, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def remove(self, account: str) -> bool:
        try:
            self._path(account).unlink()
            return True
        except FileNotFoundError:
            return False

    def accounts(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("*.json")) if self.dir.is_dir() else []


def token_for(store: TokenStore, account: str, token_env: str | None,
              environ: Mapping[str, str] = os.environ) -> tuple[str | None, str]:
    """(the token, where it comes from): the variable named by `token_env` when it is set, else the
    token `login` stored; (None, "") when there is neither."""
    if token_env and environ.get(token_env):
        return environ[token_env], f"environment variable {token_env}"
    token = store.get(account)
    return (token, "login") if token else (None, "")


def login_hint(account: str, token_env: str | None) -> str:
    """What to do for an account that has no token."""
    run = f"run `simkl-bridge login --account {account}`"
    return f"{run} or set {token_env}" if token_env else run


def login(
    client: SimklClient,
    store: TokenStore,
    account: str,
    *,
    out: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Run Simkl's PIN flow for `account`; True once the token is stored."""
    try:
        start = client.pin_start()
    except SimklError as exc:
        out(f"login: could not start: {exc}")
        return False
    code = start.get("user_code")
    url = start.get("verification_uri") or start.get("verification_url") or "https://simkl.com/pin"
    if not isinstance(code, str) or not code:
        out("login: Simkl's reply had no user_code")
        return False
    interval = _positive(start.get("interval"), 5.0)
    deadline = clock() + _positive(start.get("expires_in"), 900.0)
    out(f"To connect account '{account}': open {url} and enter the code {code}")
    while clock() < deadline:
        sleep(interval)
        try:
            reply = client.pin_poll(code)
        except SimklError as exc:
            out(f"login: still waiting ({exc})")
            continue
        if reply.get("result") == "OK" and isinstance(reply.get("access_token"), str):
            try:
                store.put(account, reply["access_token"])
            except OSError as exc:  # checked before the code was shown; the disk can still fill up
                out(f"login: Simkl approved the code but the token could not be stored in {store.dir}: "
                    f"{exc.strerror or exc}; fix that and run login again")
                return False
            out(f"Account '{account}' is logged in.")
            return True
        if "device_code" in reply or "user_code" in reply:
            out(f"login: the code {code} expired or was already used; run login again")
            return False
        if str(reply.get("message", "")).lower().startswith("slow down"):
            interval *= 2
    out(f"login: the code {code} expired before it was entered; run login again")
    return False


def _positive(value: object, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else default
