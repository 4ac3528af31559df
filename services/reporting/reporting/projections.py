"""Every read model of the hub, as one table of handlers by event type.

Each projection (a module with its own ``HANDLERS``) keeps its own tables; an event applies to
every projection that handles it, in the same unit of work, so that they never disagree. The
consumer, redrive and a rebuild all apply events through this one table.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from reporting import domain, flows

Handler = Callable[..., None]


def combine(*projections: Mapping[str, Handler]) -> dict[str, Handler]:
    """One handler per event type, calling the projections' handlers in the order given."""
    by_type: dict[str, list[Handler]] = {}
    for handlers in projections:
        for event_type, handler in handlers.items():
            by_type.setdefault(event_type, []).append(handler)

    def chain(handlers: list[Handler]) -> Handler:
        if len(handlers) == 1:
            return handlers[0]

        def apply(uow, event) -> None:
            for handler in handlers:
                handler(uow, event)
        return apply

    return {event_type: chain(handlers) for event_type, handlers in by_type.items()}


HANDLERS = combine(domain.HANDLERS, flows.HANDLERS)
