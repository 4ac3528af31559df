"""Consuming events: the ``@event_consumer`` entrypoint and the inbox/quarantine rules.

nameko's own ``@event_handler`` acknowledges a message whose handler raised (it is lost) and
lets a body that fails to decode break the consumer loop. Here instead:

- the handler gets the raw :class:`Delivery` (body bytes, validated ``user_id``, routing key);
- a message that is invalid, from an impostor, or that the domain refuses
  (:class:`rehsos.errors.RefusedEvent`) is written to the quarantine table and rejected without
  requeue: the queue dead-letters it to the quarantine queue;
- any other error (a database restarting, an answer before its request) is retried: the message
  goes back to the queue after a growing delay (:func:`retry_delay`), and at the last delivery the
  queue allows it is recorded as a dead letter (kept whole, for :func:`redrive`) and sent to the
  quarantine queue; nothing is retried forever and nothing is silently acknowledged;
- a body kombu cannot decode still reaches the handler (and so the quarantine).

``@batch_event_consumer`` (the hub's) hands the method a batch of deliveries instead, applied by
:func:`receive_batch` in one transaction under the same rules, each message settled by its own
outcome after the commit.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import partial
from typing import Callable

import eventlet
import sqlalchemy as sa
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer, QueueConsumer

from rehsos import metrics, registry, topology
from rehsos.clock import now
from rehsos.config import HUB, Settings
from rehsos.contracts import Event, InvalidEvent, parse_event
from rehsos.errors import RefusedEvent
from rehsos.outbox import MessagingTables, mark_for_resend

log = logging.getLogger(__name__)

class Quarantined(Exception):
    """Raised by :func:`receive` once a message is in the quarantine table: reject, do not requeue."""

    def __init__(self, reason: str, details=None):
        super().__init__(reason)
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class Delivery:
    body: bytes
    user_id: str | None
    routing_key: str | None
    queue: str
    attempt: int = 1  # this delivery's number (the quorum queue counts the earlier ones)

    @property
    def last_attempt(self) -> bool:
        # One short of the queue's own limit: if recording the dead letter fails too, the broker
        # still dead-letters it to the quarantine queue on the next return.
        return self.attempt >= topology.DELIVERY_LIMIT - 1


def retry_delay(settings: Settings, attempt: int) -> float:
    """Seconds before a failed delivery returns to its queue: 0.5, 1, 2, 4 ... up to a minute."""
    return min(settings.consumer["retry_cap"], settings.consumer["retry_base"] * 2 ** (attempt - 1))


class FastStopQueueConsumer(QueueConsumer):
    def consume(self, limit=None, timeout=None, safety_interval=1, **kwargs):
        # kombu checks for stop requests between drains; 0.2 s instead of 1 s makes a service
        # stop in a fraction of a second instead of about two.
        return super().consume(limit=limit, timeout=timeout, safety_interval=0.2, **kwargs)


class _QuarantiningQueueConsumer(FastStopQueueConsumer):
    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._undecodable, provider)
        return consumers

    def _undecodable(self, provider, message, exc):
        # Our handlers read the raw body themselves; hand it on so it can be quarantined.
        self.handle_message(provider, None, message)


class EventConsumer(Consumer):
    queue_consumer = _QuarantiningQueueConsumer()

    def handle_message(self, body, message):
        delivery = _delivery(message, self.queue.name)
        handle_result = partial(self.handle_result, message)
        try:
            self.container.spawn_worker(self, (delivery,), {}, context_data={}, handle_result=handle_result)
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        self.settle(message, result if exc_info is None else exc_info[1])

    def settle(self, message, outcome) -> None:
        """Ack, reject or requeue (later) one message by its outcome: what the handler returned (a
        string), or the exception it raised."""
        failed = isinstance(outcome, BaseException)
        label = (outcome if isinstance(outcome, str) else "applied") if not failed else (
            "quarantined" if isinstance(outcome, Quarantined) else "retried")
        metrics.of(self.container.config).consumed(self.container.service_name, label)
        if not message.channel.connection:
            return  # the broker already took the message back with the connection
        if not failed:
            message.ack()
        elif isinstance(outcome, Quarantined):
            message.reject(requeue=False)
        else:
            attempt = int((message.headers or {}).get("x-delivery-count") or 0) + 1
            delay = retry_delay(self.container.config["REHSOS"], attempt)
            # The exception's class and text, not its traceback: engines hide SQL parameters.
            log.warning("handling a message of %s failed (attempt %d of %d: %s: %s); retry in %.1fs",
                        self.queue.name, attempt, topology.DELIVERY_LIMIT, type(outcome).__name__,
                        str(outcome)[:200], delay)
            eventlet.spawn_after(delay, self._requeue, message)

    @staticmethod
    def _requeue(message):
        if message.channel.connection:  # after a reconnect the broker has it back already
            message.requeue()


def event_consumer(service: str):
    """Decorate a service method ``(self, delivery)`` to consume the service's inbound queue
    (from the registry: a node service's downlink, a hub service's uplink)."""
    return EventConsumer.decorator(topology.inbound_queue(service))


def _delivery(message, queue: str) -> Delivery:
    return Delivery(
        body=message.body if isinstance(message.body, bytes) else str(message.body).encode(),
        user_id=message.properties.get("user_id"),
        routing_key=message.delivery_info.get("routing_key"),
        queue=queue,
        attempt=int((message.headers or {}).get("x-delivery-count") or 0) + 1,
    )


class _BatchQueueConsumer(_QuarantiningQueueConsumer):
    """Its own connection, with room for the batch being applied and the next one arriving."""

    @property
    def prefetch_count(self):
        return 2 * self.container.config["REHSOS"].consumer.get("batch_size", 200)


class BatchEventConsumer(EventConsumer):
    """Hands the method ``(self, deliveries)`` a list of deliveries, one batch at a time: those that
    arrived while the previous batch was applied (up to ``consumer.batch_size``), or, when the
    consumer was idle, what came within ``consumer.batch_wait`` seconds of the first. The method
    returns one outcome per delivery, in order (a string, or the exception that delivery met), and
    each message is settled by its own outcome as :class:`EventConsumer` settles one: a message is
    acked only once the transaction that applied it has committed.
    """
    queue_consumer = _BatchQueueConsumer()

    def setup(self):
        super().setup()
        settings = self.container.config["REHSOS"].consumer
        self.batch_size = settings.get("batch_size", 200)
        self.batch_wait = settings.get("batch_wait", 0.01)
        self._waiting: list = []  # (message, delivery) not yet handed to a worker
        self._applying = False
        self._timer = None

    def handle_message(self, body, message):
        self._waiting.append((message, _delivery(message, self.queue.name)))
        if self._applying:
            return  # the next batch: handed on when this one is done
        if len(self._waiting) >= self.batch_size or not self.batch_wait:
            self._hand_on()
        elif self._timer is None:
            self._timer = eventlet.spawn_after(self.batch_wait, self._hand_on)

    def _hand_on(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._applying or not self._waiting:
            return
        batch, self._waiting = self._waiting[:self.batch_size], self._waiting[self.batch_size:]
        messages = [message for message, _ in batch]
        self._applying = True
        try:
            self.container.spawn_worker(self, ([delivery for _, delivery in batch],), {}, context_data={},
                                        handle_result=partial(self.handle_batch_result, messages))
        except ContainerBeingKilled:
            self._applying = False
            for message in messages:
                self.queue_consumer.requeue_message(message)

    def handle_batch_result(self, messages, worker_ctx, result=None, exc_info=None):
        try:
            if exc_info is not None or result is None or len(result) != len(messages):
                failure = exc_info[1] if exc_info is not None else RuntimeError("no outcome per delivery")
                result = [failure] * len(messages)
            for message, outcome in zip(messages, result):
                self.settle(message, outcome)
        finally:
            self._applying = False
            self._hand_on()  # what arrived meanwhile, at once
        return result, exc_info

    def stop(self):
        super().stop()  # no more messages come
        while self._waiting or self._applying:  # those received are applied before the workers end
            self._hand_on()
            eventlet.sleep(0.01)


def batch_event_consumer(service: str):
    """Decorate a service method ``(self, deliveries)`` to consume the service's inbound queue in
    batches (:class:`BatchEventConsumer`; :func:`receive_batch` applies them)."""
    return BatchEventConsumer.decorator(topology.inbound_queue(service))


def field_names(body: bytes) -> list[str] | None:
    """The names a refused body used (``payload.name`` for a payload field), not their values."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    names = [str(k)[:64] for k in data][:50]
    if isinstance(data.get("payload"), dict):
        names += [f"payload.{str(k)[:64]}" for k in data["payload"]][:50]
    return names


