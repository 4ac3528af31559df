"""Transactional outbox and its relay, plus the inbox and quarantine tables consumers use.

A service writes its state change and the event in one transaction (:meth:`Outbox.add`); the
relay later publishes pending rows in ``sequence`` order to the node broker with publisher
confirms (a batch's awaited together) and ``mandatory`` routing, and marks a row sent only after
the broker confirmed it.
While the broker is away the rows wait and the relay retries with backoff: nothing is lost, and
a crash between confirm and mark only repeats a message, which idempotent consumers skip.
"""
from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

import sqlalchemy as sa

from amqp.exceptions import ChannelError, ConnectionError as AmqpConnectionError, RecoverableConnectionError
from kombu import Connection, Exchange, Producer
from kombu.exceptions import OperationalError
from sqlalchemy.orm import Session

from rehsos import registry
from rehsos.clock import now
from rehsos.contracts import Event, routing_key
from rehsos.contracts.envelope import CONTENT_TYPE
from rehsos.sqltypes import UtcDateTime
from rehsos.topology import EVENTS_EXCHANGE

log = logging.getLogger(__name__)

_BROKER_ERRORS = (OSError, OperationalError, ChannelError, AmqpConnectionError, RecoverableConnectionError)


@dataclass(frozen=True)
class MessagingTables:
    outbox: sa.Table
    outbox_sequence: sa.Table
    inbox: sa.Table
    quarantine: sa.Table
    relay_lease: sa.Table


def messaging_tables(metadata: sa.MetaData) -> MessagingTables:
    """Outbox, inbox and quarantine tables inside a service's own metadata (its own database)."""
    outbox = sa.Table(
        "outbox", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("published_at", UtcDateTime, nullable=True),
        # An event the broker cannot route is set aside for a while, so the stream behind it moves on.
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("parked_until", UtcDateTime, nullable=True),
        sa.UniqueConstraint("service", "sequence", name="uq_outbox_service_sequence"),
        sa.Index("ix_outbox_pending", "published_at", "sequence"),
    )
    outbox_sequence = sa.Table(
        "outbox_sequence", metadata,
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
    )
    inbox = sa.Table(
        "inbox", metadata,
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Index("ix_inbox_stream", "node", "service", "sequence"),
    )
    quarantine = sa.Table(
        "quarantine", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("queue", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(64), nullable=True),
        sa.Column("routing_key", sa.String(255), nullable=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=True),
        # refused: invalid or not allowed (poison), kept as a digest and the field names it had, never
        # its values; dead_letter: a valid event that kept failing, kept whole so it can be redriven.
        sa.Column("kind", sa.String(16), nullable=False, server_default="refused"),
        sa.Column("digest", sa.String(64), nullable=True),
        sa.Column("fields", sa.Text, nullable=True),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=True),
        sa.Column("redriven_at", UtcDateTime, nullable=True),
        sa.Column("redrive_outcome", sa.String(16), nullable=True),
    )
    relay_lease = sa.Table(
        "relay_lease", metadata,
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
    )
    return MessagingTables(outbox, outbox_sequence, inbox, quarantine, relay_lease)


