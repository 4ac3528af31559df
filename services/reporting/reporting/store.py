"""The hub's event store: every event the hub accepts, kept append-only.

An event is stored in the unit of work that applies it to the read models (the consumer's and
redrive's, through :func:`kept`): a rolled-back application stores nothing, and a duplicate,
skipped by the inbox before any handler runs, is not stored again. ``rehsos hub rebuild``
(:mod:`reporting.rebuild`) replays the store into fresh read models.

What is stored is the validated, pseudonymous envelope (the payload's own contract refuses any
field it does not declare, and only declared fields are written here): no name, NIK, address or
birth date. The direct events (an official's name, from one office to another) pass the hub's
broker without reaching its consumer; one that arrives anyway is refused, never stored.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import sqlalchemy as sa

from rehsos import registry
from rehsos.clock import now
from rehsos.config import HUB
from rehsos.contracts import PAYLOAD_SCHEMAS, Event, payload_schema
from rehsos.errors import RefusedEvent
from rehsos.messaging import ACCEPTED
from reporting.models import Base, StoredEvent, StreamRange, messaging

Handler = Callable[..., None]
# ``Table.info["read_model"] = False`` marks a table of the hub's own bookkeeping (not made from
# events), which a rebuild leaves alone; every other table that is not messaging is a read model.
READ_MODEL = "read_model"
SUMMARY = "summary"


_INSERT = sa.insert(StoredEvent.__table__)  # Core: the ORM's bulk insert costs more per row


def keep(uow, event: Event) -> None:
    """Append ``event`` to the store, in the caller's unit of work (a batch's: with the batch's
    other events, in one statement)."""
    declared = payload_schema(event.event_type, event.schema_version).fields
    # A field the contract marks as free text (a name could be typed into it) is kept as a dash;
    # nothing the hub counts reads one. Migration reporting_0014 did the same to those stored before.
    pseudonymous = dataclasses.replace(event, payload={
        k: "-" if declared[k].metadata.get("free_text") else v for k, v in event.payload.items() if k in declared})
    uow.insert("event_store", _INSERT, {
        "event_id": str(event.event_id), "node": event.node, "service": event.service, "sequence": event.sequence,
        "event_type": event.event_type, "schema_version": event.schema_version, "occurred_at": event.occurred_at,
        "received_at": now(), "envelope": pseudonymous.to_json()})


def note_received(uow, event: Event) -> None:
    """The event's place in its stream: with the batch's others, it makes the runs of
    :class:`StreamRange` at the end of the batch (from the event and its inbox row's received_at,
    which the inbox noted in the session)."""
    uow.later("stream_range", _add_ranges, (str(event.event_id), event.node, event.service, event.sequence),
              key=str(event.event_id))


def runs(rows) -> list[dict]:
    """The runs of consecutive sequences among ``rows`` (node, service, sequence, received_at)."""
    found: list[dict] = []
    for node, service, sequence, received_at in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        last = found[-1] if found else None
        if last and (last["node"], last["service"]) == (node, service) and last["last_sequence"] == sequence - 1:
            last["last_sequence"], last["received"] = sequence, last["received"] + 1
            last["last_received_at"] = max(last["last_received_at"], received_at)
        else:
            found.append({"node": node, "service": service, "first_sequence": sequence, "last_sequence": sequence,
                          "received": 1, "last_received_at": received_at})
    return found


def _add_ranges(session, items: list[tuple]) -> None:
    accepted = session.info.get(ACCEPTED, {})
    rows = [(node, service, sequence, accepted[event_id]) for event_id, node, service, sequence in items
            if event_id in accepted]
    if len(rows) < len(items):  # accepted elsewhere (not through this session's inbox): its row says when
        inbox = messaging.inbox
        rows += session.execute(sa.select(inbox.c.node, inbox.c.service, inbox.c.sequence, inbox.c.received_at)
                                .where(inbox.c.event_id.in_([i[0] for i in items if i[0] not in accepted]))).all()
    if rows:
        session.execute(sa.insert(StreamRange.__table__), runs(rows))


_MERGE_LOCK_KEY = 0x7374_7261  # "stra": one merge at a time (another's deletions would be lost)


def merge_ranges(session) -> None:
    """Merge the runs that meet (each batch appended its own): the stream figures then read about
    one row per gap, not one per batch. Rows appended meanwhile are left for the next time."""
    if session.bind.dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_MERGE_LOCK_KEY)))
    r = StreamRange
    groups: list[list] = []
    for row in session.execute(sa.select(r.node, r.service, r.first_sequence, r.last_sequence, r.received,
                                         r.last_received_at).order_by(r.node, r.service, r.first_sequence)):
        last = groups[-1][-1] if groups else None
        if last and (last.node, last.service) == (row.node, row.service) and last.last_sequence + 1 == row.first_sequence:
            groups[-1].append(row)
        else:
            groups.append([row])
    for head, *rest in (group for group in groups if len(group) > 1):
        where = (r.node == head.node, r.service == head.service)
        session.execute(sa.update(r).where(*where, r.first_sequence == head.first_sequence).values(
            last_sequence=rest[-1].last_sequence, received=head.received + sum(row.received for row in rest),
            last_received_at=max(row.last_received_at for row in (head, *rest))))
        session.execute(sa.delete(r).where(*where, r.first_sequence.in_([row.first_sequence for row in rest])))


def kept(handlers: Mapping[str, Handler]) -> dict[str, Handler]:
    """``handlers`` (the combined read models), each also storing the event it applies; event types
    no read model handles yet are stored too, so a read model added later can be rebuilt from them.
    The hub's own events (``node: hub``) are not read-model input and are not stored."""
    def keeping(handler: Handler | None) -> Handler:
        def apply(uow, event: Event) -> None:
            note_received(uow, event)
            if event.node == HUB:
                return
            if event.event_type in registry.DIRECT_EVENTS:
                raise RefusedEvent(f"{event.event_type} carries an official's personal data for one office; "
                                   "the hub does not take it")
            keep(uow, event)
            if handler is not None:
                handler(uow, event)
        return apply

    return {event_type: keeping(handlers.get(event_type)) for event_type in sorted({t for t, _ in PAYLOAD_SCHEMAS})}


def read_model_tables(metadata: sa.MetaData = Base.metadata, *, summaries: bool = False) -> list[sa.Table]:
    """Every table a rebuild makes anew (with ``summaries``), parents first: all of reporting's
    tables except the messaging ones (outbox, inbox, quarantine...), the event store and other
    bookkeeping (``info={"read_model": False}``). Derived, so a read model added later is rebuilt
    too. Without ``summaries``, the facts only: the summaries the projections keep beside them
    (``info={"summary": True}``: counts changed in place, an event adds no row of its own) are
    what the facts sum to, and are compared with them as such (tests/domain/test_case_tally.py)."""
    messaging_names = {getattr(messaging, f.name).name for f in dataclasses.fields(messaging)}
    return [t for t in metadata.sorted_tables
            if t.name not in messaging_names and t.info.get(READ_MODEL, True)
            and (summaries or not t.info.get(SUMMARY, False))]