def quarantine(engine: sa.Engine, tables: MessagingTables, delivery: Delivery, reason: str,
               details=None, event_id: str | None = None, *, dead_letter: bool = False) -> None:
    """Record a message that will not be applied where operators can see it. A refused message is
    kept as its digest and field names (it may carry anything); a dead letter, a valid event that
    kept failing, is kept whole so it can be redriven."""
    with engine.begin() as conn:
        conn.execute(sa.insert(tables.quarantine).values(
            received_at=now(), queue=delivery.queue, sender=delivery.user_id,
            routing_key=(delivery.routing_key or "")[:255], event_id=event_id, reason=reason[:2000],
            details=json.dumps(details, ensure_ascii=False)[:20000] if details is not None else None,
            kind="dead_letter" if dead_letter else "refused", digest=hashlib.sha256(delivery.body).hexdigest(),
            fields=json.dumps(field_names(delivery.body)), attempts=delivery.attempt,
            body=delivery.body.decode("utf-8", errors="replace") if dead_letter else None,
        ))
    log.warning("%s message from %s on %s: %s", "dead-lettered" if dead_letter else "quarantined",
                delivery.user_id, delivery.queue, reason[:200])


# session.info: event id -> the received_at its inbox row got in this session (read by the hub's
# stream runs instead of reading those rows back).
ACCEPTED = "messaging.accepted"


