"""What a batch of events costs the hub's database, statement by statement (the read models it
leaves are compared elsewhere: test_case_tally.py, test_caseload.py, test_hub_store.py): the
summaries' lock is taken once per transaction and only by one that writes a summary, a person's
months are derived once per batch, and the stream runs are made from the events, not from their
inbox rows read back."""
import dataclasses

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from rehsos import contracts, db
from rehsos.messaging import accept_many
from rehsos.outbox import Outbox
from reporting import caseload, projections, store
from reporting.models import StreamRange, messaging
from rehsos_tools import history


@pytest.fixture(scope="module")
def events():
    return history.generate(seed=8, first="2025-01", last="2025-06", persons_per_month=0.4, silent=None).events


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub(request, tmp_path):
    uri = request.getfixturevalue("pg").create() if request.param == "postgresql" else \
        f"sqlite:///{tmp_path / 'reporting.sqlite'}"
    db.migrate("reporting", uri)
    engine = db.create_engine(uri)
    yield engine
    engine.dispose()


class Statements:
    """The statements an engine sends, with their parameters."""

    def __init__(self, engine):
        self.sent: list[tuple[str, object]] = []
        sa.event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.sent.append((" ".join(statement.split()), parameters))

    def count(self, text: str) -> int:
        return sum(text in statement for statement, _ in self.sent)


def apply_batch(make, events) -> None:
    """As the consumer applies a batch: the inbox, the batch's locks and rows, then each event."""
    handlers = store.kept(projections.READ_MODELS)
    with db.UnitOfWork(make, Outbox(messaging, "reporting"), batch=True) as uow:
        assert all(accept_many(uow.session, messaging, events))
        projections.prepare(uow, events)
        for event in events:
            handlers[event.event_type](uow, event)


def test_a_batch_locks_the_summaries_once_derives_persons_once_and_reads_no_inbox_back(hub, events):
    make = sessionmaker(hub)
    with make() as session:
        summaries_key = caseload._lock_key(session, ("summaries",))
    batch = events[:150]
    assert {"person.registered", "case.opened", "case.stage_changed"} <= {e.event_type for e in batch}
    statements = Statements(hub)
    apply_batch(make, batch)
    locks = [p for s, p in statements.sent if "pg_advisory_xact_lock" in s and summaries_key in dict(p or {}).values()]
    assert len(locks) == (1 if hub.dialect.name == "postgresql" else 0)
    # The months the batch's persons count in: read and written once, after all of its spans.
    assert statements.count("SELECT person_months.person") == 1
    assert statements.count("inbox.received_at") == 0
    with make() as session:
        assert session.execute(sa.select(sa.func.sum(StreamRange.received))).scalar_one() == len(batch)


def test_a_batch_that_writes_no_summary_takes_no_summaries_lock(hub, events):
    make = sessionmaker(hub)
    apply_batch(make, events[:20])
    node, service = events[0].node, "intake"
    last = max(e.sequence for e in events if (e.node, e.service) == (node, service))
    at = events[0].occurred_at  # a month the node has sent something in already
    heartbeats = [dataclasses.replace(contracts.make_event("node.heartbeat", {"as_of": at, "outbox_waiting": 0},
                                                           node=node, service=service),
                                      sequence=last + i, occurred_at=at) for i in (1, 2)]
    statements = Statements(hub)
    apply_batch(make, heartbeats)
    assert statements.count("pg_advisory_xact_lock") == 0
    assert statements.count("INSERT INTO node_activity") == 0
