"""The outbox and its relay on a real node vhost, with SQLite and PostgreSQL."""
import eventlet
import kombu
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from intake.models import messaging
from rehsos import contracts, db, registry, topology
from rehsos.outbox import Outbox, OutboxRelay
from tests.support import wait_until

NODE = "6371"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def node(request, make_province):
    kwargs = {"database": request.param}
    province = make_province([NODE], start_hub=False, start_nodes=False, **kwargs)
    yield province


@pytest.fixture
def engine(node):
    engine = db.create_engine(node.settings[NODE].database_uri_for("intake"))
    yield engine
    engine.dispose()


def uow(engine):
    return db.UnitOfWork(sessionmaker(engine), Outbox(messaging, "intake"))


def event(i=0):
    return contracts.make_event("case.opened", {
        "case_id": f"00000000-0000-0000-0000-{i:012d}", "person_key": "cd" * 32, "stage": "pendekatan_awal",
        "age_band": "75+", "sex": "female", "category": "lansia_telantar", "region": NODE}, node=NODE, service="intake")


def relay(node, engine, uri=None):
    return OutboxRelay(engine, messaging, "intake", uri or node.node_amqp(NODE), poll_interval=0.05, max_backoff=0.2)


def pending(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one()


def delivered_sequences(node, expected):
    """Sequences as they reach the hub's reporting queue (through the node's uplink shovel)."""
    seqs = []
    with kombu.Connection(node.hub_amqp()) as conn:
        queue = kombu.Queue(registry.get("reporting").queue, no_declare=True)(conn.channel())

        def drained():
            while (m := queue.get(no_ack=True)) is not None:
                seqs.append(contracts.parse_event(m.body).sequence)
            return len(seqs) >= expected
        wait_until(drained, message=f"{expected} events at the hub")
    return seqs


def test_sequences_are_gap_free_and_a_rolled_back_transaction_gives_its_number_back(engine):
    with uow(engine) as u:
        u.emit(event(1))
    assert [e.sequence for e in u.emitted] == [1]
    with pytest.raises(RuntimeError):
        with uow(engine) as u:
            u.emit(event(2))
            raise RuntimeError("the state change failed")
    assert u.emitted == []  # never numbered
    with uow(engine) as u:
        u.emit(event(3))
        u.emit(event(4))
    assert [e.sequence for e in u.emitted] == [2, 3]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sequence FROM outbox ORDER BY id")).scalars().all() == [1, 2, 3]


def test_events_are_numbered_at_commit_after_the_other_changes_so_the_counter_is_locked_briefly(engine):
    """The counter's row is taken by the last statements of the unit of work: a transaction that
    emitted and still has work to do holds no lock another one would wait for. On PostgreSQL one
    statement takes every number of the transaction and writes all of its events."""
    statements = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *rest: statements.append(" ".join(statement.split())))
    sa.event.listen(engine, "commit", lambda conn: statements.append("COMMIT"))
    with uow(engine) as u:
        u.emit(event(1))
        u.emit(event(2))
        u.session.execute(sa.text("SELECT 1"))  # the unit of work's own work, after the emit
        assert not any("outbox_sequence" in s for s in statements)
    numbering = next(i for i, s in enumerate(statements) if "outbox_sequence" in s)
    assert statements[numbering - 1] == "SELECT 1"
    if engine.dialect.name == "postgresql":
        assert "INSERT INTO outbox" in statements[numbering] and statements[numbering + 1:] == ["COMMIT"]
    else:  # SQLite serialises writers anyway: the numbers, then the rows
        assert statements[numbering + 1].startswith("INSERT INTO outbox") and statements[numbering + 2:] == ["COMMIT"]
    assert [e.sequence for e in u.emitted] == [1, 2]
    with engine.connect() as conn:
        bodies = conn.execute(sa.text("SELECT sequence, body FROM outbox ORDER BY id")).all()
    # Each body is the event as numbered, to the byte (PostgreSQL writes the number into it).
    assert [body for _, body in bodies] == [e.to_json() for e in u.emitted]
    assert [contracts.parse_event(body).sequence for _, body in bodies] == [seq for seq, _ in bodies] == [1, 2]


def test_the_relay_publishes_in_sequence_order_and_marks_rows_sent_after_the_confirm(node, engine):
    for i in range(30):
        with uow(engine) as u:
            u.emit(event(i))
    r = relay(node, engine)
    r.drain()
    assert pending(engine) == 0
    assert delivered_sequences(node, 30) == list(range(1, 31))