def accept_once(session, tables: MessagingTables, event: Event) -> bool:
    """Record ``event`` in the inbox; False when it was already applied (a duplicate)."""
    inbox = tables.inbox
    seen = session.execute(sa.select(inbox.c.event_id).where(inbox.c.event_id == str(event.event_id))).first()
    if seen:
        return False
    if event.event_type not in registry.DIRECT_EVENTS:  # those are numbered apart
        # A sequence is used once per node and service: the same number again under another id is
        # an old event replayed (or forged), never a new one.
        taken = session.execute(sa.select(inbox.c.event_id).where(
            inbox.c.node == event.node, inbox.c.service == event.service, inbox.c.sequence == event.sequence,
            inbox.c.event_type.not_in(registry.DIRECT_EVENTS))).first()
        if taken and taken.event_id == str(event.event_id):
            # The same event, committed by a concurrent copy between the two reads (READ COMMITTED
            # sees it only in the second): a duplicate, not a replay.
            return False
        if taken:
            raise RefusedEvent(f"sequence {event.sequence} of {event.node}/{event.service} was already applied as "
                               f"event {taken.event_id}: a replay")
    at = now()
    session.execute(sa.insert(inbox).values(
        event_id=str(event.event_id), node=event.node, service=event.service, sequence=event.sequence,
        event_type=event.event_type, received_at=at))
    session.info.setdefault(ACCEPTED, {})[str(event.event_id)] = at
    return True


Handler = Callable[[object, Event], None]


