"""The case figures projection on a migrated SQLite database, without a broker: a generated
history applied in order, shuffled, and twice gives the figures computed independently."""
import dataclasses
import random
import uuid

import eventlet
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from rehsos import clock, db, reference
from rehsos_tools import history
from rehsos.outbox import Outbox
from reporting import caseload
from reporting.models import messaging
from reporting.projections import combine
from tests.figures_expectation import TUNA_SOSIAL, Expectation

HANDLERS = combine(caseload.HANDLERS)  # the other projections need events in order (they retry)
FIRST, LAST = "2025-01", "2025-12"


def apply_all(tmp_path, events, name="hub"):
    uri = f"sqlite:///{tmp_path / name}.sqlite"
    db.migrate("reporting", uri)
    engine = db.create_engine(uri)
    make = sessionmaker(engine)
    # One transaction, as the consumer applies a batch: the order of application is what is tested here.
    with db.UnitOfWork(make, Outbox(messaging, "reporting"), batch=True) as uow:
        for event in events:
            HANDLERS[event.event_type](uow, event)
    return make


@pytest.fixture(scope="module")
def generated():
    return history.generate(seed=5, first="2024-01", last="2025-12", persons_per_month=0.3, silent=("6311", "2025-05"))


@pytest.fixture(scope="module")
def in_order(generated, tmp_path_factory):
    return apply_all(tmp_path_factory.mktemp("ordered"), generated.events)


