"""Command line: `simkl-bridge run | login | logout | status | queue | doctor | sync | map | retry | demo | emulator`.

Every mistake is one line on standard error and exit status 2, saying what to do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bridge import __version__

if TYPE_CHECKING:  # the commands import what they use when run, so that `--help` stays quick
    from bridge.config import Config
    from bridge.outbox import Outbox
    from bridge.simkl.client import SimklClient

DEFAULT_CONFIG = Path("~/.config/simkl-bridge/config.yaml")


class Mistake(Exception):
    """What the person got wrong, as the line they read (exit status 2)."""


def _load(path: str) -> Config:
    from bridge.service import Refused, read_config

    try:
        return read_config(Path(path).expanduser())[0]
    except Refused as exc:
        raise Mistake(str(exc)) from None


def _account(config: Config, account: str | None) -> str | None:
    if account is not None and account not in config.accounts:
        raise Mistake(f"account {account!r} is not in the config (accounts: {', '.join(config.accounts)})")
    return account


def cmd_run(args: argparse.Namespace) -> int:
    from bridge.service import run

    return run(Path(args.config), log_format=args.log_format, log_file=Path(args.log_file) if args.log_file else None)


def _client(config: Config, token: str | None = None) -> SimklClient:
    from bridge.simkl.client import ClientConfig, SimklClient

    s = config.simkl
    return SimklClient(ClientConfig(base_url=s.api_url, client_id=s.client_id, app_name=s.app_name, read_timeout=s.timeout),
                       token)


def _state_dir(config: Config) -> Path:
    """The state dir, ready to be written: checked before anything asks a person to act."""
    from bridge.state import StateError, prepare

    try:
        return prepare(Path(config.state_dir))
    except StateError as exc:
        raise Mistake(str(exc)) from None


def cmd_login(args: argparse.Namespace) -> int:
    from bridge.simkl.auth import TokenStore, login

    config = _load(args.config)
    account = _account(config, args.account)
    assert account is not None
    store = TokenStore(_state_dir(config))
    env = config.accounts[account].token_env
    if env:
        print(f"note: account {account!r} takes its token from {env} when that is set; this login is used otherwise")
    return 0 if login(_client(config), store, account) else 1


def cmd_logout(args: argparse.Namespace) -> int:
    from bridge.simkl.auth import TokenStore

    config = _load(args.config)
    account = _account(config, args.account)
    assert account is not None
    try:
        removed = TokenStore(Path(config.state_dir).expanduser()).remove(account)
    except OSError as exc:
        raise Mistake(f"cannot remove the token of {account}: {exc.strerror or exc}") from None
    print(f"{account}: {'logged out' if removed else 'was not logged in'}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from bridge.status import Problem, status

    try:
        print(status(_load(args.config), args.json))
    except Problem as exc:
        raise Mistake(str(exc)) from None
    return 0


def _outbox(config: Config) -> Outbox:
    from bridge.outbox import Outbox
    from bridge.state import OUTBOX

    path = Path(config.state_dir).expanduser() / OUTBOX
    if not path.exists():
        raise Mistake(f"there is no outbox in {path.parent} yet: nothing was ever queued with this config")
    try:
        return Outbox(path)
    except Exception as exc:  # a file this user cannot write, or one it must not trust: one line
        raise Mistake(f"cannot open the outbox {path}: {exc}") from None


def cmd_queue(args: argparse.Namespace) -> int:
    from bridge.status import Problem, queue_list

    config = _load(args.config)
    account = _account(config, getattr(args, "account", None))
    if args.action == "list":
        try:
            print(queue_list(config, account, args.state, args.json))
        except Problem as exc:
            raise Mistake(str(exc)) from None
        return 0
    ids = [int(i) for i in args.ids]
    if args.action == "drop" and not ids:
        raise Mistake("queue drop: name the writes to forget by id (see `simkl-bridge queue list`)")
    outbox = _outbox(config)
    try:
        if args.action == "retry":
            n = outbox.requeue_parked(account, ids=ids or None)
            print(f"{n} parked write(s) queued again" + (" (a running daemon sends them within 30 s)" if n else ""))
        else:
            n = outbox.drop(ids)
            print(f"{n} write(s) dropped" + (f"; {len(ids) - n} were already delivered or unknown" if n < len(ids) else ""))
    finally:
        outbox.close()
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from bridge.doctor import main as doctor

    return doctor(_load(args.config), Path(args.config).expanduser())


def cmd_sync(args: argparse.Namespace) -> int:
    from bridge.sync import command
    from bridge.sync.service import Request

    config = _load(args.config)
    account = _account(config, args.account)
    servers = [f"{kind}/{s.name}" for kind, group in (("plex", config.plex), ("jellyfin", config.jellyfin),
                                                       ("kodi", config.kodi)) for s in group]
    if args.server is not None and args.server not in servers:
        raise Mistake(f"--server {args.server!r} is not in the config (servers: {', '.join(servers) or 'none'})")
    if args.apply is not None and not Path(args.apply).is_file():
        raise Mistake(f"--apply {args.apply}: no such plan file (write one with --plan FILE)")
    request = Request(account, args.server, args.direction, args.dry_run)
    try:
        return command.run(config, _state_dir(config), request, plan_file=Path(args.plan) if args.plan else None,
                           apply_file=Path(args.apply) if args.apply else None)
    except ValueError as exc:  # a plan file that is not one (JSON or its shape)
        raise Mistake(f"--apply {args.apply}: not a plan written by --plan ({exc})") from None


def cmd_map(args: argparse.Namespace) -> int:
    from bridge.adapters import mapper
    from bridge.events import EventError
    from bridge.simkl.bodies import history_body

    try:
        payload = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        event = mapper(args.source)(payload)
    except EventError as exc:
        raise Mistake(f"map: {args.file}: {exc}") from None
    except OSError as exc:
        raise Mistake(f"map: {args.file}: {exc.strerror}") from None
    print(json.dumps({"event": event.to_json(), "history": history_body(event)}, indent=2, sort_keys=True))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bridge.demo import main as demo

    return demo(verbose=args.verbose)


def cmd_emulator(args: argparse.Namespace) -> int:
    from bridge.emulator import serve

    serve(args.port, args.host, tuple(args.client_id))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simkl-bridge", description="Keep Simkl in step with Plex, Jellyfin and Kodi.")
    p.add_argument("--version", action="version", version=f"simkl-bridge {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str, config: bool = True,
            into: argparse._SubParsersAction[argparse.ArgumentParser] = sub) -> argparse.ArgumentParser:
        sp = into.add_parser(name, help=help, description=help)
        if config:
            sp.add_argument("-c", "--config", default=str(DEFAULT_CONFIG), help="YAML config file (default: %(default)s)")
        sp.set_defaults(func=func)
        return sp

    r = add("run", cmd_run, "run the bridge daemon")
    r.add_argument("--log-format", choices=("text", "json"), default="text", help="json: one JSON object a line")
    r.add_argument("--log-file", default=None, help="also write the log to this file (reopened after logrotate moves it)")
    add("login", cmd_login, "log a Simkl account in (PIN code flow)").add_argument("--account", required=True)
    add("logout", cmd_logout, "forget an account's Simkl token").add_argument("--account", required=True)
    add("status", cmd_status, "accounts, what waits, what was sent, what is parked, whether the daemon runs").add_argument(
        "--json", action="store_true", help="the same as JSON, for scripts")
    add("doctor", cmd_doctor, "check the config, state dir, listen port, Simkl, tokens and every server")
    q = add("queue", cmd_queue, "list, retry or drop queued writes", config=False).add_subparsers(dest="action", required=True)
    ql = add("list", cmd_queue, "list pending and parked writes", into=q)
    ql.add_argument("--account", default=None)
    ql.add_argument("--state", choices=("pending", "parked", "all"), default="all")
    ql.add_argument("--json", action="store_true")
    qr = add("retry", cmd_queue, "queue parked writes again (all, one account's, or by id)", into=q)
    qr.add_argument("--account", default=None)
    qr.add_argument("ids", nargs="*", type=int, help="write ids (from `queue list`)")
    add("drop", cmd_queue, "forget writes that were not delivered, by id", into=q).add_argument(
        "ids", nargs="*", type=int, help="write ids (from `queue list`)")
    retry = add("retry", cmd_queue, "queue parked writes again (the same as `queue retry`)")
    retry.add_argument("--account", default=None)
    retry.set_defaults(action="retry", ids=[])
    y = add("sync", cmd_sync, "sync the servers' libraries with Simkl now (the daemon does it every sync.every_hours)")
    y.add_argument("--account", default=None, help="only this account (default: every account)")
    y.add_argument("--server", default=None, help="only this server, as <kind>/<name> (e.g. plex/home)")
    y.add_argument("--direction", choices=("to-simkl", "from-simkl", "both"), default=None,
                   help="default: to Simkl, and from Simkl where the server's sync_from_simkl says so")
    y.add_argument("--dry-run", action="store_true", help="plan and print; write nothing anywhere")
    y.add_argument("--plan", default=None, metavar="FILE", help="also write the plan to FILE")
    y.add_argument("--apply", default=None, metavar="FILE", help="carry out exactly the plan in FILE")
    m = add("map", cmd_map, "show how one server payload maps to a Simkl write", config=False)
    m.add_argument("--from", dest="source", required=True,
                   help="event, kodi, plex-webhook, plex-metadata, jellyfin-webhook, jellyfin-session")
    m.add_argument("file", help="payload file, or - for standard input")
    add("demo", cmd_demo, "replay a scripted evening against a local Simkl emulator", config=False).add_argument(
        "-v", "--verbose", action="store_true")
    e = add("emulator", cmd_emulator, "run the local Simkl API emulator", config=False)
    e.add_argument("--port", type=int, default=8990)
    e.add_argument("--host", default="127.0.0.1")
    e.add_argument("--client-id", action="append", default=[], help="a client id it knows besides emulator-client (repeatable)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Mistake as exc:
        print(f"simkl-bridge: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