def receive(db, delivery: Delivery, handlers: dict[str, Handler], settings: Settings) -> str:
    """Validate, authenticate, deduplicate and apply one event.

    ``db`` is the service's database dependency (``unit_of_work()``, ``engine``, ``tables``).
    The sender is who the broker says (the validated ``user_id`` of a node's shovel), never what
    the payload says. Returns ``applied``, ``duplicate`` or ``ignored``; raises
    :class:`Quarantined` after recording the message.

    On a node (its downlink) events of other nodes still carry the ``user_id`` their shovel
    stamped; an event without a node ``user_id`` was published on the hub broker itself, which no
    node can write to except through its own stamped uplink, so it must say ``node: hub``.
    """
    event, handler = _admit(db, delivery, handlers, settings)
    return _apply_one(db, delivery, event, handler)


def _refuse(db, delivery: Delivery, reason: str, details=None, event_id=None):
    quarantine(db.engine, db.tables, delivery, reason, details, event_id)
    raise Quarantined(reason, details)


def _admit(db, delivery: Delivery, handlers: dict[str, Handler], settings: Settings) -> tuple[Event, Handler | None]:
    """The delivery's event and its handler, once it is valid and from whom it says; quarantined
    (:class:`Quarantined` raised) otherwise."""
    from_hub = not settings.is_hub
    try:
        event = parse_event(delivery.body)
    except InvalidEvent as exc:
        _refuse(db, delivery, f"invalid event: {exc.reason}", exc.details)
    sender = settings.names.sender_node(delivery.user_id)
    if sender is None and from_hub:
        sender = HUB
    if sender is None:
        _refuse(db, delivery, "no node identity: the message has no node-<code> user_id", event_id=str(event.event_id))
    if sender != event.node:
        _refuse(db, delivery, f"event claims node {event.node} but was sent by node {sender}",
                event_id=str(event.event_id))
    handler = handlers.get(event.event_type)
    if event.event_type == registry.RESEND and sender == HUB:
        handler = partial(_resend, db)
    return event, handler


def _apply_one(db, delivery: Delivery, event: Event, handler: Handler | None) -> str:
    """Deduplicate and apply one admitted event in its own unit of work (see :func:`receive`)."""
    try:
        try:
            with db.unit_of_work() as uow:
                if not accept_once(uow.session, db.tables, event):
                    return "duplicate"
                if handler is not None:
                    handler(uow, event)
        except sa.exc.IntegrityError:
            # Two copies raced past the inbox check; the loser's insert failed. Retry sees it as seen.
            with db.engine.connect() as conn:
                if conn.execute(sa.select(db.tables.inbox.c.event_id)
                                .where(db.tables.inbox.c.event_id == str(event.event_id))).first():
                    return "duplicate"
            raise
    except RefusedEvent as exc:
        _refuse(db, delivery, exc.reason, event_id=str(event.event_id))
    except Exception as exc:
        if not delivery.last_attempt:
            raise  # retried after a growing delay
        reason = f"still failing after {delivery.attempt} deliveries: {type(exc).__name__}: {str(exc)[:300]}"
        quarantine(db.engine, db.tables, delivery, reason, event_id=str(event.event_id), dead_letter=True)
        raise Quarantined(reason) from exc
    return "applied" if handler is not None else "ignored"


def _settled(apply: Callable[[], str]) -> str | Exception:
    """An outcome for :func:`receive_batch`: what ``apply`` returned, or the exception it raised."""
    try:
        return apply()
    except Exception as exc:  # noqa: BLE001 - the consumer settles the message by it
        return exc


