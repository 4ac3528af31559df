"""``rehsos reliability`` (``make reliability``): the run, its options and its one JSON summary.

A province of real processes is started on a fresh namespace (hub + two regency nodes), then
the sections run in order: faults, hostile messages, access matrix, fuzzing, privacy scan (its
tap is bound before anything else happens). A section that breaks down is reported as a failure
and the next one still runs. The summary goes to stdout (and ``summary.json`` in the run's
folder, beside the services' logs); the exit status is 1 on any failure, 2 when the province
could not be started.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

from rehsos_tools.reliability import access, faults, fuzz, hostile, privacy
from rehsos_tools.reliability.people import Register
from rehsos_tools.reliability.province import Province
from rehsos_tools.reliability.report import Section

log = logging.getLogger("rehsos.reliability")

SECTIONS = ("faults", "hostile", "access", "fuzzing", "privacy")
# Full run (CI) and --quick (development): the outages are what takes time.
FULL = {"hub_outage": 60.0, "database_outage": 60.0, "window": 20.0, "settle": 180.0, "hostile_timeout": 20.0,
        "fuzz_examples": 20, "fuzz_budget": 180.0}
QUICK = {"hub_outage": 10.0, "database_outage": 10.0, "window": 6.0, "settle": 60.0, "hostile_timeout": 10.0,
         "fuzz_examples": 5, "fuzz_budget": 90.0}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rehsos reliability",
        description="Faults, hostile messages, access matrix, fuzzing and privacy scan on a throwaway province; "
                    "one JSON summary, exit status 1 on any failure.")
    parser.add_argument("--quick", action="store_true", help="short outages and fewer examples (development)")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql",
                        help="the databases of the hub and the nodes (default: postgresql, as in production)")
    parser.add_argument("--nodes", default="6371,6303", help="the two nodes that keep registering")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"some of {','.join(SECTIONS)}")
    parser.add_argument("--faults", help=f"only these faults: {','.join(faults.FAULTS)}")
    parser.add_argument("--hub-outage", type=float, help="seconds the hub is unreachable (60; --quick 10)")
    parser.add_argument("--database-outage", type=float, help="seconds the hub's database is away (60; --quick 10)")
    parser.add_argument("--window", type=float, help="seconds each other fault lasts (20; --quick 6)")
    parser.add_argument("--settle", type=float, help="at most this long for the hub to count a fault's cases (180)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between two registrations of a node")
    parser.add_argument("--hostile-timeout", type=float, help="seconds to wait for each hostile message (20; --quick 10)")
    parser.add_argument("--fuzz-examples", type=int, help="examples per operation and mode (20; --quick 5)")
    parser.add_argument("--fuzz-budget", type=float, help="seconds for all the fuzzing (180; --quick 90)")
    parser.add_argument("--root", default="var/reliability", help="where each run keeps its configs, data and logs")
    parser.add_argument("--all-cases", action="store_true", help="list passed cases too, not only failed ones")
    return parser


def _option(args, name: str):
    value = getattr(args, name)
    return value if value is not None else (QUICK if args.quick else FULL)[name]


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args) -> int:
    warnings.filterwarnings("ignore", message="\nEventlet is deprecated")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    nodes = [n.strip() for n in args.nodes.split(",") if n.strip()]
    only = [f.strip() for f in args.faults.split(",") if f.strip()] if args.faults else None
    unknown += sorted(set(only or []) - set(faults.FAULTS))
    if unknown or len(nodes) != 2 or len(set(nodes)) != 2:
        print(f"rehsos reliability: unknown {', '.join(unknown) or 'nodes'}; sections: {','.join(SECTIONS)}; "
              f"faults: {','.join(faults.FAULTS)}; --nodes: two node codes", file=sys.stderr)
        return 2
    durations = faults.Durations(hub_outage=_option(args, "hub_outage"),
                                 database_outage=_option(args, "database_outage"), window=_option(args, "window"),
                                 settle=_option(args, "settle"), interval=args.interval)
    started = time.monotonic()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    root = Path(args.root).resolve() / stamp
    summary: dict = {"run": {"started_at": stamp, "quick": args.quick, "database": args.database, "nodes": nodes,
                             "folder": str(root), "durations": vars(durations)}}
    people = Register(seed=int(time.time()))
    province = Province(root, nodes, database=args.database)
    summary["run"]["namespace"] = province.namespace
    try:
        log.info("starting hub and nodes %s on %s (namespace %s)", ",".join(nodes), args.database, province.namespace)
        province.start()
    except Exception as exc:  # noqa: BLE001 - nothing to run against: say why, exit 2
        log.exception("the province could not be started")
        province.close()
        summary["error"] = f"province not started: {type(exc).__name__}: {exc}"
        print(json.dumps(summary, indent=2))
        return 2
    results: dict[str, Section] = {}
    try:
        tapped, tap_error = [], None
        if "privacy" in sections:
            try:  # first of all: the tap must see every message of the run
                tapped = privacy.bind_tap(province)
            except Exception as exc:  # noqa: BLE001 - the privacy section reports it; the others still run
                log.exception("the tap queue could not be bound")
                tap_error = f"tap queue not bound: {type(exc).__name__}: {exc}"
        if "faults" in sections:
            results["faults"] = _guarded("faults", lambda: faults.run(province, people, durations, only))
        if "hostile" in sections:
            results["hostile"] = _guarded("hostile_messages", lambda: hostile.run(
                province, people, _option(args, "hostile_timeout")))
        if "access" in sections:
            results["access"] = _guarded("access_matrix", lambda: access.run(province, people,
                                                                              _known_records(province, people)))
        if "fuzzing" in sections:
            results["fuzzing"] = _guarded("fuzzing", lambda: fuzz.run(
                province, _option(args, "fuzz_examples"), _option(args, "fuzz_budget")))
        if "privacy" in sections:
            results["privacy"] = (Section("privacy", error=tap_error) if tap_error
                                  else _guarded("privacy", lambda: privacy.run(province, people, tapped)))
        # A service that died on its own (not one a fault killed, which was restarted) is a failure too.
        crashed = sorted(name for name, proc in province.procs.items() if proc.poll() is not None)
    finally:
        province.close()
    summary["sections"] = {name: s.as_dict(all_cases=args.all_cases or name in ("faults", "hostile"))
                           for name, s in results.items()}
    summary["cases"] = sum(len(s.cases) for s in results.values())
    summary["crashed_processes"] = crashed
    summary["failures"] = sum(s.failures for s in results.values()) + len(crashed)
    summary["not_yet_possible"] = [{"section": s.name, **n} for s in results.values() for n in s.not_yet_possible]
    summary["ok"] = summary["failures"] == 0
    summary["run"]["duration_s"] = round(time.monotonic() - started, 1)
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    (root / "summary.json").write_text(text)
    print(text, flush=True)
    # The closing line a CI reads (stderr: stdout stays one JSON document).
    print(f"reliability: {summary['cases'] - summary['failures']} passed, {summary['failures']} failed",
          file=sys.stderr)
    return 0 if summary["ok"] else 1


def _guarded(name: str, section) -> Section:
    """Run a section; if it breaks down, that is one failure of the section, and the run goes on."""
    log.info("section: %s", name)
    try:
        return section()
    except Exception as exc:  # noqa: BLE001
        log.exception("section %s broke down", name)
        broken = Section(name)
        broken.error = f"{type(exc).__name__}: {exc}"
        return broken


def _known_records(province: Province, people: Register) -> dict[str, dict[str, str]]:
    """Real ids for the access matrix's paths: two persons and a case of the first node."""
    node = province.nodes[0]
    first, second = (province.register(node, people.new(node).case_body(people.category())) for _ in range(2))
    first.raise_for_status()
    second.raise_for_status()
    return {node: {"case_id": first.json()["id"], "person_id": first.json()["person"]["id"],
                   "other_id": second.json()["person"]["id"]}}

