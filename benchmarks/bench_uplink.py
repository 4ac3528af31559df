"""Benchmark: registrations at a node and their arrival at the hub, on the real broker.

Prints one JSON object. Run with `make bench` (N=... to change the count). Figures, not
assertions: compare them between commits on the same machine.
"""
import warnings

warnings.filterwarnings("ignore", message="\nEventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support import Province, case_body, wait_until  # noqa: E402


def main() -> None:
    count = int(os.environ.get("N", "500"))
    concurrency = int(os.environ.get("CONCURRENCY", "8"))
    province = Province(Path(tempfile.mkdtemp(prefix="rehsos-bench-")), ["6371"]).start()
    try:
        session_pool = eventlet.GreenPool(concurrency)
        headers = province.headers("6371", "operator")
        url = province.url("6371", "/api/v1/cases")
        latencies = []

        def register(i):
            started = time.perf_counter()
            resp = requests.post(url, json=case_body(nik=None, name=f"Bench {i}"), headers=headers, timeout=30)
            latencies.append(time.perf_counter() - started)
            return resp.status_code

        started = time.perf_counter()
        statuses = list(session_pool.imap(register, range(count)))
        registered = time.perf_counter() - started
        wait_until(lambda: province.hub_cases() == count, timeout=300, interval=0.1, message="all at the hub")
        arrived = time.perf_counter() - started
        latencies.sort()
        print(json.dumps({
            "benchmark": "uplink",
            "cases": count,
            "concurrency": concurrency,
            "http_201": statuses.count(201),
            "registrations_per_s": round(count / registered, 1),
            "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 1),
            "latency_ms_p95": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
            "seconds_until_all_counted_at_hub": round(arrived, 2),
            "end_to_end_events_per_s": round(count / arrived, 1),
        }))
    finally:
        province.close()


if __name__ == "__main__":
    main()
