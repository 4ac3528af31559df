"""Benchmark: `rehsos hub rebuild` replaying the hub's event store on PostgreSQL (issue 14, point 7).

REBUILD_N (1,000,000) events of all 14 nodes (the first ones of a generated history, as in
bench_ratios.py: every node's stream without gaps) are put in a throwaway hub database's event
store, as the consumer stores them; then :func:`reporting.rebuild.rebuild` replays them into fresh
read models and swaps them in. Prints one JSON object: events per second, and where the time went
(the database's statements, timed around the driver's calls, and the rest: Python, mostly
SQLAlchemy and the handlers). Figures, not assertions. `make bench` runs it; REBUILD_N=100000
makes a run of a few minutes (a million events take a long while to make and store, before the
rebuild is timed).
"""
import json
import os
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rehsos import db  # noqa: E402
from rehsos.outbox import Outbox  # noqa: E402
from tests.support import PostgresDatabases  # noqa: E402


def history_events(count: int) -> list:
    from rehsos_tools import history

    per_month = max(0.2, 1.15 * (count - 900) / (5 * 850))  # about `count` events in five years
    return history.generate(seed=14, first="2021-01", last="2025-12", persons_per_month=per_month,
                            silent=None).events[:count]


def fill_store(engine, events, chunk: int = 5000) -> None:
    """The events in the store, written by the consumer's own ``store.keep``, a batch at a time."""
    from reporting import store
    from reporting.models import messaging

    make = sessionmaker(engine)
    for start in range(0, len(events), chunk):
        with db.UnitOfWork(make, Outbox(messaging, "reporting"), batch=True) as uow:
            for event in events[start:start + chunk]:
                store.keep(uow, event)


class StatementClock:
    """Statements sent and the seconds spent in the driver's calls (round trip and server work)."""

    def __init__(self):
        self.statements, self.seconds = 0, 0.0
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self.before)
        sa.event.listen(sa.engine.Engine, "after_cursor_execute", self.after)

    def before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):
        self.statements += 1
        self.seconds += time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())


def main() -> None:
    from reporting import rebuild

    count = int(os.environ.get("REBUILD_N", "1000000"))
    pg = PostgresDatabases()
    uri = pg.create()
    try:
        db.migrate("reporting", uri)
        engine = db.create_engine(uri)
        started = time.perf_counter()
        events = history_events(count)
        made = time.perf_counter() - started
        started = time.perf_counter()
        fill_store(engine, events)
        filled = time.perf_counter() - started
        kinds: dict[str, int] = {}
        for event in events:
            kinds[event.event_type] = kinds.get(event.event_type, 0) + 1
        del events
        load = os.getloadavg()[0]
        clock = StatementClock()
        cpu = time.process_time()
        result = rebuild.rebuild(uri)
        cpu = time.process_time() - cpu
        with engine.connect() as conn:
            cases = conn.execute(sa.text("SELECT count(*) FROM case_fact")).scalar_one()
        engine.dispose()
        print(json.dumps({
            "benchmark": "hub_rebuild",
            "database": "postgresql",
            "cpu_cores": os.cpu_count(),
            "rebuild_events": result.events,
            "rebuild_seconds": round(result.seconds, 1),
            "rebuild_events_per_s": round(result.per_second, 1),
            "rebuild_target_events_per_s": 5000,
            # This process: the rebuild's Python (SQLAlchemy, handlers) per event, and the database's
            # statements (time inside the driver's calls, PostgreSQL's work included).
            "rebuild_cpu_ms_per_event": round(1000 * cpu / max(result.events, 1), 3),
            "rebuild_statements_per_event": round(clock.statements / max(result.events, 1), 2),
            "rebuild_seconds_in_statements": round(clock.seconds, 1),
            "rebuild_seconds_elsewhere": round(result.seconds - clock.seconds, 1),
            "rebuild_cases_after": cases,
            "events_by_type": dict(sorted(kinds.items())),
            "history_made_seconds": round(made, 1),
            "store_filled_seconds": round(filled, 1),
            "load_average_at_start": round(load, 2),
        }))
    finally:
        pg.drop_all()


if __name__ == "__main__":
    main()
