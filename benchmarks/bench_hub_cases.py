"""Benchmark: how fast a hub on PostgreSQL applies the case events of a few nodes.

Publishes, as the nodes' shovels do, NODES x CASES cases (person registered, case opened, stage
changed, closed; every tenth person's key renamed by ``person.identified``) onto a hub on
PostgreSQL and the real broker, then starts the hub and times until every event is in its inbox.
Prints one JSON object. Run with `make bench` (or `PYTHONPATH=. .venv/bin/python
benchmarks/bench_hub_cases.py`; CASES=..., NODES=6371,6303 to change the load). Figures, not
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
import uuid  # noqa: E402
from dataclasses import replace  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import sqlalchemy as sa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.hub_support import Streams, Uplink  # noqa: E402
from tests.support import PostgresDatabases, Province, wait_until  # noqa: E402


def node_events(streams: Streams, node: str, cases: int) -> list:
    """A node's intake stream: each case's steps days apart, cases a few hours apart, numbered in
    the order they occurred (as the node's outbox numbers them)."""
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    drafts = []
    for i in range(cases):
        key, case_id = uuid.uuid4().hex * 2, str(uuid.uuid4())
        at = start + timedelta(hours=3 * i)
        drafts.append((at, "person.registered", {
            "person_key": key, "person_key_kind": "local", "age_band": "30-34", "sex": "female", "region": node,
            "categories": ["pengemis"], "disabilities": ["fisik"] if i % 3 == 0 else []}))
        drafts.append((at + timedelta(minutes=5), "case.opened", {
            "case_id": case_id, "person_key": key, "age_band": "30-34", "sex": "female", "category": "pengemis",
            "stage": "pendekatan_awal", "region": node}))
        drafts.append((at + timedelta(days=5), "case.stage_changed", {
            "case_id": case_id, "from_stage": "pendekatan_awal", "to_stage": "asesmen"}))
        if i % 10 == 0:
            drafts.append((at + timedelta(days=8), "person.identified", {
                "previous_person_key": key, "person_key": uuid.uuid4().hex * 2}))
        drafts.append((at + timedelta(days=20), "case.closed", {
            "case_id": case_id, "outcome": "positive", "stage_before": "asesmen"}))
    drafts.sort(key=lambda d: d[0])
    return [replace(streams(event_type, payload, node, "intake"), occurred_at=at)
            for at, event_type, payload in drafts]


def inbox_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar_one()


def main() -> None:
    cases = int(os.environ.get("CASES", "300"))
    nodes = os.environ.get("NODES", "6371,6303,6372").split(",")
    pg = PostgresDatabases()
    # The hub starts once every event waits in its queue: the figure is the hub's alone, not the
    # publisher's (which shares this process and the machine).
    province = Province(Path(tempfile.mkdtemp(prefix="rehsos-bench-")), nodes, start_hub=False, start_nodes=False,
                        database="postgresql", pg=pg).start()
    engine = province.engine("hub", "reporting")
    try:
        streams = Streams()
        events = {node: node_events(streams, node, cases) for node in nodes}
        total = sum(len(e) for e in events.values())
        for node in nodes:
            with Uplink(province, node) as uplink:
                for event in events[node]:
                    uplink.publish(event)
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        province.start_runner("hub")
        waiting = []

        def applied_all():
            # How many of the hub's transactions wait for a lock (advisory or row) right now.
            with engine.connect() as conn:
                waiting.append(conn.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")).scalar_one())
            return inbox_count(engine) == total

        wait_until(applied_all, timeout=1800, interval=0.2, message="every event applied")
        applied, cpu = time.perf_counter() - started, time.process_time() - cpu
        with engine.connect() as conn:
            counted = conn.execute(sa.text("SELECT count(*) FROM case_fact")).scalar_one()
            open_spans = conn.execute(sa.text("SELECT count(*) FROM case_span WHERE to_month IS NULL")).scalar_one()
        print(json.dumps({
            "benchmark": "hub_cases_postgresql",
            "nodes": len(nodes),
            "cases": cases * len(nodes),
            "events": total,
            "seconds_until_all_applied": round(applied, 2),
            "applied_events_per_s": round(total / applied, 1),
            # This process's CPU time per event (the hub's consumer, mostly): steadier than the
            # rate on a machine shared with other work.
            "cpu_ms_per_event": round(1000 * cpu / total, 2),
            "load_average_at_start": round(load, 2),
            # Sampled every 0.2 s: transactions of the hub's consumer (10 workers) waiting on a lock.
            "mean_transactions_waiting_on_a_lock": round(sum(waiting) / len(waiting), 2),
            "cases_at_hub": counted,
            "cases_still_open": open_spans,  # every case was closed: 0, or the figures are wrong
        }))
    finally:
        engine.dispose()
        province.close()
        pg.drop_all()


if __name__ == "__main__":
    main()
