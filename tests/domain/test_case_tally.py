"""The case tally the projection keeps as events apply equals the one summed from the facts
(migration 0012's fill), whatever the order, with redeliveries, in one batch or event by event,
on SQLite and on PostgreSQL; and the figures read from it equal those computed from the facts."""
import importlib
import random

import eventlet
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from rehsos import clock, db
from rehsos.outbox import Outbox
from reporting import caseload, domain
from reporting.models import (CaseTally, PersonMonths, PersonTally, RegisteredCase, RegisteredPerson, RegisteredTally,
                              messaging)
from tests.domain.test_caseload import FIRST, HANDLERS, LAST, apply_all, generated, in_order  # noqa: F401 (fixtures)

migration = importlib.import_module("reporting.migrations.versions.0012_summaries")


SUMMARIES = (CaseTally, PersonMonths, PersonTally, RegisteredTally, RegisteredPerson)


def _summaries(session) -> dict:
    """Every summary table's rows, without those of the tallies that came to 0."""
    found = {}
    for model in SUMMARIES:
        query = sa.select(*model.__table__.c)
        count = model.__table__.c.get("n", model.__table__.c.get("cases"))
        if count is not None:
            query = query.where(count != 0)  # a key renamed away keeps its row, at 0
        found[model.__tablename__] = set(session.execute(query).all())
    return found


def tallies(session) -> tuple[dict, dict]:
    """(kept by the projection, made from the facts now by migration 0012's fill): the fill runs
    in the same transaction, rolled back."""
    kept = _summaries(session)
    for model in SUMMARIES:
        session.execute(sa.delete(model))
    for statement in migration.FILL[1:]:  # the first marks the steps counted: they all are
        if "stream_range" not in statement:  # the hub's inbox bookkeeping: tests/domain/test_stream_ranges.py
            session.execute(sa.text(statement))
    summed = _summaries(session)
    session.rollback()
    return kept, summed


def test_the_history_has_what_the_tally_must_follow(generated):
    kinds = {e.event_type for e in generated.events}
    assert {"case.reopened", "case.closed", "case.stage_changed", "person.identified"} <= kinds


def test_the_tally_kept_in_one_batch_in_order_equals_the_facts(in_order):
    with in_order() as session:
        kept, summed = tallies(session)
    assert kept == summed
    assert any(row.measure == "reopened" for row in kept["case_tally"])
    assert {row.measure for row in kept["person_tally"]} == {"persons", "new_persons", "registered",
                                                             "with_active_case"}
    assert {row.region for row in kept["person_months"]} > {""}


def test_shuffled_redelivered_and_one_event_at_a_time_the_tally_equals_the_facts(generated, in_order, tmp_path):
    events = list(generated.events)
    random.Random(11).shuffle(events)
    shuffled = apply_all(tmp_path, events + events[:700])
    uri = f"sqlite:///{tmp_path / 'one_by_one'}.sqlite"
    db.migrate("reporting", uri)
    make = sessionmaker(db.create_engine(uri))
    for event in events[::-1] + events[::5]:  # each in its own unit of work, as without batches
        with db.UnitOfWork(make, Outbox(messaging, "reporting")) as uow:
            HANDLERS[event.event_type](uow, event)
    with in_order() as a, shuffled() as b, make() as c:
        reference, _ = tallies(a)
        for session in (b, c):
            kept, summed = tallies(session)
            assert kept == summed == reference


def test_the_figures_from_the_tallies_equal_those_from_the_facts(in_order):
    """Every figure from the tallies, compared here with the same figures counted from the spans
    and steps (what the pages did before); a silent regency's month takes the province's unique
    persons from the facts."""
    from reporting.caseload import _active, _steps
    months = clock.months_between(FIRST, LAST)
    regencies = caseload.regencies_in(None)
    with in_order() as session:
        for categories in (None, ("gelandangan",), caseload.TUNA_SOSIAL):
            counts = caseload.case_counts(session, months, regencies, categories, persons=False)
            steps, active = _steps(months, regencies, categories), _active(months, regencies, categories)
            new = dict(((r, m), n) for r, m, n in session.execute(
                sa.select(steps.c.region, steps.c.month, sa.func.count()).where(steps.c.kind == "opened")
                .group_by(steps.c.region, steps.c.month)))
            open_ = dict(((r, m), n) for r, m, n in session.execute(
                sa.select(active.c.region, active.c.month, sa.func.count()).group_by(active.c.region, active.c.month)))
            assert {k: c["new"] for k, c in counts["cells"].items() if c["new"]} == new
            assert {k: c["active"] for k, c in counts["cells"].items() if c["active"]} == open_
            assert sum(open_.values()) > 0 or categories is not None
        for regencies in (caseload.regencies_in(None), ["6371"], ["6311"]):
            got = caseload.case_counts(session, months, regencies, None)
            cells: dict = {}
            facts = caseload._persons_from_facts(session, months, regencies, None,
                                                 lambda r, m: cells.setdefault((r, m), {}))
            assert {k: c.get("persons", 0) for k, c in cells.items()} == \
                {k: c["persons"] for k, c in got["cells"].items() if k in cells}
            assert all(not c["persons"] for k, c in got["cells"].items() if k not in cells)
            assert {k: c.get("new_persons", 0) for k, c in cells.items()} == \
                {k: c["new_persons"] for k, c in got["cells"].items() if k in cells}
            for key in ("persons", "new_persons"):
                assert {m: n for m, n in got[key].items() if n} == {m: n for m, n in facts[key].items() if n}


