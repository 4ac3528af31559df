"""Training's entry points. It runs on every node with its own database and outbox relay;
its API arrives with its own issue."""
from __future__ import annotations

from rehsos.providers import Config, Database

from training.models import messaging


class TrainingService:
    name = "training"

    config = Config()
    db = Database("training", messaging)
