"""Participants of an event this node organises: registration within the overall and the
per-regency quota, a waitlist beyond them that promotes the next person when a place frees, and
no person twice in one event. A participant nominated by another node hears every change of
their registration back at that node (``training.nomination_answered``, direct)."""
from __future__ import annotations

import secrets
import uuid

import sqlalchemy as sa

from rehsos import reference
from rehsos.clock import now
from rehsos.contracts import make_event
from rehsos.errors import Invalid, NotFound, Refused
from training.domain.common import SERVICE, Organiser, emit_summary, fold_name
from training.domain.events import get_event, update_event
from training.models import Attendance, Participant, TrainingEvent

REGISTERING = ("open", "ongoing")  # walk-ins register on the day too
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # read aloud and typed on a phone: no 0/O, 1/I
ROLE_NAMES = {"pekerja_sosial": "pekerja sosial", "pendamping_disabilitas": "pendamping disabilitas",
              "staf_panti": "staf panti", "tksk": "TKSK", "other": "lainnya"}


def new_checkin_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def _free_code(session, event_id: str) -> str:
    while True:  # 32^8 codes: a clash within one event is rare, but must not become a 500
        code = new_checkin_code()
        if not session.scalars(sa.select(Participant.id).where(Participant.event_id == event_id,
                                                               Participant.checkin_code == code)).first():
            return code


def get_participant(session, event_id: str, participant_id: str) -> Participant:
    participant = session.get(Participant, participant_id)
    if participant is None or participant.event_id != event_id:
        raise NotFound(f"Peserta {participant_id} tidak ditemukan pada kegiatan ini.")
    return participant


def list_participants(session, event_id: str, query: dict) -> list[Participant]:
    q = sa.select(Participant).where(Participant.event_id == event_id)
    for field in ("status", "regency", "role"):
        if query.get(field):
            q = q.where(getattr(Participant, field) == query[field])
    order = sa.case({"registered": 0, "waitlisted": 1}, value=Participant.status, else_=2)
    return list(session.scalars(q.order_by(order, Participant.applied_at)))


def _invited(event: TrainingEvent, regency: str, role: str) -> None:
    quotas = {r.regency for r in event.regency_quotas}
    if quotas and regency not in quotas:
        raise Invalid({"regency": [f"{reference.region_name(regency)} tidak diundang ke kegiatan ini."]})
    if event.target_roles and role not in event.target_roles:
        wanted = ", ".join(ROLE_NAMES[r] for r in event.target_roles)
        raise Invalid({"role": [f"Kegiatan ini untuk: {wanted}."]})


def _has_room(session, event: TrainingEvent, regency: str) -> bool:
    registered = sa.select(sa.func.count()).select_from(Participant).where(
        Participant.event_id == event.id, Participant.status == "registered")
    if session.scalar(registered) >= event.quota:
        return False
    quota = next((r.quota for r in event.regency_quotas if r.regency == regency), None)
    return quota is None or session.scalar(registered.where(Participant.regency == regency)) < quota


def waitlist_position(session, participant: Participant) -> int | None:
    if participant.status != "waitlisted":
        return None
    return session.scalar(sa.select(sa.func.count()).select_from(Participant).where(
        Participant.event_id == participant.event_id, Participant.status == "waitlisted",
        Participant.applied_at <= participant.applied_at))


def register(uow, event_id: str, data: dict, *, organiser: Organiser, nominating_node: str | None = None,
             nomination_id: str | None = None) -> Participant:
    """Register within the quotas, or waitlist; 409 when the person is already in the event."""
    session = uow.session
    # The event row is locked while places are counted, so concurrent registrations queue up.
    event = get_event(session, event_id, for_update=True)
    if event.status not in REGISTERING:
        raise Refused("not_open", "Pendaftaran kegiatan ini tidak dibuka.", {"status": ["Kegiatan tidak dibuka."]})
    _invited(event, data["regency"], data["role"])
    key = f"{fold_name(data['name'])}:{data['regency']}"
    participant = session.scalars(sa.select(Participant).where(
        Participant.event_id == event.id, Participant.identity_key == key)).first()
    if participant is not None and participant.status != "cancelled":
        raise Refused("already_registered", f"{participant.name} sudah terdaftar pada kegiatan ini.",
                      {"name": ["Sudah terdaftar."]})
    status = "registered" if _has_room(session, event, data["regency"]) else "waitlisted"
    if participant is None:
        participant = Participant(id=str(uuid.uuid4()), event_id=event.id, identity_key=key,
                                  checkin_code=_free_code(session, event.id))
        session.add(participant)
    for field in ("name", "position", "office", "regency", "role"):
        setattr(participant, field, data[field])
    participant.phone, participant.email = data.get("phone"), data.get("email")
    participant.nominating_node, participant.nomination_id = nominating_node, nomination_id
    participant.applied_at, participant.status = now(), status
    session.flush()
    answer_nomination(uow, participant, organiser)
    emit_summary(uow, event, organiser)
    return participant


