"""Attendance per day: check-in by code (QR or typed) or from the list, idempotent; and offline
batches recorded where the venue had no connection, applied row by row with a report."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from rehsos.clock import WITA, now
from rehsos.errors import Refused
from training.domain.common import Organiser, emit_summary
from training.domain.events import get_event
from training.models import Attendance, Participant, TrainingEvent

CHECKING_IN = ("ongoing",)


def venue_today() -> date:
    """The venue's day in WITA: a check-in at 07:30 there is that day's, whatever zone the server
    runs in (at 07:30 WITA it is still yesterday in UTC)."""
    return now().astimezone(WITA).date()


class Conflict(Exception):
    """A check-in that cannot be recorded; ``code`` names why (also in the batch report)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _participant(session, event: TrainingEvent, code: str | None, participant_id: str | None) -> Participant:
    q = sa.select(Participant).where(Participant.event_id == event.id)
    if code:
        q = q.where(Participant.checkin_code == code.strip().upper())
    else:
        q = q.where(Participant.id == participant_id)
    participant = session.scalars(q).first()
    if participant is None:
        raise Conflict("unknown_participant", "Kode atau peserta tidak dikenal pada kegiatan ini.")
    if participant.status == "cancelled":
        raise Conflict("cancelled", f"Pendaftaran {participant.name} sudah dibatalkan.")
    if participant.status != "registered":
        raise Conflict("not_registered", f"{participant.name} masih dalam daftar tunggu.")
    return participant


def _record(session, event: TrainingEvent, row: dict, source: str, actor: str) -> tuple[str, Participant]:
    day = row.get("day") or venue_today()
    participant = _participant(session, event, row.get("code"), row.get("participant_id"))
    if not event.start_date <= day <= event.end_date:
        raise Conflict("day_outside_event", f"Tanggal {day.isoformat()} di luar hari kegiatan "
                                            f"({event.start_date.isoformat()} s.d. {event.end_date.isoformat()}).")
    if session.get(Attendance, (participant.id, day)) is not None:
        return "already_checked_in", participant
    session.add(Attendance(participant_id=participant.id, day=day, checked_in_at=row.get("checked_in_at") or now(),
                           source=source, recorded_by=actor))
    session.flush()
    return "checked_in", participant


def _require_checking_in(event: TrainingEvent) -> None:
    if event.status not in CHECKING_IN:
        raise Refused("wrong_status", "Presensi hanya dapat dicatat saat kegiatan berlangsung.",
                      {"status": ["Kegiatan tidak sedang berlangsung."]})


def check_in(uow, event_id: str, row: dict, *, source: str, organiser: Organiser) -> tuple[str, Participant, date]:
    """One check-in; a second one of the same person on the same day changes nothing and says so."""
    # Locked like a registration: the same code scanned at two desks at once is one check-in and
    # one "already", not a clash of two inserts.
    event = get_event(uow.session, event_id, for_update=True)
    _require_checking_in(event)
    row = {**row, "day": row.get("day") or venue_today()}
    try:
        status, participant = _record(uow.session, event, row, source, organiser.actor)
    except Conflict as exc:
        raise Refused(exc.code, exc.message, {"code" if row.get("code") else "participant_id": [exc.message]}) from None
    if status == "checked_in":
        emit_summary(uow, event, organiser)
    return status, participant, row["day"]


def apply_batch(uow, event_id: str, rows: list[dict], *, organiser: Organiser) -> list[dict]:
    """An offline batch: every row applied once (a row already recorded says so), conflicts
    reported per row with the reason, nothing dropped silently."""
    event = get_event(uow.session, event_id, for_update=True)
    _require_checking_in(event)
    report = []
    for number, row in enumerate(rows, start=1):
        entry = {"row": number, "code": row.get("code"), "participant_id": row.get("participant_id"),
                 "day": row.get("day")}
        try:
            status, participant = _record(uow.session, event, row, "offline", organiser.actor)
            entry.update(status=status, participant_id=participant.id, name=participant.name)
        except Conflict as exc:
            entry.update(status="conflict", reason=exc.code, message=exc.message)
        report.append(entry)
    if any(e["status"] == "checked_in" for e in report):
        emit_summary(uow, event, organiser)
    return report


def attendance_list(session, event_id: str) -> list[dict]:
    event = get_event(session, event_id)
    rows = session.execute(sa.select(Attendance, Participant.name).join(
        Participant, Participant.id == Attendance.participant_id).where(Participant.event_id == event.id)
        .order_by(Attendance.day, Participant.name)).all()
    return [{"participant_id": a.participant_id, "name": name, "day": a.day, "checked_in_at": a.checked_in_at,
             "source": a.source} for a, name in rows]
