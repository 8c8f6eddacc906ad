"""That the outbox file is the one the bridge opened, whole, and this state dir's own; what is done
when it is not. Everything acknowledged lives in it, so it is never replaced by an empty one unseen.

- At start: a file SQLite finds damaged (`PRAGMA quick_check`, or not a database at all) is copied
  aside and refused; so is a file that is empty or missing where this state dir had an outbox, one
  that belongs to another outbox, or one older than the outbox the bridge last ran with (a backup
  put back). Each refusal is one line saying how to recover.
- While running, before every commit: the path still names the file that was opened (device and
  inode). A file deleted or replaced under the bridge is written back from the open connection,
  which still holds everything acknowledged; a file that replaced it is kept aside.
- The seal (`<outbox>.seal`, JSON) names the outbox (an id also stored in the file) and its highest
  write id; it is renewed at start and by `Outbox.renew_seal` (the daemon's hourly upkeep).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.outbox import Outbox

log = logging.getLogger("bridge.outbox")

FileId = tuple[int, int]  # (device, inode)


class OutboxError(Exception):
    """The outbox could not store or read (disk full, unwritable, damaged): nothing of the call was
    stored. The message is one line."""


class OutboxRefused(OutboxError):
    """The outbox file cannot be used as it is: the bridge does not start on it."""


def seal_path(path: Path) -> Path:
    return path.with_name(path.name + ".seal")


def file_id(path: Path) -> FileId | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def read_seal(path: Path) -> dict[str, Any] | None:
    try:
        seal = json.loads(seal_path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise OutboxRefused(f"{seal_path(path)}: unreadable ({exc}); delete it to accept {path.name} as it is") from None
    if not isinstance(seal, dict) or not isinstance(seal.get("id"), str) or type(seal.get("writes")) is not int:
        raise OutboxRefused(f"{seal_path(path)}: not an outbox seal; delete it to accept {path.name} as it is")
    return seal


def before_open(path: Path, seal: dict[str, Any] | None) -> None:
    """Refuse a missing or empty file where the seal says an outbox was: SQLite would start empty."""
    if seal is None:
        return
    size = path.stat().st_size if path.exists() else None
    if size:
        return
    what = "missing" if size is None else "empty (0 bytes)"
    raise OutboxRefused(
        f"{path} is {what}, but this state dir had an outbox (sealed at write #{seal['writes']}): put it back "
        f"from a backup, or delete {seal_path(path)} to start with an empty outbox")


def refuse_damaged(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a file SQLite cannot read whole, after copying it aside for `.recover`."""
    problem = damage(db)
    if problem:
        copy = keep_copy(path, "damaged")
        raise OutboxRefused(
            f"{path} is damaged ({problem}); a copy is kept at {copy.name}. To recover what it holds: "
            f"`sqlite3 {copy.name} .dump | sqlite3 {path.name}.recovered`, then move that over {path.name}; "
            f"or move {path.name} away and delete {seal_path(path).name} to start empty")


def own_id(db: sqlite3.Connection, path: Path, seal: dict[str, Any] | None) -> str:
    """The opened file's id, checked against the seal (given one now when it has none)."""
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
    row = db.execute("SELECT value FROM meta WHERE key='id'").fetchone()
    if seal is not None:
        if row is None or row[0] != seal["id"]:
            raise OutboxRefused(
                f"{path} is not the outbox this state dir had (its id is {row[0] if row else 'none'}, the seal's "
                f"{seal['id']}): put that one back, or delete {seal_path(path)} to use this file")
        if highest_write(db) < seal["writes"]:
            raise OutboxRefused(
                f"{path} is older than the outbox the bridge last ran with (writes up to #{highest_write(db)}, "
                f"it had #{seal['writes']}): writes acknowledged since are missing; put the newer file back, or "
                f"delete {seal_path(path)} to go on with this one")
        return str(row[0])
    if row is not None:
        return str(row[0])
    new = uuid.uuid4().hex
    db.execute("INSERT INTO meta (key, value) VALUES ('id', ?)", (new,))
    return new


