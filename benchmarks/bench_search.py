"""Benchmark: case search at a node holding 100k persons (issue 3: "fast on 100k persons").

Fills a fresh intake database (SQLite by default; DATABASE_URI=postgresql://... for PostgreSQL)
with N persons and cases, then times each kind of search through the domain function the API
uses. Prints one JSON object with median and p95 milliseconds per query kind.
"""
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from intake.domain import search
from intake.domain.cases import STAGES
from intake.domain.common import Access, name_key
from intake.models import Case, Person, messaging
from rehsos import auth, db, reference
from rehsos_tools import demo
from rehsos.outbox import Outbox


def fill(engine, count: int) -> None:
    rng = random.Random(7)
    regency, kecamatan = "6371", demo.KECAMATAN["6371"]
    names = demo.GIVEN["male"] + demo.GIVEN["female"]
    surnames = ["Hidayat", "Rahman", "Saputra", "Wahyuni", "Lestari", "Fauzi", "Anwar", "Hasanah", "Ramadhan", "Putri"]
    now = datetime.now(timezone.utc)
    batch = 5000
    with engine.begin() as conn:
        for start in range(0, count, batch):
            persons, cases = [], []
            for i in range(start, min(start + batch, count)):
                pid = str(uuid.uuid4())
                name = f"{rng.choice(names)} {rng.choice(surnames)}"
                persons.append({"id": pid, "registration_no": f"6371-2026-{i:08d}", "name": name,
                                "name_key": name_key(name), "nik": None, "sex": rng.choice(("male", "female")),
                                "birth_date": date(1950, 1, 1) + timedelta(days=rng.randrange(20000)),
                                "regency": regency, "kecamatan": rng.choice(kecamatan), "person_key": uuid.uuid4().hex * 2,
                                "created_at": now})
                cases.append({"id": str(uuid.uuid4()), "person_id": pid, "category": rng.choice(list(reference.PPKS_CATEGORIES)),
                              "regency": regency, "kecamatan": persons[-1]["kecamatan"],
                              "stage": rng.choice(STAGES), "status": rng.choice(("open", "open", "closed")),
                              "worker": rng.choice(demo.WORKERS), "registered_at": now - timedelta(days=rng.randrange(900)),
                              "registered_by": "bench", "reopen_count": 0})
            conn.execute(sa.insert(Person.__table__), persons)
            conn.execute(sa.insert(Case.__table__), cases)


QUERIES = {
    "all_first_page": {},
    "category": {"category": "gelandangan"},
    "stage_and_status": {"stage": "intervensi", "status": "open"},
    "kecamatan_worker": {"kecamatan": "637103", "worker": demo.WORKERS[0]},
    "period": {"registered_from": date.today() - timedelta(days=30), "registered_to": date.today()},
    "name_text": {"q": "hidayat"},
    "name_text_sorted_by_name": {"q": "siti", "sort": "name"},
    "deep_page": {"page": 200, "per_page": 50},
}


def main() -> None:
    count = int(os.environ.get("N", "100000"))
    repeats = int(os.environ.get("REPEATS", "15"))
    uri = os.environ.get("DATABASE_URI") or f"sqlite:///{tempfile.mkdtemp(prefix='rehsos-bench-')}/intake.sqlite"
    db.migrate("intake", uri)
    engine = db.create_engine(uri)
    started = time.perf_counter()
    fill(engine, count)
    filled = time.perf_counter() - started
    access = Access(auth.Principal(0, "bench", auth.OPERATOR, "6371"), "benchmark")
    factory = sessionmaker(engine)
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
                          "ms_p95": round(timings[int(len(timings) * 0.95) - 1], 1), "matches": total}
    print(json.dumps({"benchmark": "case_search", "database": engine.dialect.name, "persons": count,
                      "fill_seconds": round(filled, 1), "queries": results}))
    engine.dispose()


if __name__ == "__main__":
    main()
