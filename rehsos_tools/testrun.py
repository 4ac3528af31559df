"""The whole test suite in a few pytest processes at once (``make test``).

Most of a test's time is spent waiting (on the broker, a service starting, a page loading), so on
two cores several test files run side by side finish far sooner than one after the other.
pytest-xdist cannot do it here: it drives its workers over execnet threads, which eventlet's
monkey patching (every test process needs it) stalls. So this splits the test files into shards,
heaviest first onto the lightest shard, by the time each file took last (``tests/durations.json``),
and runs each shard as a plain pytest process. Every test runs exactly once; a shard's output is
printed whole when it fails. Tests that share a province per module stay in one process, since a
file is never split. A file marked ``solo`` runs alone after the shards.

Before the tests, the broker is made ready (``devrun.ensure_management``: plugins, open-file limit)
once rather than by every process, and leftovers of killed runs are removed.

    python -m rehsos_tools.testrun [-j N] [--record] [pytest options...]
    python -m rehsos_tools.testrun --sweep   # remove what killed test runs left on the servers
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
DURATIONS = TESTS / "durations.json"
DEFAULT_SECONDS = 5.0  # a file not timed yet
MANAGEMENT_URI = os.environ.get("REHSOS_TEST_MANAGEMENT_URI", "http://guest:guest@127.0.0.1:15672")
PG_ADMIN_URI = os.environ.get("REHSOS_TEST_PG_URI", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
# The names tests give what they create (tests/support.py): a vhost or user "t1a2b3c4d-...", a
# database "rehsos_test_<10 hex>" or "rehsos_test_<10 hex>_<service>"; the part that is claimed
# (devrun.claim) while the province or database set is in use.
TEST_NAME = re.compile(r"^(t[0-9a-f]{8}-|rehsos_test_[0-9a-f]{10}(?=_|$))")


def owner(name: str) -> str | None:
    """The claim a test's vhost, user or database belongs to; None for a name no test gives."""
    match = TEST_NAME.match(name)
    return match.group(1) if match else None


def sweep() -> dict[str, int]:
    """Remove the vhosts, users and databases that test runs left behind when they were killed:
    those no living test process claims (a plain pytest run beside this one keeps its province)."""
    from rehsos_tools import broker, devrun

    import sqlalchemy as sa

    held = devrun.claimed()

    def left(name: str) -> bool:
        return owner(name) is not None and owner(name) not in held

    mgmt = broker.Management(MANAGEMENT_URI)
    vhosts = [v["name"] for v in mgmt.request("GET", "vhosts") if left(v.get("name", ""))]
    for name in vhosts:
        mgmt.request("DELETE", "vhosts", name, ok=(200, 204, 404))
    users = [u["name"] for u in mgmt.request("GET", "users") if left(u.get("name", ""))]
    for name in users:
        mgmt.request("DELETE", "users", name, ok=(200, 204, 404))
    admin = sa.create_engine(PG_ADMIN_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        databases = [name for name in conn.execute(sa.text(
            "SELECT datname FROM pg_database WHERE datname LIKE 'rehsos\\_test\\_%'")).scalars() if left(name)]
        for name in databases:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    return {"vhosts": len(vhosts), "users": len(users), "databases": len(databases)}


def test_files() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in TESTS.rglob("test_*.py"))


def shards(files: list[str], durations: dict[str, float], n: int) -> list[list[str]]:
    """Longest first onto the shard with the least time so far (LPT), so shards end together."""
    bins: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(n)]
    for f in sorted(files, key=lambda f: -durations.get(f, DEFAULT_SECONDS)):
        i = min(range(n), key=lambda k: bins[k][0])
        total, members = bins[i]
        bins[i] = (total + durations.get(f, DEFAULT_SECONDS), members + [f])
    return [members for _, members in bins if members]


def is_solo(path: str) -> bool:
    """A file marked ``pytestmark = pytest.mark.solo`` loads the machine on its own: it runs alone,
    after the shards, rather than beside them where every test would wait on it."""
    return re.search(r"^pytestmark = pytest\.mark\.solo\b", (ROOT / path).read_text(), re.M) is not None