def test_the_wita_month_of_a_moment_at_the_end_of_a_utc_month_is_the_next():
    from datetime import datetime, timezone
    assert clock.month_of(datetime(2025, 1, 31, 16, 0, tzinfo=timezone.utc)) == "2025-02"
    assert clock.month_of(datetime(2025, 1, 31, 15, 59, tzinfo=timezone.utc)) == "2025-01"
    assert clock.month_start("2025-02") == datetime(2025, 1, 31, 16, 0, tzinfo=timezone.utc)
    assert clock.add_months("2025-01", -12) == "2024-01" and clock.add_months("2024-12", 1) == "2025-01"
    assert clock.months_between("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert clock.months_count("2024-11", "2025-02") == 4 and clock.months_count("2025-03", "2025-02") == 0
    assert clock.months_count("2016-01", "2025-12") == len(clock.months_between("2016-01", "2025-12")) == 120


def test_the_figures_equal_those_replayed_from_the_events(generated, in_order):
    expected = Expectation(generated.events).figures(FIRST, LAST)
    with in_order() as session:
        figures = caseload.case_figures(session, FIRST, LAST)
    compared = 0
    for row in figures["regencies"]:
        for entry in row["months"]:
            cell = expected[(row["regency"], entry["month"])]
            if not entry["has_data"]:
                assert entry["new"] is None and entry["active"] is None and entry["closed"]["positive"] is None
                continue
            got = {k: entry[k] for k in ("new", "active", "closed", "reopened", "persons", "new_persons")}
            assert got == {k: cell[k] for k in got}, (row["regency"], entry["month"])
            compared += 1
    assert compared > 12 * 12


def test_a_silent_month_has_no_data_and_the_province_names_the_regency(generated, in_order):
    regency, month = generated.silent
    with in_order() as session:
        figures = caseload.case_figures(session, FIRST, LAST)
    entry = next(e for r in figures["regencies"] if r["regency"] == regency for e in r["months"] if e["month"] == month)
    assert entry["has_data"] is False and entry["new"] is None and entry["active_per_10k"] is None
    province = next(p for p in figures["province"]["months"] if p["month"] == month)
    assert province["regencies_without_data"] == [regency]


@pytest.mark.parametrize("seed", [1])
def test_shuffled_and_repeated_events_give_the_same_figures(generated, in_order, tmp_path, seed):
    events = list(generated.events)
    random.Random(seed).shuffle(events)
    shuffled = apply_all(tmp_path, events + events[:500])  # the consumer's inbox would skip the repeats
    with in_order() as a, shuffled() as b:
        for query in (caseload.case_figures, caseload.tuna_sosial_trend, caseload.disability_coverage):
            expected, got = query(a, FIRST, LAST), query(b, FIRST, LAST)
            expected.pop("generated_at"), got.pop("generated_at")
            assert got == expected


@pytest.mark.postgres
def test_events_applied_at_once_on_postgresql_give_the_same_figures(generated, in_order, pg):
    """As the hub's consumer workers do: each event in its own transaction, many at once, shuffled
    and some twice (the same event applied concurrently), on PostgreSQL, where the projection's
    advisory locks are all that keeps two transactions about one case, person key or alias graph
    from reading each other's half-done work."""
    uri = pg.create()
    db.migrate("reporting", uri)
    engine = db.create_engine(uri)
    make = sessionmaker(engine)
    events = list(generated.events)
    random.Random(3).shuffle(events)

    def apply(event):
        with db.UnitOfWork(make, Outbox(messaging, "reporting")) as uow:
            HANDLERS[event.event_type](uow, event)

    try:
        list(eventlet.GreenPool(10).imap(apply, events + events[::7]))
        with in_order() as a, make() as b:
            for query in (caseload.case_figures, caseload.tuna_sosial_trend, caseload.disability_coverage):
                expected, got = query(a, FIRST, LAST), query(b, FIRST, LAST)
                expected.pop("generated_at"), got.pop("generated_at")
                assert got == expected
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_key_renamed_while_its_case_opens_counts_under_its_newest_key_on_postgresql(pg):
    """A node's person registered, their case opened, their key renamed to one the node knew and
    that one renamed again, the four applied at once (PostgreSQL): every key ends at the newest
    one, whichever transaction commits first."""
    from datetime import datetime, timezone

    from rehsos.contracts import make_event
    from reporting.models import PersonIdentity

    uri = pg.create()
    db.migrate("reporting", uri)
    engine = db.create_engine(uri)
    make = sessionmaker(engine)
    at = datetime(2025, 3, 3, tzinfo=timezone.utc)
    sequence = iter(range(1, 10_000))

    def event(event_type, payload):
        e = make_event(event_type, payload, node="6371", service="intake").with_sequence(next(sequence))
        return dataclasses.replace(e, occurred_at=at)

    def registered(key):
        return event("person.registered", {"person_key": key, "person_key_kind": "local", "age_band": "30-34",
                                           "sex": "male", "region": "6371", "categories": ["gelandangan"],
                                           "disabilities": []})

    known, groups, renamed = [], [], {}
    for i in range(150):
        old, middle, new = (f"{i + j * 10_000:064x}" for j in range(3))
        renamed.update(dict.fromkeys((old, middle, new), new))
        known.append(registered(middle))  # known before: neither renaming waits on recording it
        group = [registered(old),
                 event("case.opened", {"case_id": str(uuid.uuid4()), "person_key": old, "age_band": "30-34",
                                       "sex": "male", "category": "gelandangan", "stage": "pendekatan_awal",
                                       "region": "6371"}),
                 event("person.identified", {"previous_person_key": old, "person_key": middle}),
                 event("person.identified", {"previous_person_key": middle, "person_key": new})]
        random.Random(i).shuffle(group)
        groups += group

    def apply(e):
        with db.UnitOfWork(make, Outbox(messaging, "reporting")) as uow:
            HANDLERS[e.event_type](uow, e)

    try:
        for e in known:
            apply(e)
        list(eventlet.GreenPool(12).imap(apply, groups))
        with make() as session:
            resolved = {i.person_key: i.resolved for i in session.scalars(sa.select(PersonIdentity))}
        assert resolved == renamed
    finally:
        engine.dispose()


def test_the_monthly_report_has_a_row_per_regency_with_the_month_s_figures(generated, in_order):
    regency, month = generated.silent
    expected = Expectation(generated.events)
    cells = expected.figures(month, month)
    tuna = expected.figures("2024-05", month, categories=TUNA_SOSIAL)
    with in_order() as session:
        rows = caseload.monthly_report(session, month)
        [one] = caseload.monthly_report(session, month, regency="6371")
    assert [r["regency"] for r in rows] == list(reference.REGENCIES)
    assert one == next(r for r in rows if r["regency"] == "6371")
    for row in rows:
        if row["regency"] == regency:
            assert row["has_data"] is False
            # Every figure of the month is unknown; a year earlier is another month, known.
            assert {v for k, v in row.items() if k not in ("month", "regency", "name", "population", "has_data")
                    and not k.endswith("_year_before")} == {None}
            assert row["tuna_sosial_active_year_before"] is not None
            continue
        cell = cells[(row["regency"], month)]
        assert row["has_data"] is True
        assert (row["new"], row["active"], row["reopened"], row["persons"]) == \
            (cell["new"], cell["active"], cell["reopened"], cell["persons"])
        assert row["closed_negative"] == cell["closed"]["negative"]
        assert row["active_per_10k"] == reference.per_10k(cell["active"], row["regency"])
        now_cell, before = tuna[(row["regency"], month)], tuna[(row["regency"], "2024-05")]
        assert row["tuna_sosial_active"] == now_cell["active"]
        assert row["tuna_sosial_active_change"] == now_cell["active"] - before["active"]


@pytest.mark.parametrize("regency,category", [(None, None), (None, "gelandangan"), ("6371", None)])
def test_the_figures_by_stage_and_by_category_equal_those_replayed_from_the_events(generated, in_order,
                                                                                   regency, category):
    """The province's active cases per stage and new and active cases per category: summed over
    the regencies that sent something that month, under a category and a regency filter too."""
    replay = Expectation(generated.events)
    expected = replay.figures(FIRST, LAST, categories={category} if category else None)
    with in_order() as session:
        figures = caseload.case_figures(session, FIRST, LAST, regency=regency, category=category)
    regencies = [regency] if regency else list(reference.REGENCIES)
    checked = 0
    for i, month in enumerate(clock.months_between(FIRST, LAST)):
        cells = [expected[(r, month)] for r in regencies if replay.has_data(r, month)]
        for row in figures["by_stage"]:
            got = row["months"][i]["active"]
            assert got == (sum(c["stages"].get(row["stage"], 0) for c in cells) if cells else None), (month, row)
            checked += bool(got)
        for row in figures["by_category"]:
            want = {k: sum(c["categories"][row["category"]][k] for c in cells) if cells else None
                    for k in ("new", "active")}
            assert {k: row["months"][i][k] for k in ("new", "active")} == want, (month, row["category"])
            checked += bool(want["new"])
    assert checked > 12
