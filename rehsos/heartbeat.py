"""``node.heartbeat``: a node service says it is alive, through its outbox like any event.

A node with nothing to report sends no domain event for days; its heartbeat lets the hub tell
such a quiet but connected node from one that is cut off or down. Each node service sends its
own (it alone may read its outbox), so the hub also sees which service of a node is stuck.
"""
from __future__ import annotations

import sqlalchemy as sa

from rehsos import registry
from rehsos.clock import now
from rehsos.contracts import Event, make_event
from rehsos.outbox import direct_counter


def beat(db, node: str) -> Event:
    """Queue the service's heartbeat: the time, and its outbox rows still waiting to be published
    (the heartbeat itself not counted). ``db`` is the service's database dependency."""
    service = db.outbox.service
    outbox = db.tables.outbox
    with db.unit_of_work() as uow:
        waiting = uow.session.execute(
            sa.select(sa.func.count()).select_from(outbox)
            .where(outbox.c.published_at.is_(None), outbox.c.service.in_((service, direct_counter(service))))
        ).scalar_one()
        uow.emit(make_event(registry.HEARTBEAT, {"as_of": now(), "outbox_waiting": waiting}, node=node,
                            service=service))
    return uow.emitted[0]
