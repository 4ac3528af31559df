"""`make bench`: every benchmark in one run, one JSON object (issue 14).

Each benchmark runs as its own process, one after the other (they would compete for the cores),
with this environment (each one's size variables apply: CATCHUP_N, N, CASES, REBUILD_N, ...);
their progress goes to stderr, each one's JSON object into ``benchmarks`` under its name. The
object also says where and when it was measured (cores, load average, commit), and is written to
var/bench/ as well, so runs can be compared later. BENCHES=dashboard,search runs only those.
Exit status 1 when a benchmark failed (its entry says how); the others still run.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
# In the order `make bench` always ran them: the ratios first, the rebuild (the longest) last.
BENCHES = {"ratios": "bench_ratios.py", "uplink": "bench_uplink.py", "search": "bench_search.py",
           "hub_cases": "bench_hub_cases.py", "dashboard": "bench_dashboard.py", "rebuild": "bench_rebuild.py"}


def _commit() -> str | None:
    out = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or None


def _memory_gib() -> float | None:
    try:
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        return None
    return round(kib / 2**20, 1)


def run_one(script: str) -> tuple[dict, float]:
    """The benchmark's JSON object (the last line of its stdout), or what went wrong."""
    start = time.monotonic()
    out = subprocess.run([sys.executable, str(HERE / script)], stdout=subprocess.PIPE, text=True)
    seconds = round(time.monotonic() - start, 1)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        return {"failed": f"exit {out.returncode} (its error is on stderr)"}, seconds
    try:
        return json.loads(lines[-1]), seconds
    except ValueError:
        return {"failed": "its last line of output is not JSON"}, seconds


def main() -> int:
    chosen = [b.strip() for b in os.environ.get("BENCHES", ",".join(BENCHES)).split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BENCHES]
    if unknown:
        print(f"bench: unknown BENCHES {unknown}; known: {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    started = datetime.now(timezone.utc)
    report = {"benchmark": "rehsos", "started_at": started.isoformat(timespec="seconds"), "commit": _commit(),
              "machine": {"cpu_cores": os.cpu_count(), "memory_gib": _memory_gib(), "platform": platform.platform(),
                          "python": platform.python_version(),
                          "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
              "seconds": {}, "benchmarks": {}}
    for name in chosen:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        report["benchmarks"][name], report["seconds"][name] = run_one(BENCHES[name])
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(report)
    folder = Path(os.environ.get("BENCH_OUT", "var/bench"))
    folder.mkdir(parents=True, exist_ok=True)
    saved = folder / f"bench-{started:%Y%m%dT%H%M%SZ}.json"
    saved.write_text(text + "\n")
    print(f"bench: written to {saved}", file=sys.stderr)
    print(text)
    return 1 if any("failed" in figures for figures in report["benchmarks"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
