"""Benchmark: case search at a node holding N persons (issue 3: 100k persons; issue 14: 1,000,000 on
PostgreSQL, name search through the pg_trgm indexes of intake migrations 0008 and 0010, the stage
order through the stage rank of 0009).

Fills a fresh intake database with N persons, one case each, then times each kind of search
through the domain function the API uses. PostgreSQL by default: a throwaway database on the local
server, filled with COPY and dropped afterwards (DATABASE=sqlite for a temporary SQLite file,
DATABASE_URI=... for a database of your own, left as it is; FILL=0 searches it as it is, filled by
an earlier run with the same N). Prints one JSON object: median and p95 milliseconds per query
kind, the matches, and per kind of statement (the count, the choice of the page, the page's rows,
the audit entry) its milliseconds per search: where the time goes. N=..., REPEATS=... lower the load.
"""
import io
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from intake.domain import search  # noqa: E402
from intake.domain.cases import STAGES  # noqa: E402
from intake.domain.common import Access, name_key  # noqa: E402
from intake.models import Case, Person, messaging  # noqa: E402
from rehsos import auth, db, reference  # noqa: E402
from rehsos.outbox import Outbox  # noqa: E402
from rehsos_tools import demo  # noqa: E402

SURNAMES = ["Hidayat", "Rahman", "Saputra", "Wahyuni", "Lestari", "Fauzi", "Anwar", "Hasanah", "Ramadhan", "Putri"]
SYLLABLES = ["ka", "ri", "ma", "su", "di", "no", "ra", "ti", "ha", "lu", "se", "wa"]
PERSON_COLUMNS = ("id", "registration_no", "name", "name_key", "sex", "birth_date", "regency", "kecamatan",
                  "person_key", "created_at")
CASE_COLUMNS = ("id", "person_id", "category", "regency", "kecamatan", "stage", "status", "worker", "registered_at",
                "registered_by", "reopen_count")


def people(count: int):
    """(person, case) rows: a given name of the demo list, a surname of ten, and a family name of
    three syllables (1,728 of them) so that a full name matches few persons and a surname many."""
    rng = random.Random(7)
    regency, kecamatan = "6371", demo.KECAMATAN["6371"]
    given = demo.GIVEN["male"] + demo.GIVEN["female"]
    categories = list(reference.PPKS_CATEGORIES)
    now = datetime.now(timezone.utc)
    for i in range(count):
        family = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
        name = f"{rng.choice(given)} {rng.choice(SURNAMES)} {family}"
        pid, place = str(uuid.uuid4()), rng.choice(kecamatan)
        yield ({"id": pid, "registration_no": f"6371-2026-{i:08d}", "name": name, "name_key": name_key(name),
                "sex": rng.choice(("male", "female")),
                "birth_date": date(1950, 1, 1) + timedelta(days=rng.randrange(20000)), "regency": regency,
                "kecamatan": place, "person_key": uuid.uuid4().hex * 2, "created_at": now},
               {"id": str(uuid.uuid4()), "person_id": pid, "category": rng.choice(categories), "regency": regency,
                "kecamatan": place, "stage": rng.choice(STAGES), "status": rng.choice(("open", "open", "closed")),
                "worker": rng.choice(demo.WORKERS), "registered_at": now - timedelta(days=rng.randrange(1800)),
                "registered_by": "bench", "reopen_count": 0})


def _copy_text(rows, columns) -> io.StringIO:
    out = io.StringIO()
    for row in rows:
        out.write("\t".join(str(row[c]) for c in columns))
        out.write("\n")
    out.seek(0)
    return out


def fill(engine, count: int) -> None:
    batch = 50000
    generated = people(count)
    for start in range(0, count, batch):
        chunk = [next(generated) for _ in range(min(batch, count - start))]
        persons, cases = [p for p, _ in chunk], [c for _, c in chunk]
        if engine.dialect.name == "postgresql":  # COPY: a million rows in tens of seconds
            raw = engine.raw_connection()
            try:
                with raw.cursor() as cur:
                    cur.copy_expert(f"COPY person ({', '.join(PERSON_COLUMNS)}) FROM STDIN",
                                    _copy_text(persons, PERSON_COLUMNS))
                    cur.copy_expert(f'COPY "case" ({", ".join(CASE_COLUMNS)}) FROM STDIN',
                                    _copy_text(cases, CASE_COLUMNS))
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as conn:
                conn.execute(sa.insert(Person.__table__), persons)
                conn.execute(sa.insert(Case.__table__), cases)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text('VACUUM ANALYZE person, "case"'))


