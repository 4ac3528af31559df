"""Benchmark: the hub's dashboard pages over CASES cases spanning five years (issue 14, point 6).

The hub's read models on PostgreSQL are filled directly (server-side INSERT ... SELECT over
generate_series, no event through the broker): per case its registration, fact, steps (opened,
stage changed, closed for most) and spans, the person's fact, key and disabilities, the hub's inbox
rows of those events (contiguous sequences per node), a referral for every twentieth case, and every
node's activity in every month. Then the hub starts as its own process (``rehsos.serve``) and the
province overview (``/``, default period and five years) and a regency page (``/kabupaten/6371``)
are fetched one at a time. Beside them, the same session's queries of those pages are timed one by
one in this process: where the time goes.

Prints ONE JSON object (p50/p95 ms per page, per-query ms, fill seconds, the hub process's peak
RSS). `make bench` runs it; CASES=... and REPEATS=... lower the load (a page or query slower than
10 s is timed once only; FIVE_YEARS=1 adds the overview over all five years). The databases, vhosts and the
province's folder are removed afterwards. Figures, never assertions.
"""
import warnings

warnings.filterwarnings("ignore", message="\nEventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import importlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.processes import ServiceProcess, remove  # noqa: E402
from rehsos import auth, clock, reference  # noqa: E402
from tests.support import PostgresDatabases, Province, wait_until  # noqa: E402

SUMMARIES = importlib.import_module("reporting.migrations.versions.0012_summaries")
DEMAND = importlib.import_module("reporting.migrations.versions.0013_demand_summary")
MONTHS = 60
SLOW_MS = 10_000
REGENCY = "6371"


def _array(values) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def fill_sql(cases: int, first_month: str) -> list[str]:
    """Statements that fill the read models with ``cases`` cases opened over MONTHS months from
    ``first_month`` (WITA months; moments are taken at noon WITA, well inside their month)."""
    regencies, categories = _array(reference.REGENCIES), _array(reference.PPKS_CATEGORIES)
    bands = _array([f"{lo}-{lo + 4}" for lo in range(15, 75, 5)])
    month = "to_char(date '{first}-01' + make_interval(months => ({m})::int), 'YYYY-MM')"
    moment = ("(timestamp '{first}-01 04:00' + make_interval(months => ({m})::int, days => ({d})::int))"
              " AT TIME ZONE 'UTC'")

    def month_of(m):
        return month.format(first=first_month, m=m)

    def moment_of(m, d="0"):
        return moment.format(first=first_month, m=m, d=d)

    return [
        # One row per case: where, what, when it opened, moved on and (for most) closed.
        f"""CREATE UNLOGGED TABLE bench_case AS
            SELECT i, md5('c' || i)::uuid::text AS case_id, md5('e' || i)::uuid::text AS event_id,
                   ({regencies})[1 + i % 13] AS node, ({categories})[1 + (i * 7919) % 26] AS category,
                   md5('p' || i) || md5('q' || i) AS person_key, ({bands})[1 + (i * 31) % 12] AS age_band,
                   CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END AS sex,
                   (i * 104729) % {MONTHS} AS opened, (i * 7) % 25 AS day,
                   (ARRAY['positive', 'positive', 'neutral', 'negative'])[1 + i % 4] AS outcome,
                   i % 7 <> 0 AS closes, 1 + (i * 13) % 6 AS months_open
            FROM generate_series(1::bigint, {cases}) AS i""",
        f"""ALTER TABLE bench_case ADD COLUMN moved int, ADD COLUMN closed int""",
        f"""UPDATE bench_case SET moved = CASE WHEN opened + 1 < {MONTHS} THEN opened + 1 END,
                                  closed = CASE WHEN closes AND opened + 1 + months_open < {MONTHS}
                                                THEN opened + 1 + months_open END""",
        # Each node's events numbered in order: person registered, case opened, moved, closed.
        f"""CREATE UNLOGGED TABLE bench_event AS
            SELECT b.*, k, kind, row_number() OVER (PARTITION BY node ORDER BY i, k) AS sequence
            FROM bench_case b
            CROSS JOIN LATERAL (VALUES (1, 'person.registered'), (2, 'case.opened'), (3, 'case.stage_changed'),
                                       (4, 'case.closed')) AS e(k, kind)
            WHERE k <= 2 OR (k = 3 AND moved IS NOT NULL) OR (k = 4 AND closed IS NOT NULL)""",
        f"""INSERT INTO inbox (event_id, node, service, sequence, event_type, received_at)
            SELECT md5(event_id || k)::uuid::text, node, 'intake', sequence, kind,
                   {moment_of("CASE k WHEN 3 THEN moved WHEN 4 THEN closed ELSE opened END", "day")}
            FROM bench_event""",
        f"""INSERT INTO registered_case (case_id, node, region, category, sex, age_band, person_key, registered_at,
                                         event_id, closed, version)
            SELECT case_id, node, node, category, sex, age_band, person_key, {moment_of("opened", "day")}, event_id,
                   closed IS NOT NULL, sequence
            FROM bench_event
            WHERE k = (CASE WHEN closed IS NOT NULL THEN 4 WHEN moved IS NOT NULL THEN 3 ELSE 2 END)""",
        """INSERT INTO case_fact (case_id, node, region, category, person_key)
           SELECT case_id, node, node, category, person_key FROM bench_case""",
        f"""INSERT INTO case_step (case_id, sequence, node, kind, occurred_at, month, stage, outcome, counted)
            SELECT case_id, sequence, node,
                   CASE k WHEN 2 THEN 'opened' WHEN 3 THEN 'stage_changed' ELSE 'closed' END,
                   {moment_of("CASE k WHEN 2 THEN opened WHEN 3 THEN moved ELSE closed END", "day")},
                   {month_of("CASE k WHEN 2 THEN opened WHEN 3 THEN moved ELSE closed END")},
                   CASE k WHEN 2 THEN 'pendekatan_awal' WHEN 3 THEN 'asesmen' ELSE 'terminasi' END,
                   CASE WHEN k = 4 THEN outcome END, true
            FROM bench_event WHERE k >= 2""",
        f"""INSERT INTO case_span (case_id, from_month, to_month, stage, node, region, category, person_key)
            SELECT case_id, {month_of("opened")}, CASE WHEN moved IS NOT NULL THEN {month_of("moved")} END,
                   'pendekatan_awal', node, node, category, person_key FROM bench_case
            UNION ALL
            SELECT case_id, {month_of("moved")}, CASE WHEN closed IS NOT NULL THEN {month_of("closed")} END,
                   'asesmen', node, node, category, person_key FROM bench_case WHERE moved IS NOT NULL""",
        f"""INSERT INTO person_fact (node, person_key, region, month, sequence)
            SELECT node, person_key, node, {month_of("opened")}, sequence FROM bench_event WHERE k = 1""",
        """INSERT INTO person_identity (node, person_key, resolved)
           SELECT node, person_key, person_key FROM bench_case""",
        """INSERT INTO person_disability_fact (node, person_key, disability)
           SELECT node, person_key, (ARRAY['fisik', 'netra', 'rungu', 'intelektual', 'mental'])[1 + i % 5]
           FROM bench_case WHERE i % 3 = 0""",
        f"""INSERT INTO node_activity (node, month)
            SELECT r, {month_of("m")} FROM unnest({regencies}) AS r, generate_series(0, {MONTHS - 1}) AS m""",
        f"""INSERT INTO referral_timeline (referral_id, case_id, node, facility_id, facility_node, category, person_key,
                                           requested_at, accepted_at, admitted_at, discharged_at)
            SELECT md5('r' || i)::uuid::text, case_id, node, 'panti-' || (i % 9), '63', category, person_key,
                   {moment_of("opened", "day")}, {moment_of("opened", "day + 2")},
                   {moment_of("opened", "day + 5")},
                   CASE WHEN closed IS NOT NULL THEN {moment_of("closed", "day")} END
            FROM bench_case WHERE i % 20 = 0""",
        "DROP TABLE bench_event",
        "DROP TABLE bench_case",
        # The summaries, from the facts just written, as the migration fills them on a hub with data.
        *SUMMARIES.FILL[1:],  # its first statement marks the steps counted: done above
        *DEMAND.fill("postgresql"),
    ]


def fill(engine, cases: int, first_month: str) -> dict:
    seconds = {}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in fill_sql(cases, first_month):
            started = time.perf_counter()
            conn.execute(sa.text(statement))
            words = statement.split()
            label = words[2] if words[0] == "INSERT" else " ".join(words[:4])
            seconds[label] = round(seconds.get(label, 0) + time.perf_counter() - started, 1)
        started = time.perf_counter()
        conn.execute(sa.text("VACUUM ANALYZE"))
        seconds["vacuum analyze"] = round(time.perf_counter() - started, 1)
    return seconds


def percentiles(timings: list[float]) -> dict:
    timings = sorted(timings)
    return {"ms_p50": round(statistics.median(timings), 1),
            "ms_p95": round(timings[max(0, math.ceil(len(timings) * 0.95) - 1)], 1)}


def query_profile(engine, regency: str, repeats: int) -> dict:
    """Each query the overview and the regency page make, timed alone in this process (median ms)."""
    from reporting import caseload, coverage, domain, flows, planning
    from reporting.models import messaging

    months = clock.months_between(clock.add_months(clock.current_month(), -11), clock.current_month())
    first, last = months[0], months[-1]
    calls = {
        "summary": lambda s: domain.summary(s, messaging),
        "capacity_plan": lambda s: domain.capacity_plan(s, None),
        "training_overview": lambda s: domain.training_overview(s),
        "case_figures_province": lambda s: caseload.case_figures(s, first, last, None, None),
        "tuna_sosial_trend_province": lambda s: caseload.tuna_sosial_trend(s, first, last, None, None),
        "disability_coverage_province": lambda s: caseload.disability_coverage(s, first, last, None, None),
        "referral_flows_province": lambda s: flows.referral_flows(s, None, None, from_month=first, to_month=last),
        "where_to_build_province": lambda s: planning.where_to_build(s, None, None),
        "case_figures_regency": lambda s: caseload.case_figures(s, first, last, regency, None),
        "training_coverage_regency": lambda s: coverage.training_coverage(s, regency, None),
    }
    profile = {}
    for label, call in calls.items():
        timings = []
        while len(timings) < repeats and sum(timings) < SLOW_MS:  # a slow query once is enough
            with Session(engine) as session:
                started = time.perf_counter()
                call(session)
                timings.append((time.perf_counter() - started) * 1000)
        profile[label] = round(statistics.median(timings), 1)
    return profile


def time_page(url: str, headers: dict, repeats: int) -> dict:
    """The first fetch warms the hub's and PostgreSQL's caches and is not counted, unless it took
    longer than SLOW_MS: then it is the only one (a warm cache changes little on minutes)."""
    timings = []
    while len(timings) < repeats + 1 and sum(timings) < SLOW_MS:
        started = time.perf_counter()
        requests.get(url, headers=headers, timeout=3600).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    counted = timings[1:] or timings
    return {**percentiles(counted), "fetches_counted": len(counted), "ms_first_fetch": round(timings[0], 1)}


def main() -> None:
    cases = int(os.environ.get("CASES", "1000000"))
    repeats = int(os.environ.get("REPEATS", "20"))
    pg = PostgresDatabases()
    province = Province(Path(tempfile.mkdtemp(prefix="rehsos-bench-")), [REGENCY], start_hub=False,
                        start_nodes=False, database="postgresql", pg=pg).start()
    engine = province.engine("hub", "reporting")
    hub = None
    try:
        last = clock.current_month()
        first = clock.add_months(last, -(MONTHS - 1))
        started = time.perf_counter()
        fill_seconds = fill(engine, cases, first)
        filled = time.perf_counter() - started
        with engine.connect() as conn:
            rows = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in ("registered_case", "case_step", "case_span", "inbox", "referral_timeline")}
        hub = ServiceProcess(province, "hub").start()
        headers = province.headers("hub", auth.ANALYST)
        pages = {"overview_default_12_months": "/", f"regency_{REGENCY}_default_12_months": f"/kabupaten/{REGENCY}"}
        if os.environ.get("FIVE_YEARS"):  # the overview over all five years: minutes at 1,000,000 cases
            pages["overview_five_years"] = f"/?dari={first}&sampai={last}"
        load = os.getloadavg()[0]
        results = {label: time_page(province.url("hub", path), headers, repeats) for label, path in pages.items()}
        profile = query_profile(engine, REGENCY, 5)
        rss = hub.stop()
        print(json.dumps({
            "benchmark": "dashboard_postgresql",
            "cases": cases, "months": MONTHS, "period": [first, last], "rows": rows,
            "fill_seconds": round(filled, 1), "fill_seconds_by_table": fill_seconds,
            "repeats": repeats, "target_ms_p95": 200, "load_average_at_start": round(load, 2),
            "pages": results,
            # The same queries, one at a time in this process: where a page's time goes.
            "query_ms_median": profile,
            "peak_rss_mb_hub_process": rss,
        }))
    finally:
        if hub is not None:
            hub.stop()
        engine.dispose()
        remove(province, pg)


if __name__ == "__main__":
    main()