def accept_many(session, tables: MessagingTables, events: list[Event]) -> list[bool]:
    """:func:`accept_once` for several events in one transaction, in three statements: which are
    new (False for one applied before, or earlier in ``events``). Raises :class:`RefusedEvent` when
    one reuses a sequence taken by another event (a replay) and IntegrityError (at the insert, or
    the commit) when a concurrent transaction recorded one of them first."""
    inbox = tables.inbox
    ids = {str(e.event_id) for e in events}
    seen = set(session.scalars(sa.select(inbox.c.event_id).where(inbox.c.event_id.in_(ids))))
    streams: dict[tuple[str, str], set[int]] = {}
    for e in events:
        if e.event_type not in registry.DIRECT_EVENTS and str(e.event_id) not in seen:
            streams.setdefault((e.node, e.service), set()).add(e.sequence)
    taken: dict[tuple[str, str, int], str] = {}
    if streams:
        for row in session.execute(sa.select(inbox.c.event_id, inbox.c.node, inbox.c.service, inbox.c.sequence).where(
                sa.or_(*(sa.and_(inbox.c.node == node, inbox.c.service == service, inbox.c.sequence.in_(sequences))
                         for (node, service), sequences in streams.items())),
                inbox.c.event_type.not_in(registry.DIRECT_EVENTS))):
            taken[(row.node, row.service, row.sequence)] = row.event_id
    fresh, rows, at = [], [], now()
    for e in events:
        event_id = str(e.event_id)
        if event_id in seen:
            fresh.append(False)
            continue
        if e.event_type not in registry.DIRECT_EVENTS:
            key = (e.node, e.service, e.sequence)
            if taken.setdefault(key, event_id) != event_id:
                raise RefusedEvent(f"sequence {e.sequence} of {e.node}/{e.service} was already applied as "
                                   f"event {taken[key]}: a replay")
        seen.add(event_id)
        fresh.append(True)
        rows.append({"event_id": event_id, "node": e.node, "service": e.service, "sequence": e.sequence,
                     "event_type": e.event_type, "received_at": at})
    if rows:
        session.execute(sa.insert(inbox), rows)
        session.info.setdefault(ACCEPTED, {}).update((row["event_id"], at) for row in rows)
    return fresh


def in_stream_order(items: list, event_of: Callable[[object], Event]) -> list:
    """``items`` with each node stream's events in sequence order, where that stream's events were:
    the streams stay interleaved as they arrived (a request before its answer from another node)."""
    places: dict[tuple[str, str], list[int]] = {}
    for i, item in enumerate(items):
        event = event_of(item)
        places.setdefault((event.node, event.service), []).append(i)
    ordered = list(items)
    for slots in places.values():
        for slot, item in zip(slots, sorted((items[i] for i in slots), key=lambda it: event_of(it).sequence)):
            ordered[slot] = item
    return ordered


