"""Where to build reads the demand summary (the persons' months waiting for a bed or in one, and
the tally they sum to) instead of every referral timeline. Over a generated history with referrals
(cases reopened, cases arriving after their referrals or never, keys renamed, a person referred
twice, answers out of order and redelivered, stamps on a month's edge), the summary the projection
keeps equals the one migration 0013 fills from the timelines, and the figures read from it equal
those the timelines give (planning.demand_series, Timeline.waiting_at / in_bed_at): the reference."""
import dataclasses
import importlib
import random
import uuid
from collections import Counter
from datetime import datetime, timedelta

import eventlet
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from rehsos import clock, contracts, db, reference
from rehsos.outbox import Outbox
from rehsos_tools import history
from reporting import domain, flows, planning
from reporting.models import DemandMonths, DemandTally, ReferralTimeline, messaging
from reporting.projections import READ_MODELS
from tests import demand_reference

migration = importlib.import_module("reporting.migrations.versions.0013_demand_summary")
NOT_YET = (domain.CaseNotYetKnown, domain.ReferralNotYetKnown)
ANSWERS = ("referral.waitlisted", "referral.accepted", "referral.rejected", "admission.recorded",
           "discharge.recorded")
EXTRA = {"referral.accepted": lambda at: {"reserved_until": at + timedelta(days=3)},
         "referral.rejected": lambda at: {"reason_code": "no_bed"}, "referral.waitlisted": lambda at: {"position": 1},
         "admission.recorded": lambda at: {"admitted_on": at.date()},
         "discharge.recorded": lambda at: {"discharged_on": at.date(), "outcome": "positive"}}
NOW = clock.current_month()
FIRST = clock.add_months(NOW, -30)


