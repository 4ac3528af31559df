"""``rehsos``: the operator's command.

  rehsos up [--nodes default|all|6371,6303]   run hub + nodes locally (development)
  rehsos serve --config FILE                   run one node or the hub (= rehsos-serve)
  rehsos migrate --config FILE                 apply database migrations
  rehsos bootstrap --config-dir DIR            create the broker topology (idempotent)
  rehsos redrive --config hub.yaml [--id N]     apply the hub's dead letters again
  rehsos hub rebuild --config hub.yaml         replay the hub's event store into fresh read models
  rehsos token create|list|revoke|password --config FILE
  rehsos rekey --config FILE                   re-announce a node's person keys after a key rotation
  rehsos definitions --out DIR                 RabbitMQ definitions files for containers
  rehsos compose [--nodes all] [--out FILE]    the province's compose file, configs, definitions
  rehsos reliability [--quick]                 faults, hostile messages, access, fuzzing, privacy: JSON
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rehsos.auth import DEFAULT_TOKEN_DAYS


def _settings(args):
    from rehsos import config

    try:
        return config.load(args.config)
    except config.ConfigError as exc:
        sys.exit(f"rehsos: {exc}")


def cmd_serve(args) -> int:
    # The service process is the kernel's own (rehsos.serve): it imports nothing of the tooling.
    argv = [sys.executable, "-m", "rehsos.serve"] + (["--config", args.config] if args.config else [])
    os.execv(sys.executable, argv + (["--migrate"] if args.migrate else []))


def cmd_migrate(args) -> int:
    from rehsos import db

    settings = _settings(args)
    for name in db.migrate_all(settings):
        print(f"migrated {settings.node}/{name}")
    return 0


def cmd_bootstrap(args) -> int:
    from rehsos import config
    from rehsos_tools import broker, devrun

    try:
        report = devrun.bootstrap_from_configs(args.config_dir, remove=args.remove)
    except broker.ManagementUnavailable as exc:
        print(f"rehsos bootstrap: {exc}", file=sys.stderr)
        return 2
    except config.ConfigError as exc:
        print(f"rehsos bootstrap: {exc}", file=sys.stderr)
        return 2
    if report is None:
        print("removed")
    elif report.changed:
        print("\n".join(f"created or updated {c}" for c in report.changes))
    else:
        print("topology already in place: nothing changed")
    return 0


def _read_password(args, user: str) -> str:
    """The new password: one line of stdin with --password-stdin (scripts), else typed twice, unseen."""
    from getpass import getpass

    from rehsos import auth

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass(f"Kata sandi baru untuk {user}: ")
        if getpass("Ulangi kata sandi: ") != password:
            sys.exit(f"rehsos token {args.action}: kedua kata sandi tidak sama")
    problem = auth.password_problem(password, user)
    if problem:
        sys.exit(f"rehsos token {args.action}: {problem}")
    return password


def cmd_token(args) -> int:
    from rehsos import auth
    from rehsos.db import create_engine

    settings = _settings(args)
    store = auth.TokenStore(create_engine(settings.auth_database_uri))
    if args.action == "create":
        if not args.role or not args.user:
            sys.exit("rehsos token create: --role and --user are required")
        # Asked before the token exists: a refused password leaves no account half made.
        password = _read_password(args, args.user) if args.password or args.password_stdin else None
        try:
            token = store.issue(user=args.user, name=args.name, role=args.role, node=settings.node, days=args.days)
        except ValueError as exc:
            sys.exit(f"rehsos token create: {exc}")
        if password is not None:
            store.set_password(store.lookup(token).token_id, password)
            print(f"password set: {args.user} signs in to the pages of node {settings.node} with it",
                  file=sys.stderr)
        print(token)
    elif args.action == "list":
        for row in store.list():
            print(json.dumps(row, default=str))
    elif args.action == "revoke":
        if args.id is None:
            sys.exit("rehsos token revoke: --id is required")
        if not store.revoke(args.id):
            sys.exit(f"rehsos token revoke: no active token with id {args.id}")
        print(f"revoked {args.id}")
    elif args.action == "password":
        if args.id is None:
            sys.exit("rehsos token password: --id is required (see rehsos token list)")
        account = next((row for row in store.list() if row["id"] == args.id), None)
        if account is None or account["revoked_at"] is not None:
            sys.exit(f"rehsos token password: no active token with id {args.id}")
        try:
            store.set_password(args.id, _read_password(args, account["user"]))
        except auth.PasswordRejected as exc:
            sys.exit(f"rehsos token password: {exc}")
        print(f"password set for {account['user']} (token {args.id}); their page sessions with the old one ended")
    return 0


def cmd_redrive(args) -> int:
    """Redrive the hub's dead letters through its running API, with a token that lives one minute."""
    import requests

    from rehsos import auth
    from rehsos.db import create_engine

    settings = _settings(args)
    if not settings.is_hub:
        sys.exit("rehsos redrive: give the hub's configuration (node: hub)")
    store = auth.TokenStore(create_engine(settings.auth_database_uri))
    token = store.issue(user="rehsos-redrive", name="rehsos redrive (command line)", role=auth.ADMIN,
                        node=settings.node, days=1)
    path = f"/api/v1/quarantine/{args.id}/redrive" if args.id is not None else "/api/v1/quarantine/redrive"
    try:
        resp = requests.post(settings.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    except requests.RequestException as exc:
        sys.exit(f"rehsos redrive: the hub does not answer at {settings.base_url} ({exc}); is it running?")
    finally:
        store.revoke(store.lookup(token).token_id)
    if resp.status_code != 200:
        sys.exit(f"rehsos redrive: {resp.status_code} {resp.json().get('error', {}).get('message', resp.text)}")
    results = resp.json() if isinstance(resp.json(), list) else [resp.json()]
    for result in results:
        print(json.dumps(result))
    failed = [r for r in results if r["outcome"] == "failed"]
    print(f"{len(results) - len(failed)} redriven, {len(failed)} still failing", file=sys.stderr)
    return 1 if failed else 0


def cmd_hub_rebuild(args) -> int:
    """Replay the hub's event store into fresh read models, with a progress bar, and swap them in."""
    from tqdm import tqdm

    from rehsos import registry
    from reporting import rebuild  # the hub's own code: its tables and handlers

    settings = _settings(args)
    if not settings.is_hub:
        sys.exit("rehsos hub rebuild: give the hub's configuration (node: hub)")
    bar = tqdm(total=0, unit="event", desc="rebuild", file=sys.stderr, mininterval=0.5, dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        result = rebuild.rebuild(settings.database_uri_for(registry.get("reporting").database), on_progress=progress)
    except rebuild.RebuildError as exc:
        bar.close()
        sys.exit(f"rehsos hub rebuild: {exc}")
    bar.close()
    print(f"rebuilt {len(result.tables)} read-model tables ({', '.join(result.tables)}): "
          f"{result.events} events replayed in {result.seconds:.1f} s ({result.per_second:.0f} events/s), "
          f"{result.arrived_meanwhile} of them accepted while it ran")
    return 0


def cmd_rekey(args) -> int:
    from rehsos import config
    from rehsos_tools import rekey

    settings = _settings(args)
    try:
        changed = rekey.rekey_node(settings)
    except config.ConfigError as exc:
        sys.exit(f"rehsos rekey: {exc}")
    print(f"node {settings.node}: {changed} person keys re-announced")
    return 0


def cmd_definitions(args) -> int:
    from rehsos_tools import devrun

    for path in devrun.write_definitions(args.out, args.nodes):
        print(f"wrote {path}")
    return 0


def cmd_compose(args) -> int:
    from rehsos_tools import compose

    if args.out == "-":
        sys.stdout.write(compose.render(args.nodes))
        return 0
    deploy = Path(args.deploy)
    for path in compose.write(args.nodes, Path(args.out), deploy):
        print(f"wrote {path}")
    print(f"then: python3 deploy/make_env.py --config-dir {deploy / 'config'} (the offices' secrets)")
    return 0


def cmd_reliability(args) -> int:
    from rehsos_tools.reliability.run import main

    return main(args.options)


def cmd_up(args) -> int:
    from rehsos_tools import demo, devrun

    return devrun.up(nodes=args.nodes, port_base=args.port_base, hub_port=args.hub_port, demo=not args.no_demo,
                     demo_cases=args.demo_cases or demo.CASES_PER_NODE, detach_after_start=args.check,
                     namespace=args.namespace)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rehsos", description="Rehsos Kalsel operator command")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="run the hub and nodes locally (development)")
    p.add_argument("--nodes", default="default", help="'default' (63,6371,6303), 'all', or codes: 6371,6303")
    p.add_argument("--port-base", type=int, default=8100, help="node ports: base + last two digits of the code")
    p.add_argument("--hub-port", type=int, default=8000)
    p.add_argument("--no-demo", action="store_true", help="do not register demo cases")
    p.add_argument("--demo-cases", type=_positive, metavar="N",
                   help="demo cases per node (default 100); fewer start all 14 offices faster")
    p.add_argument("--check", action="store_true", help="start, verify, print, then stop (smoke test)")
    p.add_argument("--namespace", default="", help="prefix of vhost and broker-user names (a second province)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("serve", help="run one node or the hub")
    p.add_argument("--config", required=False)
    p.add_argument("--migrate", action="store_true", help="apply migrations before starting")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="apply the database migrations of a node or the hub")
    p.add_argument("--config", required=False)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("bootstrap", help="create the broker topology for the configs in a directory")
    p.add_argument("--config-dir", required=True, help="directory with hub.yaml and node-<code>.yaml")
    p.add_argument("--remove", action="store_true", help="delete the vhosts and node users instead")
    p.set_defaults(func=cmd_bootstrap)

    p = sub.add_parser("redrive", help="apply the hub's dead letters again (all, or --id N)")
    p.add_argument("--config", required=False)
    p.add_argument("--id", type=int, help="one dead letter (see GET /api/v1/quarantine)")
    p.set_defaults(func=cmd_redrive)

    p = sub.add_parser("hub", help="operations on the provincial hub")
    hub = p.add_subparsers(dest="hub_command", required=True)
    p = hub.add_parser("rebuild", help="replay the event store into fresh read models and swap them in")
    p.add_argument("--config", required=False, help="the hub's configuration (node: hub)")
    p.set_defaults(func=cmd_hub_rebuild)

    p = sub.add_parser("token", help="manage the accounts (API tokens, passwords) of a node or the hub")
    p.add_argument("action", choices=("create", "list", "revoke", "password"),
                   help="password: set or reset the password of the account --id")
    p.add_argument("--config", required=False)
    p.add_argument("--role")
    p.add_argument("--user", help="the person who holds the token (one per person: siti.aminah, a NIP)")
    p.add_argument("--name", help="their full name, for lists (default: the user)")
    p.add_argument("--days", type=_positive, default=DEFAULT_TOKEN_DAYS, metavar="N",
                   help="days the token is valid (default %(default)s)")
    p.add_argument("--id", type=int)
    p.add_argument("--password", action="store_true",
                   help="create: also give the account a password for the pages (typed twice, not shown)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin (scripts)")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("rekey", help="after the province's person key changed: re-announce this node's "
                                     "person keys to the hub")
    p.add_argument("--config", required=False)
    p.set_defaults(func=cmd_rekey)

    p = sub.add_parser("definitions", help="write RabbitMQ definitions files (secret-free topology)")
    p.add_argument("--out", default="deploy/rabbitmq")
    p.add_argument("--nodes", default="63,6371,6303")
    p.set_defaults(func=cmd_definitions)

    p = sub.add_parser("compose", help="write the province's compose file for a node list")
    p.add_argument("--nodes", default="default", help="default (63,6371,6303), all (14 offices), or codes")
    p.add_argument("--out", default="docker-compose.yml", help="file to write, or - for stdout (that file only)")
    p.add_argument("--deploy", default="deploy", help="where the offices' configs (config/) and broker "
                   "definitions (rabbitmq/) go")
    p.set_defaults(func=cmd_compose)

    # Its options (`rehsos reliability --help`) live with the run: see main().
    p = sub.add_parser("reliability", add_help=False, help="prove reliability on a throwaway province (JSON)")
    p.set_defaults(func=cmd_reliability)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, options = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.command == "reliability":
        args.options = options
    elif options:
        parser.error(f"unrecognized arguments: {' '.join(options)}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