def cancel(uow, event_id: str, participant_id: str, *, organiser: Organiser) -> Participant:
    """Cancel a registration; a freed place goes to the first waitlisted person it fits."""
    session = uow.session
    event = get_event(session, event_id, for_update=True)
    if event.status not in ("draft", "open", "ongoing"):
        raise Refused("wrong_status", "Kegiatan sudah selesai atau dibatalkan.", {"status": ["Tidak dapat diubah."]})
    participant = get_participant(session, event_id, participant_id)
    if participant.status == "cancelled":
        raise Refused("already_cancelled", "Pendaftaran ini sudah dibatalkan.", {"status": ["Sudah dibatalkan."]})
    freed = participant.status == "registered"
    participant.status = "cancelled"
    session.flush()
    answer_nomination(uow, participant, organiser)
    if freed:
        promote_next(uow, event, organiser)
    emit_summary(uow, event, organiser)
    return participant


def change_event(uow, event_id: str, data: dict, *, organiser: Organiser) -> TrainingEvent:
    """Change an event (``events.update_event``); places its larger quotas add go to the waitlist
    first, in order, before any newcomer can take them."""
    event = update_event(uow, event_id, data, organiser=organiser)
    promoted = 0
    while promote_next(uow, event, organiser) is not None:
        promoted += 1
    if promoted:
        emit_summary(uow, event, organiser)
    return event


def promote_next(uow, event: TrainingEvent, organiser: Organiser) -> Participant | None:
    """The first waitlisted person (in order of application) who fits the quotas now, if any."""
    waiting = uow.session.scalars(sa.select(Participant).where(
        Participant.event_id == event.id, Participant.status == "waitlisted").order_by(Participant.applied_at))
    for candidate in waiting:
        if _has_room(uow.session, event, candidate.regency):
            candidate.status = "registered"
            uow.session.flush()
            answer_nomination(uow, candidate, organiser)
            return candidate
    return None


def answer_nomination(uow, participant: Participant, organiser: Organiser, reason: str | None = None) -> None:
    """Tell the nominating node where its nominee stands (nothing for a local registration)."""
    if not participant.nominating_node or participant.nominating_node == organiser.node:
        return
    uow.emit(make_event("training.nomination_answered", {
        "nomination_id": participant.nomination_id, "event_id": participant.event_id, "status": participant.status,
        "position": waitlist_position(uow.session, participant), "reason": reason,
        "checkin_code": participant.checkin_code if participant.status == "registered" else None},
        node=organiser.node, service=SERVICE), target=participant.nominating_node)


def participant_view(session, participant: Participant, days: int | None = None) -> dict:
    attended = sorted(a.day for a in session.scalars(sa.select(Attendance).where(
        Attendance.participant_id == participant.id)))
    return {
        "id": participant.id, "event_id": participant.event_id, "name": participant.name,
        "position": participant.position, "office": participant.office, "regency": participant.regency,
        "regency_name": reference.region_name(participant.regency), "role": participant.role,
        "phone": participant.phone, "email": participant.email, "status": participant.status,
        "waitlist_position": waitlist_position(session, participant), "checkin_code": participant.checkin_code,
        "nominating_node": participant.nominating_node, "days_attended": attended,
        "pre_score": participant.pre_score, "post_score": participant.post_score,
        "completed": participant.completed,
    }