def test_the_relay_keeps_rows_while_the_broker_is_away_and_publishes_them_when_it_returns(node, engine):
    for i in range(5):
        with uow(engine) as u:
            u.emit(event(i))
    r = relay(node, engine, uri="amqp://guest:guest@127.0.0.1:1/nowhere")
    thread = eventlet.spawn(r.run)
    try:
        eventlet.sleep(1.0)  # several failed attempts
        assert pending(engine) == 5
        r.broker_uri = node.node_amqp(NODE)  # the broker is back
        wait_until(lambda: pending(engine) == 0, message="published after recovery")
    finally:
        r.stop()
        thread.wait()
    assert delivered_sequences(node, 5) == [1, 2, 3, 4, 5]


def test_an_unroutable_event_stays_in_the_outbox(node, engine, broker):
    vhost = node.names.node_vhost(NODE)
    broker.request("DELETE", "bindings", vhost, "e", topology.EVENTS_EXCHANGE, "q", topology.UPLINK_QUEUE, "%23")
    with uow(engine) as u:
        u.emit(event())
    r = relay(node, engine)
    with pytest.raises(Exception, match="no queue bound"):
        r.publish_pending()
    assert pending(engine) == 1


def test_concurrent_writers_on_postgresql_get_distinct_consecutive_sequences(make_province):
    # SQLite serialises writers anyway; on PostgreSQL the counter row's lock must do it.
    node = make_province([NODE], start_hub=False, start_nodes=False, database="postgresql")
    engine = db.create_engine(node.settings[NODE].database_uri_for("intake"))

    def write(i):
        with uow(engine) as u:
            u.emit(event(i))
            eventlet.sleep(0.01)  # hold the transaction open while others try

    pool = eventlet.GreenPool(10)
    list(pool.imap(write, range(40)))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sequence FROM outbox ORDER BY sequence")).scalars().all() == list(range(1, 41))
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_transactions_on_postgresql_number_their_events_gap_free_in_commit_order(make_province):
    """Many transactions at once on the real database, several events each (one of them a direct
    event, numbered on its own counter), some rolled back after numbering. At every moment what is
    committed is a gap-free prefix of each stream (a reader sees no hole it would have to wait
    for: numbers follow commit order), the outbox's row order (the relay's) is the sequence
    order, and in the end every committed event has exactly one number, each transaction's in a row."""
    node = make_province([NODE], start_hub=False, start_nodes=False, database="postgresql")
    engine = db.create_engine(node.settings[NODE].database_uri_for("intake"))
    committed, holes, snapshots = [], [], []
    writing = eventlet.event.Event()

    def write(i):
        try:
            with uow(engine) as u:
                for k in range(1 + i % 3):
                    u.emit(event(i * 10 + k))
                if i % 4 == 0:
                    u.emit(contracts.make_event("referral.dossier_withdrawn", {
                        "referral_id": f"00000000-0000-0000-0001-{i:012d}", "facility_node": "6303"},
                        node=NODE, service="intake"), target="6303")
                eventlet.sleep(0.001 * (i % 5))  # interleave the transactions' ends
                if i % 7 == 3:
                    raise RuntimeError("the request failed after its events were queued")
        except RuntimeError:
            return
        committed.append(u.emitted)

    def read():
        while not writing.ready():
            with engine.connect() as conn:  # one statement: one snapshot
                for service, count, top in conn.execute(sa.text(
                        "SELECT service, count(*), max(sequence) FROM outbox GROUP BY service")):
                    snapshots.append(count)
                    if count != top:
                        holes.append((service, count, top))
            eventlet.sleep(0)

    reader = eventlet.spawn(read)
    list(eventlet.GreenPool(12).imap(write, range(120)))
    writing.send()
    reader.wait()
    assert holes == [] and len(snapshots) > 10
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT service, sequence, event_id, body FROM outbox ORDER BY id")).all()
    streams = {}
    for service, sequence, _, body in rows:
        streams.setdefault(service, []).append(sequence)
        assert contracts.parse_event(body).sequence == sequence
    expected = {}
    for emitted in committed:
        for e in emitted:
            expected.setdefault("intake.direct" if e.event_type == "referral.dossier_withdrawn" else "intake", []).append(e)
        plain = [e.sequence for e in emitted if e.event_type != "referral.dossier_withdrawn"]
        assert plain == list(range(plain[0], plain[0] + len(plain)))  # a transaction's events in a row
    assert streams == {service: list(range(1, len(events) + 1)) for service, events in expected.items()}
    assert sorted(str(e.event_id) for events in expected.values() for e in events) == sorted(r.event_id for r in rows)
    engine.dispose()