class Outbox:
    """Writes events into the outbox of one service, numbering them without gaps."""

    def __init__(self, tables: MessagingTables, service: str):
        self.tables = tables
        self.service = service
        self._write_numbered = _number_and_write(tables)

    def add(self, session: Session, event: Event, target: str | None = None) -> Event:
        return self.add_all(session, [(event, target)])[0]

    def add_all(self, session: Session, events: list[tuple[Event, str | None]]) -> list[Event]:
        """Number ``events`` (with their routing targets) and write them, in the order given.

        Numbering takes the counter row's lock until the commit: concurrent writers (PostgreSQL)
        queue on it, and a rolled-back transaction gives its numbers back, so sequences stay
        gap-free and in commit order. On PostgreSQL one statement per counter takes all of the
        transaction's numbers and writes all of its rows (issue 14): the lock is held for that
        round trip and the commit that follows it."""
        numbered: dict[int, Event] = {}
        by_counter: dict[str, list[int]] = {}
        for i, (event, _target) in enumerate(events):
            # Direct events (node to node, past the hub) are numbered apart, so the stream the hub
            # follows has no holes where they went elsewhere.
            counter = direct_counter(self.service) if event.event_type in registry.DIRECT_EVENTS else self.service
            by_counter.setdefault(counter, []).append(i)
        postgresql = session.bind.dialect.name == "postgresql"
        for counter, indexes in by_counter.items():
            rows = [(events[i][0], routing_key(events[i][0], events[i][1])) for i in indexes]
            if not postgresql:
                first = self._write_numbered_apart(session, counter, rows)
            else:
                first = self._write_numbered(session, counter, rows)
            for k, i in enumerate(indexes):
                numbered[i] = events[i][0].with_sequence(first + k)
        return [numbered[i] for i in range(len(events))]

    def _write_numbered_apart(self, session: Session, counter: str, rows: list[tuple[Event, str]]) -> int:
        """SQLite (one writer at a time anyway): take the numbers, then write the rows."""
        seq_t = self.tables.outbox_sequence
        last = session.execute(
            sa.update(seq_t).where(seq_t.c.service == counter)
            .values(last_sequence=seq_t.c.last_sequence + len(rows)).returning(seq_t.c.last_sequence)
        ).scalar_one_or_none()
        if last is None:
            raise RuntimeError(f"outbox_sequence has no row for {counter}: run `rehsos migrate`")
        first, created_at = last - len(rows) + 1, now()
        session.execute(sa.insert(self.tables.outbox), [
            {"event_id": str(event.event_id), "service": counter, "sequence": first + k, "event_type": event.event_type,
             "routing_key": key, "body": event.with_sequence(first + k).to_json(), "created_at": created_at}
            for k, (event, key) in enumerate(rows)])
        return first


def _number_and_write(tables: MessagingTables):
    """PostgreSQL: ``write(session, counter, rows)`` numbers and inserts ``rows`` (event, routing
    key) in one statement and returns the first sequence. Each body is written around its number
    (``head || sequence || tail``): the numbers are known only inside the statement."""
    from sqlalchemy.dialects.postgresql import ARRAY

    # Without the counter's row the sequence is NULL and the insert fails (NOT NULL), so the
    # transaction never commits without its events.
    numbering = f"""
        WITH taken AS (
            UPDATE {tables.outbox_sequence.name} SET last_sequence = last_sequence + :n
            WHERE service = :counter RETURNING last_sequence - :n AS base),
        written AS (
            INSERT INTO {tables.outbox.name} (event_id, service, sequence, event_type, routing_key, body, created_at)
            SELECT e.event_id, :counter, taken.base + e.k, e.event_type, e.routing_key,
                   e.head || (taken.base + e.k) || e.tail, :created_at
            FROM unnest(:event_ids, :event_types, :routing_keys, :heads, :tails)
                 WITH ORDINALITY AS e(event_id, event_type, routing_key, head, tail, k) LEFT JOIN taken ON true
            RETURNING sequence)"""
    params = (*(sa.bindparam(name, type_=ARRAY(sa.Text)) for name in ("event_ids", "event_types", "routing_keys", "heads", "tails")),
              sa.bindparam("n", type_=sa.BigInteger), sa.bindparam("created_at", type_=UtcDateTime))
    returning = sa.text(numbering + " SELECT min(sequence) FROM written").bindparams(*params)

    def write(session: Session, counter: str, rows: list[tuple[Event, str]]) -> int:
        heads, tails = [], []
        for event, _key in rows:
            head, marker, tail = event.with_sequence(None).to_json().rpartition(_SEQUENCE_MARK)
            if not marker:
                raise ValueError(f"{event.event_type}: no {_SEQUENCE_MARK} in its body")
            heads.append(head + '"sequence":')
            tails.append(tail)
        return session.execute(returning, {
            "n": len(rows), "counter": counter, "created_at": now(), "heads": heads, "tails": tails,
            "event_ids": [str(event.event_id) for event, _ in rows],
            "event_types": [event.event_type for event, _ in rows], "routing_keys": [key for _, key in rows]}).scalar_one()

    return write


