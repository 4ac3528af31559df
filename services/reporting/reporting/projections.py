"""Every read model of the hub, as one table of handlers by event type.

Each projection (a module with its own ``HANDLERS``) keeps its own tables; an event applies to
every projection that handles it, in the same unit of work, so that they never disagree. The
consumer and redrive apply events through ``HANDLERS``, which also appends each to the event store
(:mod:`reporting.store`); a rebuild replays the store through ``READ_MODELS``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from rehsos.contracts import PAYLOAD_SCHEMAS
from reporting import caseload, domain, flows, store, sync

Handler = Callable[..., None]
EVERY = "*"
"""The key under which a projection registers a handler for every event type the hub knows (one
with a contract); it makes no unknown type acceptable: those never get past the envelope."""


def combine(*projections: Mapping[str, Handler]) -> dict[str, Handler]:
    """One handler per event type, calling the projections' handlers in the order given, and then
    their catch-all (``EVERY``) handlers: those run last, so a row every event of a node touches
    (its month's activity) is locked only for the end of the transaction."""
    known = sorted({event_type for event_type, _ in PAYLOAD_SCHEMAS})
    by_type: dict[str, list[Handler]] = {}
    for handlers in projections:
        for event_type, handler in handlers.items():
            if event_type != EVERY:
                by_type.setdefault(event_type, []).append(handler)
    for handlers in projections:
        if EVERY in handlers:
            for event_type in known:
                by_type.setdefault(event_type, []).append(handlers[EVERY])

    def chain(handlers: list[Handler]) -> Handler:
        if len(handlers) == 1:
            return handlers[0]

        def apply(uow, event) -> None:
            for handler in handlers:
                handler(uow, event)
        return apply

    return {event_type: chain(handlers) for event_type, handlers in by_type.items()}


READ_MODELS = combine(domain.HANDLERS, sync.HANDLERS, caseload.HANDLERS, flows.HANDLERS)
HANDLERS = store.kept(READ_MODELS)


def prepare(uow, events) -> None:
    """What the read models do once for a batch of events before they apply (the consumer's and
    the rebuild's): caseload's case and person locks first, then the registered cases' rows, then
    which of the cases opened have referrals."""
    caseload.prepare(uow, events)
    domain.prepare(uow, events)
    flows.prepare(uow, events)
