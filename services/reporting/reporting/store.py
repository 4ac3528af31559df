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
from reporting.models import Base, StoredEvent, messaging

Handler = Callable[..., None]
# ``Table.info["read_model"] = False`` marks a table of the hub's own bookkeeping (not made from
# events), which a rebuild leaves alone; every other table that is not messaging is a read model.
READ_MODEL = "read_model"
SUMMARY = "summary"


_INSERT = sa.insert(StoredEvent)


def keep(uow, event: Event) -> None:
    """Append ``event`` to the store, in the caller's unit of work (a batch's: with the batch's
    other events, in one statement)."""
    declared = payload_schema(event.event_type, event.schema_version).fields
    pseudonymous = dataclasses.replace(event, payload={k: v for k, v in event.payload.items() if k in declared})
    uow.insert("event_store", _INSERT, {
        "event_id": str(event.event_id), "node": event.node, "service": event.service, "sequence": event.sequence,
        "event_type": event.event_type, "schema_version": event.schema_version, "occurred_at": event.occurred_at,
        "received_at": now(), "envelope": pseudonymous.to_json()})


def kept(handlers: Mapping[str, Handler]) -> dict[str, Handler]:
    """``handlers`` (the combined read models), each also storing the event it applies; event types
    no read model handles yet are stored too, so a read model added later can be rebuilt from them.
    The hub's own events (``node: hub``) are not read-model input and are not stored."""
    def keeping(handler: Handler | None) -> Handler:
        def apply(uow, event: Event) -> None:
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
