"""`simkl-bridge run`: the daemon as a service runs it, from start-up checks to the last line.

Before anything starts, every mistake a person can make with the config, the state dir or the
listen address is one line on standard error and exit status 2. Then: a banner, the bridge, the
config watcher; SIGTERM or SIGINT lets in-flight work finish (or leaves it pending in the outbox,
which is on disk already), says one line and exits 0.
"""

from __future__ import annotations

import errno
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import bridge
from bridge import logs
from bridge.config import Config, ConfigError, parse
from bridge.config_watch import ConfigWatcher
from bridge.daemon import Bridge
from bridge.outbox_guard import OutboxError
from bridge.simkl.auth import login_hint
from bridge.state import DaemonLock, StateError, prepare

log = logging.getLogger("bridge.service")


class Refused(Exception):
    """A start-up mistake, as the one line that says what to do."""


def read_config(path: Path) -> tuple[Config, bytes]:
    try:
        text = path.read_bytes()
        return parse(text.decode("utf-8"), str(path)), text
    except ConfigError as exc:
        raise Refused(str(exc)) from None
    except UnicodeDecodeError:
        raise Refused(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise Refused(f"cannot read config {path}: {exc.strerror or exc}") from None


def _listen_error(config: Config, exc: OSError) -> str:
    listen = config.http.listen if config.http is not None else "?"
    port = listen.rpartition(":")[2]
    if exc.errno == errno.EADDRINUSE:
        return (f"http.listen {listen}: the port is in use (another simkl-bridge? see `ss -ltnp 'sport = :{port}'`); "
                "stop that program or choose another port")
    if exc.errno == errno.EACCES:
        return f"http.listen {listen}: not allowed to listen there (ports below 1024 need root); choose a port above 1024"
    return f"http.listen {listen}: cannot listen there ({exc.strerror or exc}); use an address of this machine"


def banner(b: Bridge, config_path: Path) -> str:
    servers = ", ".join(a.name for a in b.adapters) or "none"
    off = [f"{kind}/{s.name}" for kind, group in (("plex", b.config.plex), ("jellyfin", b.config.jellyfin),
                                                  ("kodi", b.config.kodi)) for s in group if not s.enabled]
    accounts = ", ".join(f"{a} ({'logged in' if b.token_for(a) else 'not logged in: ' + login_hint(a, b.token_env(a))})"
                         for a in b.config.accounts)
    http = f"http {b.http.url} (status page at {b.http.url}/)" if b.http is not None else "no http endpoint"
    return (f"simkl-bridge {bridge.__version__} starting: config {config_path}, state dir {b.config.state_dir}, "
            f"servers {servers}{' (disabled: ' + ', '.join(off) + ')' if off else ''}, accounts {accounts}, {http}")


def run(config_path: Path, *, log_format: logs.Format = "text", log_file: Path | None = None) -> int:
    """The daemon, until SIGTERM/SIGINT: 0, or 2 after a start-up mistake (one line on stderr)."""
    config_path = config_path.expanduser().absolute()
    lock: DaemonLock | None = None
    try:
        config, text = read_config(config_path)
        try:
            logs.setup(config.log_level, log_format, log_file)
        except OSError as exc:
            raise Refused(f"--log-file {log_file}: cannot write it ({exc.strerror or exc})") from None
        state_dir = prepare(Path(config.state_dir))
        lock = DaemonLock(state_dir)
        lock.acquire(config=str(config_path), listen=config.http.listen if config.http else None)
        try:
            b = Bridge(config)
        except OSError as exc:
            raise Refused(_listen_error(config, exc)) from None
    except (Refused, StateError, OutboxError) as exc:  # an outbox that cannot be trusted: how to recover
        if lock is not None:
            lock.release()
        print(f"simkl-bridge: {exc}", file=sys.stderr, flush=True)
        return 2
    stopping = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    log.info(banner(b, config_path))
    b.start()
    watcher = ConfigWatcher(config_path, lambda new: _reloaded(b, config_path, new),
                            lambda why: log.error("config not reloaded, keeping the running one: %s", why), applied=text)
    watcher.start()
    try:
        while not stopping.wait(3600):
            pass
    finally:
        began = time.monotonic()
        watcher.stop()
        unfinished = b.stop()
        pending = b.outbox.pending()
        left = f"; {', '.join(unfinished)} did not finish in time: what it was sending stays pending" if unfinished else ""
        log.info("simkl-bridge stopped (%s) in %.1f s: %d write(s) pending in the outbox, sent at the next start%s",
                 received[0] if received else "exit", time.monotonic() - began, pending, left)
        lock.release()
    return 0


def _reloaded(b: Bridge, path: Path, config: Config) -> None:
    applied, restart = b.reconfigure(config)
    if not applied and not restart:
        log.info("config %s saved without a change that matters", path)
        return
    later = f"; needs a restart to apply: {', '.join(restart)}" if restart else ""
    log.info("config reloaded from %s: applied %s%s", path, ", ".join(applied) or "nothing", later)
