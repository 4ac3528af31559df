"""``rehsos rekey --config node.yaml``: after the province's person key was rotated, a node
re-announces its persons' keys to the hub (deploy/README.md, "Rotating the person key").

It writes to intake's outbox in one transaction; the node's running intake relays the events.
"""
from __future__ import annotations

from sqlalchemy.orm import sessionmaker

from intake.domain.common import Office
from intake.domain.persons import rekey_persons
from intake.models import messaging
from rehsos import config, registry
from rehsos.db import UnitOfWork, create_engine
from rehsos.outbox import Outbox

SERVICE = "intake"


def rekey_node(settings: config.Settings) -> int:
    """Re-key every person of the node under its current ``person_key_secret``; how many changed."""
    if settings.is_hub:
        raise config.ConfigError("the hub holds no person key: run rekey on every node")
    settings.require_servable()
    engine = create_engine(settings.database_uri_for(registry.get(SERVICE).database))
    try:
        with UnitOfWork(sessionmaker(engine, expire_on_commit=False), Outbox(messaging, SERVICE)) as uow:
            return rekey_persons(uow, office=Office(settings.node, settings.person_key_secret))
    finally:
        engine.dispose()