def test_the_relay_renews_its_lease_now_and_then_not_at_every_pass(node, engine):
    """A pass follows every commit; the lease is written when taken and then once a third of its
    term has gone, not at each pass."""
    r = relay(node, engine)
    with uow(engine) as u:
        u.emit(event(0))
    assert r.publish_pending() == 1
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: statements.append(statement))
    for i in range(1, 4):
        with uow(engine) as u:
            u.emit(event(i))
        assert r.publish_pending() == 1
    assert not any("relay_lease" in s for s in statements)
    r._lease_renewed -= OutboxRelay.LEASE_SECONDS / 3  # a third of the term later
    with uow(engine) as u:
        u.emit(event(4))
    assert r.publish_pending() == 1
    assert any("relay_lease" in s for s in statements)
    assert delivered_sequences(node, 5) == [1, 2, 3, 4, 5]
    r.stop()


def test_two_relays_of_one_service_publish_every_row_once_and_in_order(node, engine):
    """Two processes of one service (a restart overlapping the old one): one lease, one relay at work."""
    for i in range(60):
        with uow(engine) as u:
            u.emit(event(i))
    relays = [relay(node, engine), relay(node, engine)]
    threads = [eventlet.spawn(r.run) for r in relays]
    try:
        wait_until(lambda: pending(engine) == 0, message="all published")
    finally:
        for r in relays:
            r.stop()
        for t in threads:
            t.wait()
    assert delivered_sequences(node, 60) == list(range(1, 61))


def test_an_unroutable_event_is_set_aside_and_the_stream_behind_it_goes_on(node, engine, broker):
    vhost = node.names.node_vhost(NODE)
    broker.request("DELETE", "bindings", vhost, "e", topology.EVENTS_EXCHANGE, "q", topology.UPLINK_QUEUE, "%23")
    broker.request("POST", "bindings", vhost, "e", topology.EVENTS_EXCHANGE, "q", topology.UPLINK_QUEUE,
                   body={"routing_key": f"{NODE}.#"})
    for i in range(4):
        with uow(engine) as u:
            u.emit(event(i))
    with engine.begin() as conn:  # the first has a key nothing is bound for
        conn.execute(sa.text("UPDATE outbox SET routing_key = 'nowhere.x' WHERE sequence = 1"))
    r = relay(node, engine)
    # One batch: the three behind it are routed and confirmed at once (sending them again would
    # double them), the first is tried again on the next passes and then set aside.
    for _ in range(OutboxRelay.UNROUTABLE_TRIES - 1):
        with pytest.raises(Exception, match="no queue bound"):
            r.publish_pending()
        assert pending(engine) == 1
    assert r.publish_pending() == 0  # set aside now
    assert pending(engine) == 1
    assert r.pending() == []  # while it waits aside
    assert delivered_sequences(node, 3) == [2, 3, 4]
    with engine.begin() as conn:  # its route exists again and its time aside is over
        conn.execute(sa.text("UPDATE outbox SET routing_key = '6371.intake.case.opened', parked_until = NULL"))
    r.drain()
    assert delivered_sequences(node, 1) == [1]


def test_an_unroutable_event_inside_a_batch_holds_back_nothing_and_doubles_nothing(node, engine, broker):
    vhost = node.names.node_vhost(NODE)
    broker.request("DELETE", "bindings", vhost, "e", topology.EVENTS_EXCHANGE, "q", topology.UPLINK_QUEUE, "%23")
    broker.request("POST", "bindings", vhost, "e", topology.EVENTS_EXCHANGE, "q", topology.UPLINK_QUEUE,
                   body={"routing_key": f"{NODE}.#"})
    for i in range(5):
        with uow(engine) as u:
            u.emit(event(i))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE outbox SET routing_key = 'nowhere.x' WHERE sequence = 3"))
    r = relay(node, engine)
    with pytest.raises(Exception, match="no queue bound"):
        r.publish_pending()  # one batch of five: four confirmed and marked, the third returned
    assert pending(engine) == 1
    with pytest.raises(Exception, match="no queue bound"):
        r.publish_pending()  # only the third goes again
    assert delivered_sequences(node, 4) == [1, 2, 4, 5]
