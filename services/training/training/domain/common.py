"""What training's sub-domains share: who acts, and the counts the hub receives."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa

from rehsos.clock import now
from rehsos.contracts import make_event
from training.models import Attendance, Participant, TrainingEvent

SERVICE = "training"


@dataclass(frozen=True)
class Organiser:
    """The node acting, who acts there, and the node's secret (certificate numbers are keyed)."""
    node: str
    actor: str
    secret: str


def fold_name(name: str) -> str:
    """A name as a duplicate check sees it: case, accents, punctuation and spacing ignored."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"\s+", " ", re.sub(r"[^a-z ]", " ", text)).strip()


def emit_summary(uow, event: TrainingEvent, organiser: Organiser) -> None:
    """``training.summary`` for the hub: counts by regency and role (no names), as of now."""
    if event.status == "draft":
        return
    session = uow.session
    attended = sa.select(Attendance.participant_id).distinct().subquery()
    rows = session.execute(
        sa.select(Participant.regency, Participant.role, Participant.status, Participant.completed,
                  Participant.pre_score, Participant.post_score, attended.c.participant_id.is_not(None))
        .outerjoin(attended, attended.c.participant_id == Participant.id)
        .where(Participant.event_id == event.id, Participant.status != "cancelled")).all()
    cells: dict[tuple[str, str], dict] = {}
    for regency, role, status, completed, pre, post, was_there in rows:
        cell = cells.setdefault((regency, role), {
            "regency": regency, "role": role, "registered": 0, "waitlisted": 0, "attended": 0, "completed": 0,
            "scored": 0, "pre_total": 0, "post_total": 0})
        cell[status] += 1
        if status != "registered":
            continue
        cell["attended"] += int(bool(was_there))
        cell["completed"] += int(bool(completed))
        if pre is not None and post is not None:
            cell["scored"] += 1
            cell["pre_total"] += pre
            cell["post_total"] += post
    uow.emit(make_event("training.summary", {
        "event_id": event.id, "status": event.status, "days": len(event.days),
        "cells": [cells[k] for k in sorted(cells)], "as_of": now()}, node=organiser.node, service=SERVICE))