def receive_batch(db, deliveries: list[Delivery], handlers: dict[str, Handler], settings: Settings,
                  prepare: Callable[[object, list[Event]], None] | None = None) -> list:
    """:func:`receive` for a batch of deliveries, with their events applied in one unit of work:
    one outcome per delivery, in order (``applied``, ``duplicate``, ``ignored``, or the exception
    that delivery met, :class:`Quarantined` or an error to retry).

    A delivery that is invalid or from an impostor is quarantined alone before the batch. Each
    node stream's events are applied in sequence order. The inbox records the batch in three
    statements; inserts a handler asks the unit of work for (:meth:`UnitOfWork.insert`) go
    together at the end. When the batch fails (a refused event, one that must wait for another,
    a concurrent copy), nothing of it stays: on PostgreSQL it is applied again with each event in
    a savepoint, on SQLite (whose driver's savepoints are not to be trusted) one event per unit of
    work, and each event that fails there takes the single-event path (:func:`receive`'s rules:
    quarantined, retried, or a dead letter at its last delivery). So a poison event is
    quarantined alone, and the others are applied once.

    ``prepare(uow, events)``, when given, is called in the batch's unit of work with its new
    events before the first is applied (to take their locks, load their rows, at once).
    """
    outcomes: list = [None] * len(deliveries)
    admitted = []  # (index, event, handler)
    for i, delivery in enumerate(deliveries):
        try:
            admitted.append((i, *_admit(db, delivery, handlers, settings)))
        except Quarantined as exc:
            outcomes[i] = exc
    admitted = in_stream_order(admitted, lambda item: item[1])
    if not admitted:
        return outcomes
    try:
        with db.unit_of_work(batch=True) as uow:
            fresh = accept_many(uow.session, db.tables, [event for _, event, _ in admitted])
            if prepare is not None:
                prepare(uow, [event for (_, event, _), new in zip(admitted, fresh) if new])
            for (i, event, handler), new in zip(admitted, fresh):
                if not new:
                    outcomes[i] = "duplicate"
                    continue
                if handler is not None:
                    handler(uow, event)
                outcomes[i] = "applied" if handler is not None else "ignored"
        return outcomes
    except Exception as exc:  # noqa: BLE001 - the batch is rolled back: apply it more carefully
        log.info("a batch of %d events of %s failed (%s: %s); applying them one at a time", len(admitted),
                 deliveries[0].queue, type(exc).__name__, str(exc)[:200])
    left = admitted
    if db.engine.dialect.name == "postgresql":
        left = _apply_in_savepoints(db, admitted, outcomes)
    for i, event, handler in left:
        outcomes[i] = _settled(partial(_apply_one, db, deliveries[i], event, handler))
    return outcomes


def _apply_in_savepoints(db, admitted: list, outcomes: list) -> list:
    """Apply the batch in one transaction, each event in a savepoint; returns the events that
    failed (rolled back to their savepoint), or all of them when the transaction fails."""
    failed = []
    done = {}
    try:
        with db.unit_of_work() as uow:
            for item in admitted:
                i, event, handler = item
                try:
                    with uow.session.begin_nested():
                        if not accept_once(uow.session, db.tables, event):
                            done[i] = "duplicate"
                            continue
                        if handler is not None:
                            handler(uow, event)
                    done[i] = "applied" if handler is not None else "ignored"
                except Exception:  # noqa: BLE001 - this event takes the single-event path
                    failed.append(item)
    except Exception as exc:  # noqa: BLE001
        log.info("a batch of %d events failed again in savepoints (%s: %s); applying them one at a time",
                 len(admitted), type(exc).__name__, str(exc)[:200])
        return admitted
    for i, outcome in done.items():
        outcomes[i] = outcome
    return failed


def _resend(db, uow, event: Event) -> None:
    """The hub missed part of a stream: if it is this service's, its outbox sends those rows again."""
    if event.payload["service"] == db.outbox.service:
        count = mark_for_resend(uow.session, db.tables, db.outbox.service, event.payload["ranges"])
        log.info("the hub asked %s for %s again: %d events will be published again", db.outbox.service,
                 event.payload["ranges"], count)


def redrive(db, row_id: int, handlers: dict[str, Handler], settings: Settings) -> str:
    """Apply a dead letter again, as it was received (its broker-validated sender is kept with it).

    Returns the outcome (``applied``, ``duplicate``, ``ignored`` or ``refused``); raises
    ``LookupError`` for no such dead letter, or the error when it still fails (it stays)."""
    q = db.tables.quarantine
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(q).where(q.c.id == row_id, q.c.kind == "dead_letter",
                                              q.c.redriven_at.is_(None))).first()
    if row is None:
        raise LookupError(row_id)
    delivery = Delivery(body=row.body.encode(), user_id=row.sender, routing_key=row.routing_key, queue=row.queue)
    try:
        outcome = receive(db, delivery, handlers, settings)
    except Quarantined:
        outcome = "refused"  # it is wrong, not late: a refused record of it stands beside this one
    with db.engine.begin() as conn:
        conn.execute(sa.update(q).where(q.c.id == row_id).values(redriven_at=now(), redrive_outcome=outcome))
    return outcome