# Where a body's number goes: the envelope's keys are sorted and only ``service`` (a service's
# name) follows ``sequence``, so its last occurrence is the envelope's own.
_SEQUENCE_MARK = '"sequence":null'


def direct_counter(service: str) -> str:
    return f"{service}.direct"


def mark_for_resend(session, tables: MessagingTables, service: str, ranges: list[list[int]]) -> int:
    """The hub missed these sequences of the service's stream: publish them again (same event ids;
    consumers skip what they already have). Returns how many rows will go again."""
    t = tables.outbox
    in_ranges = sa.or_(*(t.c.sequence.between(lo, hi) for lo, hi in ranges))
    return session.execute(sa.update(t).where(t.c.service == service, t.c.published_at.is_not(None), in_ranges)
                           .values(published_at=None, failures=0, parked_until=None)).rowcount


def create_messaging_tables_v1(op, service: str) -> None:
    """Migration step every service's first revision runs: its outbox, inbox and quarantine.

    A later change to these tables gets its own helper and revision; this one stays as it is.
    """
    metadata = sa.MetaData()
    bind = op.get_bind()
    for table in _v1_tables(metadata):
        table.create(bind)
    # Outbox.add only ever UPDATEs the counter row, so concurrent writers never race to insert it.
    op.execute(sa.insert(metadata.tables["outbox_sequence"]).values(service=service, last_sequence=0))


def _v1_tables(metadata: sa.MetaData) -> list[sa.Table]:
    """The messaging tables as revision 1 created them (frozen: later revisions alter them)."""
    return [
        sa.Table("outbox", metadata,
                 sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                 sa.Column("event_id", sa.String(36), nullable=False, unique=True),
                 sa.Column("service", sa.String(32), nullable=False),
                 sa.Column("sequence", sa.BigInteger, nullable=False),
                 sa.Column("event_type", sa.String(64), nullable=False),
                 sa.Column("routing_key", sa.String(255), nullable=False),
                 sa.Column("body", sa.Text, nullable=False),
                 sa.Column("created_at", UtcDateTime, nullable=False),
                 sa.Column("published_at", UtcDateTime, nullable=True),
                 sa.UniqueConstraint("service", "sequence", name="uq_outbox_service_sequence"),
                 sa.Index("ix_outbox_pending", "published_at", "sequence")),
        sa.Table("outbox_sequence", metadata,
                 sa.Column("service", sa.String(32), primary_key=True),
                 sa.Column("last_sequence", sa.BigInteger, nullable=False)),
        sa.Table("inbox", metadata,
                 sa.Column("event_id", sa.String(36), primary_key=True),
                 sa.Column("node", sa.String(8), nullable=False),
                 sa.Column("service", sa.String(32), nullable=False),
                 sa.Column("sequence", sa.BigInteger, nullable=False),
                 sa.Column("event_type", sa.String(64), nullable=False),
                 sa.Column("received_at", UtcDateTime, nullable=False),
                 sa.Index("ix_inbox_stream", "node", "service", "sequence")),
        sa.Table("quarantine", metadata,
                 sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                 sa.Column("received_at", UtcDateTime, nullable=False),
                 sa.Column("queue", sa.String(255), nullable=False),
                 sa.Column("sender", sa.String(64), nullable=True),
                 sa.Column("routing_key", sa.String(255), nullable=True),
                 sa.Column("event_id", sa.String(64), nullable=True),
                 sa.Column("reason", sa.Text, nullable=False),
                 sa.Column("details", sa.Text, nullable=True),
                 sa.Column("body", sa.Text, nullable=False)),
    ]


