"""Transactional outbox and its relay, plus the inbox and quarantine tables consumers use.

A service writes its state change and the event in one transaction (:meth:`Outbox.add`); the
relay later publishes pending rows in ``sequence`` order to the node broker with publisher
confirms and ``mandatory`` routing, and marks a row sent only after the broker confirmed it.
While the broker is away the rows wait and the relay retries with backoff: nothing is lost, and
a crash between confirm and mark only repeats a message, which idempotent consumers skip.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from amqp.exceptions import ChannelError, ConnectionError as AmqpConnectionError, RecoverableConnectionError
from kombu import Connection, Exchange, Producer
from kombu.exceptions import OperationalError
from sqlalchemy.orm import Session

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
        sa.Column("body", sa.Text, nullable=False),
    )
    return MessagingTables(outbox, outbox_sequence, inbox, quarantine)


class Outbox:
    """Writes events into the outbox of one service, numbering them without gaps."""

    def __init__(self, tables: MessagingTables, service: str):
        self.tables = tables
        self.service = service

    def add(self, session: Session, event: Event, target: str | None = None) -> Event:
        seq_t = self.tables.outbox_sequence
        # The UPDATE takes a row lock until commit, so concurrent writers (PostgreSQL) queue up
        # and a rolled-back transaction gives its number back: sequences stay gap-free.
        sequence = session.execute(
            sa.update(seq_t).where(seq_t.c.service == self.service)
            .values(last_sequence=seq_t.c.last_sequence + 1)
            .returning(seq_t.c.last_sequence)
        ).scalar_one_or_none()
        if sequence is None:
            raise RuntimeError(f"outbox_sequence has no row for {self.service}: run `rehsos migrate`")
        numbered = event.with_sequence(sequence)
        session.execute(sa.insert(self.tables.outbox).values(
            event_id=str(numbered.event_id), service=self.service, sequence=sequence,
            event_type=numbered.event_type, routing_key=routing_key(numbered, target),
            body=numbered.to_json(), created_at=now(),
        ))
        return numbered


def create_messaging_tables_v1(op, service: str) -> None:
    """Migration step every service's first revision runs: its outbox, inbox and quarantine.

    A later change to these tables gets its own helper and revision; this one stays as it is.
    """
    tables = messaging_tables(sa.MetaData())
    bind = op.get_bind()
    for table in (tables.outbox, tables.outbox_sequence, tables.inbox, tables.quarantine):
        table.create(bind)
    # Outbox.add only ever UPDATEs the counter row, so concurrent writers never race to insert it.
    op.execute(sa.insert(tables.outbox_sequence).values(service=service, last_sequence=0))


class UnroutableEvent(Exception):
    """The node broker has no queue bound for this routing key (topology not bootstrapped)."""


class OutboxRelay:
    """Publishes pending outbox rows to the broker, in order, confirmed, until told to stop."""

    def __init__(self, engine: sa.Engine, tables: MessagingTables, service: str, broker_uri: str, *,
                 exchange: str = EVENTS_EXCHANGE, batch_size: int = 100, poll_interval: float = 0.5,
                 max_backoff: float = 10.0):
        self.engine = engine
        self.tables = tables
        self.service = service
        self.broker_uri = broker_uri
        self.exchange = Exchange(exchange, type="topic", durable=True, no_declare=True)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    # -- one pass -------------------------------------------------------------------------------
    def pending(self, limit: int | None = None) -> list:
        t = self.tables.outbox
        query = (sa.select(t.c.id, t.c.event_id, t.c.event_type, t.c.routing_key, t.c.body)
                 .where(t.c.published_at.is_(None), t.c.service == self.service)
                 .order_by(t.c.sequence).limit(limit or self.batch_size))
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were confirmed and marked sent.

        Raises a broker error after marking what was confirmed before it, so order holds: the
        next pass starts at the first unconfirmed row.
        """
        rows = self.pending()
        confirmed: list[int] = []
        try:
            for row in rows:
                self._publish(row)
                confirmed.append(row.id)
        finally:
            if confirmed:
                self._mark_sent(confirmed)
        return len(confirmed)

    def _publish(self, row) -> None:
        producer = self._ensure_producer()
        try:
            producer.publish(
                row.body, exchange=self.exchange, routing_key=row.routing_key,
                mandatory=True, delivery_mode=2, content_type=CONTENT_TYPE, content_encoding="utf-8",
                message_id=row.event_id, type=row.event_type, retry=False,
            )
        except ChannelError as exc:
            self._reset()
            if "NO_ROUTE" in str(exc):
                raise UnroutableEvent(f"{row.routing_key}: no queue bound on {self.exchange.name}") from exc
            raise

    def _mark_sent(self, ids: list[int]) -> None:
        t = self.tables.outbox
        with self.engine.begin() as conn:
            conn.execute(sa.update(t).where(t.c.id.in_(ids)).values(published_at=now()))

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            conn = Connection(self.broker_uri, transport_options={"confirm_publish": True},
                              connect_timeout=5, heartbeat=0)
            conn.ensure_connection(max_retries=1)
            self._connection = conn
            self._producer = Producer(conn.channel(), exchange=self.exchange)
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

    def drain(self, timeout: float = 10.0) -> None:
        """Publish everything pending now (CLI and tests); raises if the broker stays away."""
        deadline = time.monotonic() + timeout
        while self.pending(1):
            try:
                self.publish_pending()
            except (UnroutableEvent, *_BROKER_ERRORS):
                self._reset()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self._reset()
