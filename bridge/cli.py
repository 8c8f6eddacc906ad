"""Command line: `simkl-bridge run | login | logout | status | map | retry | demo | emulator`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bridge import __version__

if TYPE_CHECKING:  # the commands import what they use when run, so that `--help` stays quick
    from bridge.config import Config
    from bridge.simkl.client import SimklClient

DEFAULT_CONFIG = Path("~/.config/simkl-bridge/config.yaml")


def _load(path: str) -> Config:
    from bridge.config import ConfigError, load

    try:
        return load(Path(path).expanduser())
    except ConfigError as exc:
        print(f"simkl-bridge: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:
        print(f"simkl-bridge: cannot read config {path}: {exc.strerror}", file=sys.stderr)
        raise SystemExit(2) from None


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_run(args: argparse.Namespace) -> int:
    from bridge.daemon import run_forever

    config = _load(args.config)
    _logging(config.log_level)
    try:
        run_forever(config, Path(args.config).expanduser())
    except KeyboardInterrupt:
        pass
    return 0


def _client(config: Config, token: str | None = None) -> SimklClient:
    from bridge.simkl.client import ClientConfig, SimklClient

    s = config.simkl
    return SimklClient(ClientConfig(base_url=s.api_url, client_id=s.client_id, app_name=s.app_name, read_timeout=s.timeout),
                       token)


def cmd_login(args: argparse.Namespace) -> int:
    from bridge.simkl.auth import TokenStore, login

    config = _load(args.config)
    if args.account not in config.accounts:
        print(f"simkl-bridge: account {args.account!r} is not in the config (accounts: {', '.join(config.accounts)})",
              file=sys.stderr)
        return 2
    store = TokenStore(Path(config.state_dir).expanduser())
    return 0 if login(_client(config), store, args.account) else 1


def cmd_logout(args: argparse.Namespace) -> int:
    from bridge.simkl.auth import TokenStore

    config = _load(args.config)
    removed = TokenStore(Path(config.state_dir).expanduser()).remove(args.account)
    print(f"{args.account}: {'logged out' if removed else 'was not logged in'}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from bridge.outbox import Outbox
    from bridge.simkl.auth import TokenStore

    config = _load(args.config)
    state_dir = Path(config.state_dir).expanduser()
    tokens = TokenStore(state_dir)
    outbox = Outbox(state_dir / "outbox.sqlite")
    report = {
        "accounts": {a: ("logged in" if tokens.get(a) else "not logged in: run simkl-bridge login --account " + a)
                     for a in config.accounts},
        "outbox": outbox.counts(),
        "parked": [{"account": e.account, "kind": e.kind, "item": e.item_key, "reason": e.last_error} for e in outbox.parked()],
    }
    print(json.dumps(report, indent=2))
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from bridge.outbox import Outbox

    config = _load(args.config)
    n = Outbox(Path(config.state_dir).expanduser() / "outbox.sqlite").requeue_parked(args.account)
    print(f"{n} parked write(s) queued again")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from bridge.adapters import mapper
    from bridge.events import EventError
    from bridge.simkl.bodies import history_body

    try:
        payload = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        event = mapper(args.source)(payload)
    except EventError as exc:
        print(f"simkl-bridge map: {args.file}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"simkl-bridge map: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    print(json.dumps({"event": event.to_json(), "history": history_body(event)}, indent=2, sort_keys=True))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bridge.demo import main as demo

    return demo(verbose=args.verbose)


def cmd_emulator(args: argparse.Namespace) -> int:
    from bridge.emulator import serve

    serve(args.port, args.host)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simkl-bridge", description="Keep Simkl in step with Plex, Jellyfin and Kodi.")
    p.add_argument("--version", action="version", version=f"simkl-bridge {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str,
            config: bool = True) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        if config:
            sp.add_argument("-c", "--config", default=str(DEFAULT_CONFIG), help="YAML config file (default: %(default)s)")
        sp.set_defaults(func=func)
        return sp

    add("run", cmd_run, "run the bridge daemon")
    add("login", cmd_login, "log a Simkl account in (PIN code flow)").add_argument("--account", required=True)
    add("logout", cmd_logout, "forget an account's Simkl token").add_argument("--account", required=True)
    add("status", cmd_status, "show accounts and the outbox (pending, sent, parked)")
    add("retry", cmd_retry, "queue parked writes again").add_argument("--account", default=None)
    m = add("map", cmd_map, "show how one server payload maps to a Simkl write", config=False)
    m.add_argument("--from", dest="source", required=True,
                   help="event, kodi, plex-webhook, plex-metadata, jellyfin-webhook, jellyfin-session")
    m.add_argument("file", help="payload file, or - for standard input")
    add("demo", cmd_demo, "replay a scripted evening against a local Simkl emulator", config=False).add_argument(
        "-v", "--verbose", action="store_true")
    e = add("emulator", cmd_emulator, "run the local Simkl API emulator", config=False)
    e.add_argument("--port", type=int, default=8990)
    e.add_argument("--host", default="127.0.0.1")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