@pytest.mark.postgres
def test_the_tally_kept_by_concurrent_transactions_on_postgresql_equals_the_facts(generated, pg):
    uri = pg.create()
    db.migrate("reporting", uri)
    engine = db.create_engine(uri)
    make = sessionmaker(engine)
    events = list(generated.events)
    random.Random(5).shuffle(events)
    batches = [events[i:i + 40] for i in range(0, len(events), 40)] + [events[::9]]

    def apply(batch):
        with db.UnitOfWork(make, Outbox(messaging, "reporting"), batch=True) as uow:
            caseload.prepare(uow, batch)
            for event in batch:
                HANDLERS[event.event_type](uow, event)

    try:
        list(eventlet.GreenPool(6).imap(apply, batches))
        with make() as session:
            kept, summed = tallies(session)
        assert kept == summed and kept["case_tally"] and kept["person_months"]
    finally:
        engine.dispose()


def test_a_rebuild_makes_the_summaries_again_from_the_events(generated, in_order, tmp_path):
    from reporting import rebuild, store
    uri = f"sqlite:///{tmp_path / 'rebuilt'}.sqlite"
    db.migrate("reporting", uri)
    engine = db.create_engine(uri)
    make = sessionmaker(engine)
    with db.UnitOfWork(make, Outbox(messaging, "reporting"), batch=True) as uow:
        for event in generated.events:
            store.kept(HANDLERS)[event.event_type](uow, event)
        uow.session.execute(sa.delete(CaseTally))  # summaries gone wrong: the rebuild does not start from them
        uow.session.execute(sa.delete(PersonTally))
    rebuild.rebuild(uri, handlers=HANDLERS, batch_size=97)
    with in_order() as a, make() as b:
        expected, _ = tallies(a)
        kept, summed = tallies(b)
    assert kept == summed == expected
    engine.dispose()


def test_the_disability_figures_from_the_tally_equal_those_from_the_facts(in_order):
    months = clock.months_between(FIRST, LAST)
    with in_order() as session:
        for regencies in (caseload.regencies_in(None), ["6371"], ["6311"]):
            got = caseload._disability_counts(session, months, regencies, None)
            facts = caseload._disability_counts_from_facts(session, months, regencies, None)
            assert got == facts and any(key[0] == "with_active_case" for key in got)


def test_the_registered_tally_equals_the_registered_cases(generated, tmp_path):
    """The domain's projection too (events in order: it waits for a case's opening), in batches
    that end anywhere, a key with cases renamed."""
    from reporting.projections import READ_MODELS
    from tests.hub_support import province_events
    uri = f"sqlite:///{tmp_path / 'registered'}.sqlite"
    db.migrate("reporting", uri)
    engine = db.create_engine(uri)
    make = sessionmaker(engine)
    events = list(generated.events) + province_events()  # the latter renames a key with a case
    for i in range(0, len(events), 250):
        with db.UnitOfWork(make, Outbox(messaging, "reporting"), batch=True) as uow:
            for event in events[i:i + 250]:
                READ_MODELS[event.event_type](uow, event)
    with make() as session:
        kept, summed = tallies(session)
        assert kept == summed
        t, c = RegisteredTally, RegisteredCase
        open_ = dict(session.execute(sa.select(c.region, sa.func.count()).where(c.closed.is_(False))
                                     .group_by(c.region)).all())
        assert domain.open_cases(session) == open_ and sum(open_.values()) > 0
        persons = session.scalar(sa.select(sa.func.count(sa.distinct(c.person_key))))
        assert domain.summary(session, messaging)["unique_persons"] == persons > 0
        assert any(row.measure == "open" and row.n < session.scalar(
            sa.select(sa.func.count()).where(c.region == row.region, c.category == row.category))
            for row in session.scalars(sa.select(t)))  # some closed
    engine.dispose()