QUERIES = {
    "all_first_page": {},
    "category": {"category": "gelandangan"},
    "stage_and_status": {"stage": "intervensi", "status": "open"},
    "kecamatan_worker": {"kecamatan": "637103", "worker": demo.WORKERS[0]},
    "period": {"registered_from": date.today() - timedelta(days=30), "registered_to": date.today()},
    "name_text": {"q": "hidayat"},  # a surname: a tenth of everyone and more
    "name_text_sorted_by_name": {"q": "siti", "sort": "name"},  # a first name: one stretch of the name order
    "name_text_sorted_by_name_desc": {"q": "siti", "sort": "-name"},
    "name_text_sorted_by_name_page_5": {"q": "siti", "sort": "name", "page": 5},
    "surname_sorted_by_name": {"q": "hidayat", "sort": "name"},  # spread over all names, in stretches
    "name_full": {"q": "fauzi hidayat karisu"},  # a full name: a handful
    "name_part_of_word": {"q": "risu"},  # a fragment of family names
    "deep_page": {"page": 200, "per_page": 50},
    "all_sorted_by_stage": {"sort": "stage"},
    "all_sorted_by_stage_desc": {"sort": "-stage"},
}


class StatementTimes:
    """Milliseconds of the SQL statements the search sends, by kind (the count, the choice of the
    page, a name sorted by name choosing it in several; the page's rows, the audit entry)."""

    def __init__(self, engine):
        self.times: dict[str, float] = {}
        sa.event.listen(engine, "before_cursor_execute", self.before)
        sa.event.listen(engine, "after_cursor_execute", self.after)

    def before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        kind = ("count" if statement.startswith("SELECT count(*)") else "page" if words[0] == "SELECT" and "LIMIT" in
                statement else "rows" if words[0] == "SELECT" else " ".join(words[:3]).lower())
        started = conn.info.pop("bench_started")
        self.times[kind] = self.times.get(kind, 0.0) + (time.perf_counter() - started) * 1000

    def take(self, searches: int) -> dict:
        """Each kind's milliseconds per search."""
        taken = {kind: round(ms / searches, 1) for kind, ms in self.times.items()}
        self.times = {}
        return taken


def main() -> None:
    count = int(os.environ.get("N", "1000000"))
    repeats = int(os.environ.get("REPEATS", "20"))
    pg, folder, uri = None, None, os.environ.get("DATABASE_URI")
    if not uri and os.environ.get("DATABASE", "postgresql") == "sqlite":
        folder = tempfile.mkdtemp(prefix="rehsos-bench-")
        uri = f"sqlite:///{folder}/intake.sqlite"
    elif not uri:
        from tests.support import PostgresDatabases

        pg = PostgresDatabases()
        uri = pg.create(f"rehsos_bench_search_{uuid.uuid4().hex[:8]}")
    engine = None
    try:
        db.migrate("intake", uri)
        engine = db.create_engine(uri)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        if os.environ.get("FILL", "1") != "0":  # FILL=0: a DATABASE_URI filled by an earlier run (and migrated since)
            fill(engine, count)
        filled = time.perf_counter() - started
        access = Access(auth.Principal(0, "bench", auth.OPERATOR, "6371"), "benchmark")
        factory = sessionmaker(engine)
        statements = StatementTimes(engine)
        results = {}
        for label, query in QUERIES.items():
            timings, total = [], None
            for _ in range(repeats):
                with db.UnitOfWork(factory, Outbox(messaging, "intake")) as uow:
                    t = time.perf_counter()
                    page = search.search_cases(uow, {"page": 1, "per_page": 20, "sort": "-registered_at", **query},
                                               access=access)
                    timings.append((time.perf_counter() - t) * 1000)
                    total = page["total"]
            timings.sort()
            results[label] = {"ms_median": round(statistics.median(timings), 1),
                              "ms_p95": round(timings[max(0, int(len(timings) * 0.95) - 1)], 1), "matches": total,
                              "statement_ms_mean": statements.take(repeats)}
        worst = max(r["ms_p95"] for r in results.values())
        print(json.dumps({"benchmark": "case_search", "database": engine.dialect.name, "persons": count,
                          "fill_seconds": round(filled, 1), "repeats": repeats, "target_ms_p95": 100,
                          "worst_ms_p95": worst, "load_average_at_start": round(load, 2), "queries": results}))
    finally:
        if engine is not None:
            engine.dispose()
        if pg is not None:
            pg.drop_all()
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
