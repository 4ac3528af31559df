"""The hub's event store and rebuild on a SQLite hub database, without a broker: events applied the
way the consumer applies them (``reporting.projections.HANDLERS`` in a unit of work), then
rebuilt. The same through the real broker and on PostgreSQL: tests/service/test_hub_rebuild.py."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from rehsos import contracts, db
from rehsos.db import UnitOfWork, create_engine
from rehsos.errors import RefusedEvent
from rehsos.outbox import Outbox
from reporting import rebuild, store
from reporting.models import Base, NodeHeartbeat, messaging
from reporting.projections import HANDLERS
from reporting.rebuild import RebuildError
from tests.hub_support import Streams, province_events
from tests.support import read_models


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub_db(request, tmp_path):
    if request.param == "postgresql":
        uri = request.getfixturevalue("pg").create()
    else:
        uri = f"sqlite:///{tmp_path / 'reporting.sqlite'}"
    db.migrate("reporting", uri)
    engine = create_engine(uri)
    yield uri, engine
    engine.dispose()


def apply(engine, event) -> None:
    """What the consumer does with an accepted event (the inbox aside): one unit of work."""
    with UnitOfWork(sessionmaker(engine, expire_on_commit=False), Outbox(messaging, "reporting")) as uow:
        uow.session.execute(sa.insert(messaging.inbox).values(
            event_id=str(event.event_id), node=event.node, service=event.service, sequence=event.sequence,
            event_type=event.event_type, received_at=datetime.now(timezone.utc)))
        HANDLERS[event.event_type](uow, event)


def test_read_models_are_every_table_but_messaging_store_and_bookkeeping():
    names = {t.name for t in store.read_model_tables()}
    assert {"registered_case", "referral_status", "node_heartbeat"} <= names
    assert not names & {"outbox", "outbox_sequence", "inbox", "quarantine", "relay_lease", "event_store",
                        "stream_repair"}
    # A read model added later (by another module) is one without being named anywhere.
    added = sa.Table("zz_added_read_model", Base.metadata, sa.Column("id", sa.Integer, primary_key=True))
    try:
        assert added in store.read_model_tables()
    finally:
        Base.metadata.remove(added)


def test_every_accepted_event_is_stored_once_with_its_declared_fields_only(hub_db):
    uri, engine = hub_db
    events = province_events()
    for event in events:
        apply(engine, event)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT event_id, event_type, envelope FROM event_store ORDER BY id")).all()
    # Every type, handled by a read model or not yet (assessment.completed), in the order accepted.
    assert [(r.event_id, r.event_type) for r in stored] == [(str(e.event_id), e.event_type) for e in events]
    for row, event in zip(stored, events):
        kept = contracts.parse_event(row.envelope)
        assert set(kept.payload) <= set(contracts.payload_schema(event.event_type, 1).fields)
        assert (kept.sequence, kept.node, kept.occurred_at) == (event.sequence, event.node, event.occurred_at)
    # The duplicate found (one person at 6371 and 6303) went to the outbox for the nodes, and only there.
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one() == 2


def test_a_failing_application_stores_nothing(hub_db):
    uri, engine = hub_db
    ev = Streams()
    closed = ev("case.closed", {"case_id": str(uuid.uuid4()), "outcome": "positive", "stage_before": "asesmen"},
                "6371", "intake")
    with pytest.raises(Exception, match="before its opening"):
        apply(engine, closed)
    nominated = ev("training.nominated", {"nomination_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()),
                                          "name": "Budi Santoso", "position": "Pekerja sosial", "office": "Dinsos",
                                          "regency": "6371", "role": "pekerja_sosial", "phone": None,
                                          "email": None}, "6371", "training")
    with pytest.raises(RefusedEvent):
        apply(engine, nominated)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM event_store")).scalar_one() == 0


def test_rebuild_equals_the_live_read_models_and_replaying_twice_changes_nothing(hub_db):
    uri, engine = hub_db
    for event in province_events():
        apply(engine, event)
    live = read_models(engine)
    assert live["referral_status"] and live["node_heartbeat"] and live["person_presence"]
    progress = []
    result = rebuild.rebuild(uri, on_progress=lambda done, total: progress.append((done, total)),
                             batch_size=4)
    assert result.events == len(province_events())
    assert progress[-1] == (result.events, result.events)
    assert read_models(engine) == live
    rebuild.rebuild(uri)
    assert read_models(engine) == live
    with engine.connect() as conn:  # the emitted duplicate was not emitted again
        assert conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one() == 2


def test_rebuild_starts_from_empty_tables(hub_db):
    uri, engine = hub_db
    for event in province_events():
        apply(engine, event)
    live = read_models(engine)
    with engine.begin() as conn:  # a read model gone wrong: a row no event made, a count changed
        conn.execute(sa.text("UPDATE registered_case SET closed = :t").bindparams(t=True))
        conn.execute(sa.insert(NodeHeartbeat.__table__).values(node="6372", service="intake", outbox_waiting=5,
                                                               as_of=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    rebuild.rebuild(uri)
    assert read_models(engine) == live


def test_rebuild_refuses_when_the_store_lacks_accepted_events(hub_db):
    uri, engine = hub_db
    for event in province_events()[:3]:
        apply(engine, event)
    with engine.begin() as conn:  # accepted before the store existed
        conn.execute(sa.text("DELETE FROM event_store WHERE id = 1"))
    before = read_models(engine)
    with pytest.raises(RebuildError, match="1 accepted events are not in the event store"):
        rebuild.rebuild(uri)
    assert read_models(engine) == before


def test_a_stored_event_that_cannot_apply_stops_the_rebuild_before_the_swap(hub_db):
    uri, engine = hub_db
    for event in province_events():
        apply(engine, event)
    before = read_models(engine)
    with engine.begin() as conn:  # the request of the referral is gone: its answers cannot apply
        conn.execute(sa.text("DELETE FROM event_store WHERE event_type = 'referral.requested'"))
        conn.execute(sa.text("DELETE FROM inbox WHERE event_type = 'referral.requested'"))
    with pytest.raises(RebuildError, match="2 stored events do not apply.*ReferralNotYetKnown"):
        rebuild.rebuild(uri)
    assert read_models(engine) == before
    if engine.dialect.name == "sqlite":  # the half-built models are gone
        assert not Path(f"{engine.url.database}.rebuild").exists()
    else:
        with engine.connect() as conn:
            assert not conn.execute(sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"),
                                    {"s": rebuild.SCHEMA}).scalar_one()


@pytest.mark.postgres
def test_a_second_rebuild_of_a_postgresql_database_waits_for_none_and_leaves_the_first_alone(pg):
    uri = pg.create()
    db.migrate("reporting", uri)
    engine = create_engine(uri)
    try:
        with engine.connect() as first:  # as a running rebuild holds it
            first.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": rebuild._PG_LOCK_KEY})
            first.exec_driver_sql(f"CREATE SCHEMA {rebuild.SCHEMA}")
            first.commit()
            with pytest.raises(RebuildError, match="another rebuild"):
                rebuild.rebuild(uri)
            assert first.execute(sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"),
                                 {"s": rebuild.SCHEMA}).scalar_one() == 1
    finally:
        engine.dispose()


def test_the_heartbeat_contract_carries_no_personal_data():
    fields = set(contracts.payload_schema("node.heartbeat", 1).fields)
    assert fields == {"as_of", "outbox_waiting"}
    with pytest.raises(ValueError):
        contracts.make_event("node.heartbeat", {"as_of": datetime.now(timezone.utc), "outbox_waiting": -1},
                             node="6371", service="intake")


@pytest.mark.postgres
def test_a_rebuild_replays_a_case_the_live_consumer_is_applying_without_waiting_for_it(pg):
    """The projection's locks name the schema written: the rebuild's replay into its own schema
    does not wait for a live transaction holding the same case (only the swap waits for it)."""
    import eventlet

    from tests.support import wait_until

    uri = pg.create()
    db.migrate("reporting", uri)
    engine = create_engine(uri)
    streams, case_id = Streams(), str(uuid.uuid4())
    opened = streams("case.opened", {"case_id": case_id, "person_key": "ab" * 32, "age_band": "30-34", "sex": "male",
                                     "category": "gelandangan", "stage": "pendekatan_awal", "region": "6371"},
                     "6371", "intake")
    changed = streams("case.stage_changed", {"case_id": case_id, "from_stage": "pendekatan_awal",
                                             "to_stage": "asesmen"}, "6371", "intake")
    closed = streams("case.closed", {"case_id": case_id, "outcome": "positive", "stage_before": "asesmen"},
                     "6371", "intake")
    apply(engine, opened)
    apply(engine, changed)
    progress = []
    try:
        with UnitOfWork(sessionmaker(engine, expire_on_commit=False), Outbox(messaging, "reporting")) as live:
            HANDLERS[closed.event_type](live, closed)  # the live consumer, mid-transaction on the case
            job = eventlet.spawn(rebuild.rebuild, uri, on_progress=lambda done, total: progress.append((done, total)))
            wait_until(lambda: (2, 2) in progress, timeout=30, message="both stored events replayed meanwhile")
        job.wait()
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM case_step")).scalar_one() == 3
    finally:
        engine.dispose()


def capacity_snapshot(free: int, hour: int, sequence: int):
    return contracts.make_event("capacity.changed", {
        "facility_id": "rumah-singgah-banjarmasin", "name": "Rumah Singgah Banjarmasin", "kind": "rumah_singgah",
        "regency": "6371", "categories": ["gelandangan"], "disability_types": [], "status": "operational",
        "units": [{"name": "Ruang", "sex": "male", "capacity": 4, "occupied": 4 - free, "free": free}],
        "as_of": datetime(2026, 11, 24, hour, tzinfo=timezone.utc)}, node="6371", service="facilities",
    ).with_sequence(sequence)


@pytest.mark.parametrize("mine_newer", [True, False], ids=["the-newer-one-second", "the-older-one-second"])
def test_two_first_snapshots_of_a_facility_applied_at_once_do_not_collide(pg, mine_newer):
    """Two workers apply the first two snapshots of a facility: the other one commits its insert
    just before this one's. This one neither fails on the primary key (it used to, retried by luck
    of a redelivery) nor undoes a newer snapshot."""
    uri = pg.create()
    db.migrate("reporting", uri)
    engine, other = create_engine(uri), create_engine(uri)
    older, newer = capacity_snapshot(free=3, hour=9, sequence=1), capacity_snapshot(free=1, hour=10, sequence=2)
    mine, theirs = (newer, older) if mine_newer else (older, newer)
    raced = []

    def the_other_commits_first(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO facility_capacity") and not raced:
            raced.append(statement)
            apply(other, theirs)

    sa.event.listen(engine, "before_cursor_execute", the_other_commits_first)
    try:
        apply(engine, mine)
    finally:
        sa.event.remove(engine, "before_cursor_execute", the_other_commits_first)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT units, as_of FROM facility_capacity")).one()
    engine.dispose()
    other.dispose()
    assert raced
    assert row.units[0]["free"] == 1 and row.as_of.hour == 10  # the newer snapshot stands


def _refusal(version: int, **reason):
    answer = {"referral_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "referring_node": "6371",
              "facility_id": "prsts-barakat", **reason}
    return contracts.make_event("referral.rejected", answer, node="63", service="facilities",
                                schema_version=version).with_sequence(4)


def test_a_refusal_s_free_text_is_not_kept_at_the_hub(hub_db):
    uri, engine = hub_db
    with UnitOfWork(sessionmaker(engine), Outbox(messaging, "reporting")) as uow:
        store.keep(uow, _refusal(1, reason="Budi (UJI) menolak masuk panti"))
        store.keep(uow, _refusal(2, reason_code="no_bed"))
    with engine.connect() as conn:
        kept = [contracts.parse_event(e).payload for e in conn.execute(sa.text(
            "SELECT envelope FROM event_store ORDER BY id")).scalars()]
    assert kept[0]["reason"] == "-" and kept[1]["reason_code"] == "no_bed"


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_migration_0014_blanks_the_free_text_of_refusals_stored_before(database, tmp_path, request):
    uri = request.getfixturevalue("pg").create() if database == "postgresql" else \
        f"sqlite:///{tmp_path / 'reporting.sqlite'}"
    db.migrate("reporting", uri, "reporting_0013")
    engine = create_engine(uri)
    events = [_refusal(1, reason="Budi (UJI) menolak masuk panti"), _refusal(2, reason_code="other")]
    with engine.begin() as conn:
        for event in events:
            conn.execute(sa.text(
                "INSERT INTO event_store (event_id, node, service, sequence, event_type, schema_version, occurred_at, "
                "received_at, envelope) VALUES (:id, '63', 'facilities', 4, 'referral.rejected', :v, :at, :at, :body)"),
                {"id": str(event.event_id), "v": event.schema_version, "at": event.occurred_at, "body": event.to_json()})
    db.migrate("reporting", uri)
    with engine.connect() as conn:
        kept = [contracts.parse_event(e) for e in conn.execute(sa.text(
            "SELECT envelope FROM event_store ORDER BY id")).scalars()]
    engine.dispose()
    assert [e.payload.get("reason") for e in kept] == ["-", None]
    assert [e.event_id for e in kept] == [e.event_id for e in events] and kept[1].payload == events[1].payload