def file_durations(junit: Path) -> dict[str, float]:
    """Seconds per test file (setup, call and teardown of its tests) from a JUnit report."""
    out: dict[str, float] = {}
    for case in ET.parse(junit).iter("testcase"):
        module = case.get("classname", "").split(".")
        # classname is "tests.service.test_x" or "tests.service.test_x.TestClass"
        while module and not module[-1].startswith("test_"):
            module.pop()
        if module:
            path = "/".join(module) + ".py"
            out[path] = out.get(path, 0.0) + float(case.get("time") or 0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("TEST_JOBS", "3")),
                        help="pytest processes at once (TEST_JOBS, default 3)")
    parser.add_argument("--record", action="store_true", help=f"write the files' times to {DURATIONS.relative_to(ROOT)}")
    parser.add_argument("--sweep", action="store_true", help="only remove what killed test runs left behind")
    args, pytest_args = parser.parse_known_args(argv)
    if any(not a.startswith("-") and (Path(a.split("::")[0]).exists() or "::" in a) for a in pytest_args):
        # Tests named on the command line: one plain pytest run of just those.
        return subprocess.call([sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT)
    from rehsos_tools import broker, devrun

    try:  # once here, rather than racing in every pytest process
        devrun.ensure_management(MANAGEMENT_URI)
    except broker.ManagementUnavailable as exc:
        print(f"testrun: {exc}", file=sys.stderr)
        return 2
    # Leftovers of killed runs (a province's shovels keep retrying against vhosts that are gone)
    # slow the broker for every later run: remove them, unless another test run is going on.
    lock = (Path(tempfile.gettempdir()) / "rehsos-testrun.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held until this process ends
    except BlockingIOError:
        print("testrun: another test run is going on: its vhosts and databases are left alone", flush=True)
        if args.sweep:
            return 1
    else:
        removed = sweep()
        if args.sweep or any(removed.values()):
            print(f"testrun: removed test leftovers: {json.dumps(removed)}", flush=True)
        if args.sweep:
            return 0
    durations = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    solo = [f for f in test_files() if is_solo(f)]
    groups = shards([f for f in test_files() if f not in solo], durations, max(1, args.jobs))
    out_dir = ROOT / "var" / "tests"
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"testrun: {sum(len(g) for g in groups)} test files in {len(groups)} pytest processes, then "
          f"{len(solo)} alone (logs in {out_dir.relative_to(ROOT)}/)", flush=True)
    failed: list[tuple[str, Path, int]] = []
    measured: dict[str, float] = {}
    phases = [[(f"shard {i}", files) for i, files in enumerate(groups)], [(f"alone {f}", [f]) for f in solo]]
    for phase in phases:
        running = []
        for n, (label, files) in enumerate(phase):
            stem = label.replace(" ", "-").replace("/", "_")
            log, junit = out_dir / f"{stem}.log", out_dir / f"{stem}.xml"
            cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                   *pytest_args, *files]
            handle = log.open("w")
            running.append((label, files, log, junit, handle,
                            subprocess.Popen(cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)))
        for label, files, log, junit, handle, proc in running:
            code = proc.wait()
            handle.close()
            summary = log.read_text().rstrip().splitlines()[-1:] or ["(no output)"]
            print(f"{label} ({len(files)} files): {summary[0]}", flush=True)
            if code != 0:
                failed.append((label, log, code))
            if junit.exists():
                measured.update(file_durations(junit))
    for label, log, code in failed:
        print(f"\n===== {label} failed (exit {code}): {log.relative_to(ROOT)} =====\n{log.read_text()}", flush=True)
    print(f"testrun: {'FAILED' if failed else 'passed'} in {time.monotonic() - started:.0f} s", flush=True)
    if args.record and not failed:
        DURATIONS.write_text(json.dumps({k: round(v, 1) for k, v in sorted(measured.items())}, indent=1) + "\n")
    return max((code for _, _, code in failed), default=0)


if __name__ == "__main__":
    sys.exit(main())