def damage(db: sqlite3.Connection) -> str:
    """What SQLite finds wrong with the file, as one short line ('' when it is whole)."""
    try:
        found = [str(r[0]) for r in db.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.DatabaseError as exc:
        found = [str(exc)]
    if found == ["ok"]:
        return ""
    text = " ".join(" ".join(found).replace("*** in database main ***", "").split())
    return text if len(text) <= 160 else text[:159] + "…"


def highest_write(db: sqlite3.Connection) -> int:
    """The highest write id ever given (AUTOINCREMENT keeps it past pruning): grows, never shrinks."""
    try:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='writes'").fetchone()
    except sqlite3.OperationalError:  # no AUTOINCREMENT table yet
        return 0
    return int(row[0]) if row else 0


def write_seal(path: Path, outbox_id: str, writes: int) -> None:
    """Atomically: a crash leaves the old seal or the new one."""
    target = seal_path(path)
    tmp = target.with_name(target.name + ".tmp")
    with open(os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        json.dump({"id": outbox_id, "writes": writes}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    _sync_dir(path.parent)


def keep_copy(path: Path, why: str) -> Path:
    """A copy of the file (and its WAL) beside it, named for when it was last written: a refusal
    repeated at every start keeps one copy, not one per attempt."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(path.stat().st_mtime))
    copy = path.with_name(f"{path.name}.{why}-{stamp}")
    for suffix in ("", "-wal"):
        source = Path(str(path) + suffix)
        if source.exists() and source.stat().st_size and not Path(str(copy) + suffix).exists():
            shutil.copy2(source, str(copy) + suffix)
    return copy


def write_back(db: sqlite3.Connection, path: Path, connect: Callable[[], sqlite3.Connection]) -> sqlite3.Connection:
    """The open connection's whole content written to `path` again (it was deleted or replaced);
    returns a connection to the new file. The caller holds the outbox's lock."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    kept = None
    if path.exists():
        kept = path.with_name(f"{path.name}.replaced-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        os.replace(path, kept)
    tmp = path.with_name(path.name + ".restoring")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))  # private like the file it stands for
    copy = sqlite3.connect(tmp)
    try:
        db.backup(copy)
    finally:
        copy.close()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    # The old connection removes its -wal and -shm by name when it closes: before the new file is there.
    db.close()
    os.replace(tmp, path)
    _sync_dir(path.parent)
    log.warning("%s was %s while the bridge ran; written back from the open outbox, nothing lost%s", path,
                "replaced" if kept else "deleted", f" (the other file is kept as {kept.name})" if kept else "")
    return connect()


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT under the outbox lock, on the file the outbox opened; ROLLBACK on
    any error. SQLite's failures come out as OutboxError: nothing of the transaction is stored."""

    def __init__(self, outbox: Outbox):
        self.outbox = outbox

    def __enter__(self) -> sqlite3.Connection:
        outbox = self.outbox
        outbox._lock.acquire()
        try:
            if outbox._broken:
                raise OutboxError(outbox._broken)
            outbox._guard_file()
            outbox._db.execute("BEGIN IMMEDIATE")
        except (sqlite3.Error, OSError) as exc:
            outbox._lock.release()
            raise OutboxError(f"{outbox.path}: {exc}") from exc
        except BaseException:
            outbox._lock.release()
            raise
        return outbox._db

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        db = self.outbox._db
        try:
            try:
                db.execute("ROLLBACK" if exc_type else "COMMIT")
            except sqlite3.Error as failed:
                # A COMMIT that fails (a full disk) leaves its transaction open: end it.
                if db.in_transaction:
                    db.execute("ROLLBACK")
                exc = exc or failed
            if isinstance(exc, sqlite3.Error):
                raise OutboxError(f"{self.outbox.path}: {exc}") from exc
        finally:
            self.outbox._lock.release()