def upgrade_messaging_tables_v2(op, service: str) -> None:
    """Migration step every service runs once: one relay at a time (a lease), unroutable events set
    aside instead of blocking the stream, dead letters kept for redrive, refused bodies not kept.

    Existing refused bodies are replaced by their digest, for the same reason new ones are."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("failures", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("parked_until", UtcDateTime, nullable=True))
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="refused"))
        batch.add_column(sa.Column("digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("fields", sa.Text, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=True))
        batch.add_column(sa.Column("redriven_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("redrive_outcome", sa.String(16), nullable=True))
        batch.alter_column("body", existing_type=sa.Text, nullable=True)
    op.execute("UPDATE quarantine SET body = NULL")
    op.create_table("relay_lease",
                    sa.Column("service", sa.String(32), primary_key=True),
                    sa.Column("holder", sa.String(64), nullable=False),
                    sa.Column("expires_at", UtcDateTime, nullable=False))
    op.execute(sa.text("INSERT INTO outbox_sequence (service, last_sequence) VALUES (:s, 0)").bindparams(
        s=direct_counter(service)))


@dataclass
class _BatchOutcome:
    confirmed: list = field(default_factory=list)  # row ids the broker acked and routed
    unroutable: list = field(default_factory=list)  # rows it returned (no queue bound)
    nacked: list = field(default_factory=list)  # row ids it refused


class UnroutableEvent(Exception):
    """The node broker has no queue bound for this routing key (topology not bootstrapped)."""


class OutboxRelay:
    """Publishes pending outbox rows to the broker, in order, confirmed, until told to stop.

    One relay at a time per service: a second process of the same service (or a restarted one
    while the old still runs) waits for the lease (``relay_lease``), so rows are never published
    twice in parallel or out of order. Each batch is published in order and its confirms awaited
    together. An event the broker cannot route does not hold back the events behind it in its batch
    (they were routed and confirmed); it is tried again on the next passes and then set aside for
    ``park_seconds`` (the hub sees a gap, and the event follows when its route exists).
    """

    LEASE_SECONDS = 15.0
    UNROUTABLE_TRIES = 3
    CONFIRM_TIMEOUT = 30.0  # a batch's confirms; past it the batch counts as failed and goes again

    def __init__(self, engine: sa.Engine, tables: MessagingTables, service: str, broker_uri: str, *,
                 exchange: str = EVENTS_EXCHANGE, batch_size: int = 100, poll_interval: float = 0.5,
                 max_backoff: float = 10.0, park_seconds: float = 300.0,
                 on_sent: Callable[[int], None] | None = None):
        self.engine = engine
        self.on_sent = on_sent  # told how many rows each pass marked sent (the metrics count them)
        self.tables = tables
        self.service = service
        self.broker_uri = broker_uri
        self.exchange = Exchange(exchange, type="topic", durable=True, no_declare=True)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.park_seconds = park_seconds
        self.holder = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._next_tag = 1
        self._window: dict[int, object] = {}
        self._settled: dict[int, str] = {}
        self._returned: set[str] = set()
        self._lease_renewed: float | None = None  # time.monotonic() when this relay last took or renewed it

    # -- one pass -------------------------------------------------------------------------------
    def pending(self, limit: int | None = None) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(self._pending_query, {"now": now(), "limit": limit or self.batch_size}))

    @functools.cached_property
    def _pending_query(self):
        """Built once: the relay asks after every commit (issue 14)."""
        t = self.tables.outbox
        # In the order they were written (the counter's row lock makes that the sequence order).
        return (sa.select(t.c.id, t.c.event_id, t.c.event_type, t.c.routing_key, t.c.body, t.c.failures)
                .where(t.c.published_at.is_(None), t.c.service.in_((self.service, direct_counter(self.service))),
                       sa.or_(t.c.parked_until.is_(None), t.c.parked_until <= sa.bindparam("now", type_=UtcDateTime)))
                .order_by(t.c.id).limit(sa.bindparam("limit", type_=sa.Integer)))

    def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were confirmed and marked sent.

        The batch goes out in order on one channel and its confirms are awaited together (one
        round trip per batch, not per row). A row is marked sent only once the broker acked it and
        did not return it as unroutable; if the broker goes away mid-batch, what it acked so far is
        marked and the rest waits for the next pass (a lost ack only repeats a message, which
        idempotent consumers skip). Raises a broker error after marking what was confirmed.
        """
        # An idle pass only reads: taking or renewing the lease is a write, which every relay of
        # every service would otherwise make at each poll (most of an idle node's CPU).
        if not self.pending(1) or not self.hold_lease():
            return 0
        rows = self.pending()  # again under the lease: the previous holder may have sent some
        if not rows:
            return 0
        outcome = _BatchOutcome()
        try:
            self._publish_batch(rows, outcome)
        finally:
            if outcome.confirmed:
                self._mark_sent(outcome.confirmed)
                if self.on_sent is not None:
                    self.on_sent(len(outcome.confirmed))
        # An unroutable row does not hold back the rows behind it (they were already routed and
        # confirmed, so sending them again would double them): it is tried again on the next
        # passes and then set aside for a while.
        retried = []
        for row in outcome.unroutable:
            if row.failures + 1 < self.UNROUTABLE_TRIES:
                self._note_failure(row.id)
                retried.append(row)
            else:
                self._park(row.id)
        if retried:
            raise UnroutableEvent(f"{retried[0].routing_key}: no queue bound on {self.exchange.name}")
        if outcome.nacked:
            raise OperationalError(f"the broker refused (nack) {len(outcome.nacked)} messages; they wait for the next pass")
        return len(outcome.confirmed)

    def hold_lease(self) -> bool:
        """Take or renew the service's relay lease; False while another relay holds it.

        Renewed at most every third of its term: no other relay can take it before the term
        ends, and a pass per commit (issue 14) need not write the lease every time."""
        if self._lease_renewed is not None and time.monotonic() - self._lease_renewed < self.LEASE_SECONDS / 3:
            return True
        self._lease_renewed = None
        renewed = time.monotonic()  # before the term starts counting in the database
        if self._take_lease():
            self._lease_renewed = renewed
            return True
        return False

    def _take_lease(self) -> bool:
        lease = self.tables.relay_lease
        until = now() + timedelta(seconds=self.LEASE_SECONDS)
        with self.engine.begin() as conn:
            taken = conn.execute(sa.update(lease).where(
                lease.c.service == self.service,
                sa.or_(lease.c.holder == self.holder, lease.c.expires_at < now())).values(
                holder=self.holder, expires_at=until)).rowcount
            if taken:
                return True
            if conn.execute(sa.select(lease.c.service).where(lease.c.service == self.service)).first():
                return False
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(lease).values(service=self.service, holder=self.holder, expires_at=until))
            return True
        except sa.exc.IntegrityError:
            return False  # another relay inserted it first

    def release_lease(self) -> None:
        self._lease_renewed = None
        lease = self.tables.relay_lease
        with self.engine.begin() as conn:
            conn.execute(sa.delete(lease).where(lease.c.service == self.service, lease.c.holder == self.holder))

    def _note_failure(self, row_id: int) -> None:
        t = self.tables.outbox
        with self.engine.begin() as conn:
            conn.execute(sa.update(t).where(t.c.id == row_id).values(failures=t.c.failures + 1))

    def _park(self, row_id: int) -> None:
        t = self.tables.outbox
        with self.engine.begin() as conn:
            conn.execute(sa.update(t).where(t.c.id == row_id).values(
                failures=0, parked_until=now() + timedelta(seconds=self.park_seconds)))
        log.warning("outbox relay (%s): outbox row %d cannot be routed; set aside for %.0fs so the stream goes on",
                    self.service, row_id, self.park_seconds)

    def _publish_batch(self, rows: list, outcome: "_BatchOutcome") -> None:
        """Publish ``rows`` without waiting between them, then wait for every confirm; fills
        ``outcome`` with what was settled, also when the broker fails part way."""
        producer = self._ensure_producer()
        window: dict[int, object] = {}  # delivery tag -> row, in publish order
        self._window, self._settled, self._returned = window, {}, set()
        try:
            for row in rows:
                window[self._next_tag] = row
                self._next_tag += 1
                producer.publish(
                    row.body, exchange=self.exchange, routing_key=row.routing_key,
                    mandatory=True, delivery_mode=2, content_type=CONTENT_TYPE, content_encoding="utf-8",
                    message_id=row.event_id, type=row.event_type, retry=False,
                )
            deadline = time.monotonic() + self.CONFIRM_TIMEOUT
            while len(self._settled) < len(window):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the broker confirmed {len(self._settled)} of {len(window)} messages "
                                       f"within {self.CONFIRM_TIMEOUT}s")
                self._connection.drain_events(timeout=remaining)
        except ChannelError:
            self._reset()
            raise
        finally:
            for tag, row in window.items():
                state = self._settled.get(tag)
                if state is None:
                    continue  # not confirmed: it goes again on the next pass
                if row.event_id in self._returned:
                    outcome.unroutable.append(row)
                elif state == "ack":
                    outcome.confirmed.append(row.id)
                else:
                    outcome.nacked.append(row.id)

    def _settle(self, delivery_tag: int, multiple: bool, state: str) -> None:
        if multiple:
            for tag in self._window:
                if tag <= delivery_tag:
                    self._settled.setdefault(tag, state)
        elif delivery_tag in self._window:
            self._settled[delivery_tag] = state

    def _on_ack(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple, "ack")

    def _on_nack(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple, "nack")

    def _on_return(self, exc, exchange, routing_key, message):
        # The broker returns an unroutable mandatory message before it acks it.
        self._returned.add((message.properties or {}).get("message_id"))

    def _mark_sent(self, ids: list[int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(self._mark_sent_statement, {"ids": ids, "now": now()})

    @functools.cached_property
    def _mark_sent_statement(self):
        t = self.tables.outbox
        return (sa.update(t).where(t.c.id.in_(sa.bindparam("ids", expanding=True)))
                .values(published_at=sa.bindparam("now", type_=UtcDateTime)))

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            conn = Connection(self.broker_uri, connect_timeout=5, heartbeat=0)
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            # Confirms are taken by hand (not kombu's confirm_publish, which waits after every
            # message) so a batch needs one round trip; returns name the unroutable messages.
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
            self._connection = conn
            self._producer = Producer(channel, exchange=self.exchange)
            self._next_tag = 1  # a channel numbers its publishes from 1 once in confirm mode
        return self._producer

    def _reset(self) -> None:
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # noqa: BLE001 - a dead connection may fail to close; it is gone anyway
                pass
        self._connection = self._producer = None

    # -- the loop ------------------------------------------------------------------------------
    def wake(self) -> None:
        """Called after a commit that emitted events, so they leave without waiting for the poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                published = self.publish_pending()
            except (UnroutableEvent, *_BROKER_ERRORS) as exc:
                self._reset()
                failures += 1
                delay = min(self.max_backoff, 0.5 * 2 ** min(failures - 1, 6))
                level = logging.WARNING if failures == 1 or failures % 20 == 0 else logging.DEBUG
                log.log(level, "outbox relay (%s): broker unavailable (%s); retry %d in %.1fs",
                        self.service, exc, failures, delay)
                self._stopping.wait(delay)
                continue
            except sa.exc.SQLAlchemyError:
                log.exception("outbox relay (%s): database error; retrying", self.service)
                self._stopping.wait(self.max_backoff)
                continue
            if failures:
                log.info("outbox relay (%s): broker reachable again after %d failed attempts",
                         self.service, failures)
                failures = 0
            if published >= self.batch_size:
                continue  # more waiting: go on without sleeping
            self._wake.wait(self.poll_interval)
            self._wake.clear()
        self._reset()
        try:
            self.release_lease()  # a successor need not wait for the lease to lapse
        except sa.exc.SQLAlchemyError:
            pass  # it lapses by itself

    def drain(self, timeout: float = 10.0) -> None:
        """Publish everything pending now (CLI and tests); raises if the broker stays away or
        another relay holds the lease."""
        deadline = time.monotonic() + timeout
        while self.pending(1):
            try:
                if not self.publish_pending():  # another relay holds the lease
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"outbox of {self.service} not drained within {timeout}s")
                    time.sleep(0.1)
            except (UnroutableEvent, *_BROKER_ERRORS):
                self._reset()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self._reset()
        self.release_lease()
