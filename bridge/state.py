"""The state directory (tokens, the outbox): checked before anything is started, each mistake one
line saying what to run; and the lock that says a daemon runs on it.

A state dir that cannot be written is refused before the daemon starts or the PIN flow begins
(not after the person approved the code); one that others can read is refused rather than fixed
behind the owner's back: tokens are as good as passwords.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pwd
import stat
import tempfile
import time
from pathlib import Path
from typing import IO, Any

OUTBOX = "outbox.sqlite"
TOKENS = "tokens"
LOCK = "daemon.lock"


class StateError(Exception):
    """One line: what is wrong with the state dir and what to run."""


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def loose(path: Path) -> str | None:
    """The chmod to run when group or others can read `path`, or None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if mode & 0o077 == 0:
        return None
    private = 0o700 if path.is_dir() else 0o600
    who = "group and others" if mode & 0o007 else "its group"
    return f"{path} is readable by {who} (mode {mode:04o}): run chmod {private:o} {path}"


def check_private(state_dir: Path) -> None:
    """The state dir, its tokens folder and every token file: the owner's alone."""
    tokens = state_dir / TOKENS
    files = sorted(tokens.glob("*.json")) if tokens.is_dir() else []
    outbox = [state_dir / f"{OUTBOX}{end}" for end in ("", "-wal", "-shm")]
    for path in [state_dir, tokens, *files, *outbox]:
        why = loose(path)
        if why:
            raise StateError(why)


def prepare(state_dir: Path) -> Path:
    """The state dir ready to be written by this user: created (0700) when missing, else refused
    with what to do when it is a file, is not writable, or others can read it."""
    state_dir = state_dir.expanduser()
    if state_dir.exists() and not state_dir.is_dir():
        raise StateError(f"state_dir {state_dir} is a file, not a directory: remove it or set state_dir to a directory")
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except PermissionError:
        raise StateError(f"cannot create state_dir {state_dir}: permission denied; create it for user {_user()}: "
                         f"sudo install -d -m 700 -o {_user()} {state_dir}") from None
    except (FileExistsError, NotADirectoryError):
        raise StateError(f"cannot create state_dir {state_dir}: a part of that path is a file") from None
    check_private(state_dir)
    try:
        with tempfile.TemporaryFile(dir=state_dir):
            pass
    except OSError as exc:
        why = "read-only file system" if exc.errno == errno.EROFS else exc.strerror or type(exc).__name__
        raise StateError(f"state_dir {state_dir} is not writable by user {_user()} ({why}): "
                         f"run sudo chown -R {_user()} {state_dir}") from None
    return state_dir


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (SQLite gives its -wal and -shm files the
    mode of the database file)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class DaemonLock:
    """An exclusive lock on `daemon.lock` for as long as the daemon runs: a second daemon on the same
    state dir would send every write twice. The file says who holds it, for `status`."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / LOCK
        self._file: IO[str] | None = None

    def acquire(self, **about: Any) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        f = os.fdopen(fd, "r+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(f)
            f.close()
            raise StateError(f"another simkl-bridge (pid {holder.get('pid', '?')}) runs with state_dir {self.path.parent}: "
                             "stop it first (one daemon per state dir)") from None
        f.seek(0)
        f.truncate()
        json.dump({"pid": os.getpid(), "started": time.time(), **about}, f)
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def running(state_dir: Path) -> dict[str, Any] | None:
    """What the running daemon wrote in its lock file, or None when no daemon holds the lock."""
    try:
        with open(state_dir.expanduser() / LOCK) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read(f) or {"pid": "?"}
    except OSError:
        pass
    return None


def _read(f: IO[str]) -> dict[str, Any]:
    try:
        f.seek(0)
        data = json.loads(f.read() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