def _referrals(rng: random.Random, events: list) -> list:
    """Referrals of about a third of the cases (some twice), some of cases that never arrive, some
    answered before they were requested (the clocks differ) or on a month's first instant: (when
    it arrives, event), an answer never before its request."""
    sequences = iter(range(10 ** 6, 10 ** 7))
    made = []

    def event(event_type, payload, node, service, at):
        e = contracts.make_event(event_type, payload, node=node, service=service).with_sequence(next(sequences))
        return dataclasses.replace(e, occurred_at=at)

    def moment(after: datetime) -> datetime:
        at = after + timedelta(days=rng.uniform(-2, 90))
        return clock.month_start(clock.month_of(at)) if rng.random() < 0.15 else at

    opened = [e for e in events if e.event_type == "case.opened"]
    ghosts = [dataclasses.replace(rng.choice(opened), payload={
        **rng.choice(opened).payload, "case_id": str(uuid.uuid4()),
        "person_key": rng.choice([uuid.uuid4().hex * 2, rng.choice(opened).payload["person_key"]])})
        for _ in range(len(opened) // 10)]
    for case in rng.sample(opened, len(opened) // 3) + rng.sample(opened, len(opened) // 20) + ghosts:
        p, referral_id = case.payload, str(uuid.uuid4())
        at = requested_at = moment(case.occurred_at)
        # Now and then the province refers a regency's case, or the referral carries another key
        # of the person: until the case arrives, it counts under the province and that key.
        node = "63" if rng.random() < 0.2 else case.node
        key = uuid.uuid4().hex * 2 if rng.random() < 0.2 else p["person_key"]
        made.append((at, event("referral.requested", {
            "referral_id": referral_id, "case_id": p["case_id"], "facility_id": "panti", "facility_node": "63",
            "person_key": key, "category": p["category"], "sex": "male", "age_band": "30-34",
            "consent_override": False}, node, "intake", at)))
        for event_type in ANSWERS:
            if rng.random() < 0.45:
                at = moment(at)
                made.append((max(at, requested_at), event(
                    event_type, {"referral_id": referral_id, "case_id": p["case_id"], "referring_node": node,
                                 "facility_id": "panti", **EXTRA[event_type](at)}, "63", "facilities", at)))
    return made


@pytest.fixture(scope="module")
def generated():
    events = list(history.generate(seed=14, first=FIRST, last=NOW, persons_per_month=0.3, silent=None).events)
    rng = random.Random(14)
    referrals = _referrals(rng, events)
    # In time order, but the cases of a third of the referrals arrive after them (all their events).
    late = {e.payload["case_id"] for _, e in rng.sample(referrals, len(referrals) // 3)}
    ordered = [e for _, e in sorted([(e.occurred_at, e) for e in events] + referrals, key=lambda pair: pair[0])]
    ordered = ([e for e in ordered if e.payload.get("case_id") not in late or not e.event_type.startswith("case.")]
               + [e for e in ordered if e.payload.get("case_id") in late and e.event_type.startswith("case.")])
    # Last, keys of referred cases renamed: nothing of their referrals comes after.
    referred = {e.payload["case_id"] for _, e in referrals}
    renamed = [e for e in ordered if e.event_type == "case.opened" and e.payload["case_id"] in referred]
    at = clock.month_start(NOW)
    return ordered + [dataclasses.replace(contracts.make_event(
        "person.identified", {"previous_person_key": e.payload["person_key"], "person_key": uuid.uuid4().hex * 2},
        node=e.node, service="intake").with_sequence(2 * 10 ** 7 + i), occurred_at=at)
        for i, e in enumerate(rng.sample(renamed, 15))]


def _database(tmp_path, name: str):
    uri = f"sqlite:///{tmp_path / name}.sqlite"
    db.migrate("reporting", uri)
    return sessionmaker(db.create_engine(uri))


def apply_in_batches(make, events, size=97) -> None:
    for i in range(0, len(events), size):
        with db.UnitOfWork(make, Outbox(messaging, "reporting"), batch=True) as uow:
            for event in events[i:i + size]:
                READ_MODELS[event.event_type](uow, event)


def apply_one_by_one(make, events) -> None:
    """Each event in its own unit of work; one that overtook what it needs comes again later, as
    the consumer retries it."""
    waiting = list(events)
    while waiting:
        again = []
        for event in waiting:
            try:
                with db.UnitOfWork(make, Outbox(messaging, "reporting")) as uow:
                    READ_MODELS[event.event_type](uow, event)
            except NOT_YET:
                again.append(event)
        assert len(again) < len(waiting)
        waiting = again


def summary(session) -> dict:
    """The demand summary kept, and made from the timelines now by migration 0013's fill (in
    this transaction, rolled back): with where each referral counts and till when; tallies that
    came to 0 left out."""
    t = ReferralTimeline

    def rows():
        return {"months": set(session.execute(sa.select(*DemandMonths.__table__.c)).all()),
                "tally": set(session.execute(sa.select(*DemandTally.__table__.c).where(DemandTally.n != 0)).all()),
                "places": set(session.execute(sa.select(t.referral_id, t.region, t.person, t.counts_until)).all())}
    kept = rows()
    session.execute(sa.delete(DemandMonths))
    session.execute(sa.delete(DemandTally))
    for statement in migration.fill(session.bind.dialect.name):
        session.execute(sa.text(statement))
    filled = rows()
    session.rollback()
    return kept, filled


def reference_where_to_build(session, category, last, at):
    """Per regency, what where_to_build computed from every timeline before the summary:
    (months, demand at each month's end, people waiting now, people in a bed now)."""
    by_regency: dict[str, list] = {}
    for t in flows.timelines(session, category):
        by_regency.setdefault(t.regency, []).append(t)
    result = {}
    for code in reference.REGENCIES:
        items = by_regency.get(code, [])
        first = demand_reference.first_month(items)
        months = clock.months_between(first, last)[-planning.WINDOW_MONTHS:] if first else []
        result[code] = (months, demand_reference.demand_series(items, months),
                        len({t.person for t in items if t.waiting_at(at)}),
                        len({t.person for t in items if t.in_bed_at(at)}))
    return result


@pytest.fixture(scope="module")
def in_batches(generated, tmp_path_factory):
    make = _database(tmp_path_factory.mktemp("demand"), "batches")
    apply_in_batches(make, generated)
    return make


def test_the_history_has_what_the_summary_must_follow(generated):
    kinds = {e.event_type for e in generated}
    assert {"case.reopened", "person.identified", "referral.requested", *ANSWERS} <= kinds
    requested = {e.payload["case_id"] for e in generated if e.event_type == "referral.requested"}
    opened = [e.payload["case_id"] for e in generated if e.event_type == "case.opened"]
    first_request = {}
    for i, e in enumerate(generated):
        if e.event_type == "referral.requested":
            first_request.setdefault(e.payload["case_id"], i)
    late = [c for i, e in enumerate(generated) if e.event_type == "case.opened"
            and (c := e.payload["case_id"]) in first_request and first_request[c] < i]
    assert late and requested - set(opened)  # cases after their referrals, and never


def test_the_summary_kept_equals_the_one_filled_from_the_timelines(in_batches):
    with in_batches() as session:
        kept, filled = summary(session)
    assert kept == filled
    assert {row.category for row in kept["months"]} > {flows.ANY}
    assert {row.measure for row in kept["months"]} == {"demand", "requested"}
    assert any(row.counts_until is None for row in kept["places"])
    with in_batches() as session:  # placed as the timelines place them (the fill does it as they do)
        placed = {(t.referral_id, t.regency, t.person) for t in flows.timelines(session)}
    assert {row[:3] for row in kept["places"]} == placed


def test_out_of_order_redelivered_one_by_one_the_summary_is_the_same(generated, in_batches, tmp_path):
    """Each event in its own unit of work (no batch), shuffled, answers redelivered. A key renamed
    before a case of it arrives leaves that case under the old key (reporting.domain: the
    registered cases, whose keys the timelines take), so the persons may differ from those in
    order: the summary is compared with the timelines of this database, the referrals' stops with
    the ordered one's."""
    events = list(generated)
    rng = random.Random(3)
    rng.shuffle(events)
    answers = [e for e in events if e.event_type in ANSWERS]
    make = _database(tmp_path, "shuffled")
    apply_one_by_one(make, events + rng.sample(answers, len(answers) // 3))
    with in_batches() as a, make() as b:
        expected, _ = summary(a)
        kept, filled = summary(b)
        assert kept == filled
        assert {row[0]: row[3] for row in kept["places"]} == {row[0]: row[3] for row in expected["places"]}
        assert figures_equal_the_timelines(b, generated) > 100


def figures_equal_the_timelines(session, generated) -> int:
    """Where to build's figures (of every category referred to, and of none) equal those the
    timelines give; the months compared."""
    referred = Counter(e.payload["category"] for e in generated if e.event_type == "referral.requested")
    compared = 0
    for category in [None, *(c for c, _ in referred.most_common(3)), "pengemis"]:
        at = clock.now()
        figures = planning.where_to_build(session, None, category)
        expected = reference_where_to_build(session, category, figures["history_until"], at)
        for row in figures["regencies"]:
            months, series, waiting, in_bed = expected[row["regency"]]
            assert [(h["month"], h["demand"]) for h in row["history"]] == list(zip(months, series))
            assert (row["people_waiting"], row["people_in_bed"]) == (waiting, in_bed)
            compared += len(series)
        # Windows ending earlier, some before a regency's first request.
        for last in (clock.add_months(NOW, -1), clock.add_months(NOW, -20), clock.add_months(NOW, -29), NOW):
            expected = reference_where_to_build(session, category, last, at)
            got = planning.demand_history(session, category, last)
            assert {code: got.get(code, ([], [])) for code in reference.REGENCIES} == \
                {code: (months, series) for code, (months, series, _, _) in expected.items()}
    return compared


def test_where_to_build_from_the_summary_equals_the_figures_from_the_timelines(generated, in_batches):
    with in_batches() as session:
        assert figures_equal_the_timelines(session, generated) > 100
        figures = planning.where_to_build(session, None, None)["regencies"]
        assert any(max(h["demand"] for h in r["history"]) > 1 for r in figures if r["history"])
        assert any(r["people_waiting"] for r in figures) and any(r["people_in_bed"] for r in figures)


@pytest.mark.postgres
def test_kept_by_concurrent_transactions_on_postgresql_the_summary_equals_the_timelines(generated, pg):
    """Batches applied at once, as the consumer's workers do (one that overtook what it needs
    comes again, as requeued): no deadlock between the referrals' rows and the summaries' lock,
    and the summary is what the timelines give."""
    from reporting.projections import prepare
    uri = pg.create()
    db.migrate("reporting", uri)
    engine = db.create_engine(uri)
    make = sessionmaker(engine)

    def apply(batch):
        for _ in range(200):
            try:
                with db.UnitOfWork(make, Outbox(messaging, "reporting"), batch=True) as uow:
                    prepare(uow, batch)
                    for event in batch:
                        READ_MODELS[event.event_type](uow, event)
                return
            except NOT_YET:
                eventlet.sleep(0.02)
        raise AssertionError("a batch never applied")

    try:
        # The events the demand follows (the capacity snapshots' own upserts are not under test).
        events = [e for e in generated
                  if e.event_type in flows.HANDLERS or e.event_type.startswith(("case.", "person."))]
        list(eventlet.GreenPool(6).imap(apply, [events[i:i + 40] for i in range(0, len(events), 40)]))
        with make() as session:
            kept, filled = summary(session)
            assert kept == filled and kept["tally"]
            assert figures_equal_the_timelines(session, generated) > 100
    finally:
        engine.dispose()


def test_migration_0013_fills_the_summary_on_a_hub_with_timelines(in_batches, tmp_path):
    """The registered cases and the timelines (without what 0013 adds) of a hub at 0012: upgraded,
    the summary is the one the projection kept."""
    from reporting.models import RegisteredCase
    uri = f"sqlite:///{tmp_path / 'upgraded'}.sqlite"
    db.migrate("reporting", uri, revision="reporting_0012")
    engine = db.create_engine(uri)
    added = {"region", "person", "counts_until"}
    with in_batches() as source, engine.begin() as conn:
        for table, columns in ((RegisteredCase.__table__, None),
                               (ReferralTimeline.__table__, [c for c in ReferralTimeline.__table__.c
                                                             if c.name not in added])):
            columns = columns or list(table.c)
            rows = [dict(zip((c.name for c in columns), row)) for row in source.execute(sa.select(*columns))]
            conn.execute(sa.insert(sa.table(table.name, *(sa.column(c.name, c.type) for c in columns))), rows)
    db.migrate("reporting", uri)
    with in_batches() as a, sessionmaker(engine)() as b:
        expected, _ = summary(a)
        upgraded, _ = summary(b)
    assert upgraded == expected and upgraded["tally"]
    engine.dispose()
