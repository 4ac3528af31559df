"""The stream figures from the runs of sequences each batch appends (``stream_range``) equal those
counted from the inbox itself, with gaps, batches out of order and redeliveries, before and after
the repair check merges the runs; migration 0012 makes the same runs from an inbox."""
from __future__ import annotations

import importlib
import random
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from rehsos import contracts, db, messaging as rehsos_messaging
from rehsos.outbox import Outbox
from reporting import domain, store
from reporting.models import StreamRange, messaging
from reporting.projections import HANDLERS

migration = importlib.import_module("reporting.migrations.versions.0012_summaries")


def heartbeat(node: str, sequence: int):
    payload = {"as_of": datetime(2026, 3, 1, tzinfo=timezone.utc), "outbox_waiting": 0}
    return contracts.make_event("node.heartbeat", payload, node=node, service="intake").with_sequence(sequence)


def from_inbox(session) -> tuple[list, dict]:
    """What the stream figures were before: counted from every inbox row."""
    inbox, streams, gaps = messaging.inbox, [], {}
    for node, service in session.execute(sa.select(inbox.c.node, inbox.c.service).distinct()
                                         .order_by(inbox.c.node, inbox.c.service)):
        rows = session.execute(sa.select(inbox.c.sequence, inbox.c.received_at).where(
            inbox.c.node == node, inbox.c.service == service).order_by(inbox.c.sequence)).all()
        previous = 0
        for sequence, _ in rows:
            if sequence > previous + 1:
                gaps.setdefault((node, service), []).append([previous + 1, sequence - 1])
            previous = sequence
        streams.append((node, service, len(rows), rows[-1].sequence, max(r.received_at for r in rows)))
    return streams, gaps


def from_ranges(session) -> tuple[list, dict]:
    streams = [(s["node"], s["service"], s["received"], s["last_sequence"], datetime.fromisoformat(s["last_received_at"]))
               for s in domain.streams(session, messaging)]
    return streams, domain.missing_ranges(session, messaging)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub(request, tmp_path):
    uri = request.getfixturevalue("pg").create() if request.param == "postgresql" else \
        f"sqlite:///{tmp_path / 'reporting.sqlite'}"
    db.migrate("reporting", uri)
    engine = db.create_engine(uri)
    yield sessionmaker(engine)
    engine.dispose()


def test_stream_figures_from_the_runs_equal_those_from_the_inbox(hub):
    events = [heartbeat(node, s) for node in ("6371", "6303") for s in range(1, 120)
              if not (node == "6303" and (s in (1, 2, 40) or 70 <= s < 75))]
    random.Random(2).shuffle(events)
    batches = [events[i:i + 17] for i in range(0, len(events), 17)]
    batches.insert(3, batches[1] + batches[0][:4])  # redelivered: the inbox skips them
    for batch in batches:
        with db.UnitOfWork(hub, Outbox(messaging, "reporting"), batch=True) as uow:
            fresh = rehsos_messaging.accept_many(uow.session, messaging, batch)
            for event, new in zip(batch, fresh):
                if new:
                    HANDLERS[event.event_type](uow, event)
    with hub() as session:
        expected = from_inbox(session)
        assert expected[1][("6303", "intake")] == [[1, 2], [40, 40], [70, 74]]
        assert from_ranges(session) == expected
        assert session.scalar(sa.select(sa.func.count()).select_from(StreamRange)) > 3 + 1
    with db.UnitOfWork(hub, Outbox(messaging, "reporting")) as uow:
        domain.request_repairs(uow, messaging)  # merges the runs first
    with hub() as session:
        assert from_ranges(session) == expected
        ranges = set(session.execute(sa.select(*StreamRange.__table__.c)).all())
        assert len(ranges) == 3 + 1  # 6303: 3-39, 41-69, 75-119; 6371: 1-119
        filled = set(session.execute(sa.text(migration.STREAM_RANGES_FROM_INBOX)).all())
        assert {row[:5] for row in ranges} == {row[:5] for row in filled}
