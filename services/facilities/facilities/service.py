"""Facilities's entry points. It runs on every node with its own database and outbox relay;
its API arrives with its own issue."""
from __future__ import annotations

from rehsos.providers import Config, Database

from facilities.models import messaging


class FacilitiesService:
    name = "facilities"

    config = Config()
    db = Database("facilities", messaging)
