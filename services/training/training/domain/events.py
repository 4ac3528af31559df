"""Training events this node organises: details, quotas, agenda and speakers, and the status
``draft → open → ongoing → completed`` (or ``cancelled``). Opening announces the event to every
node (an invitation to nominate); every later change of status is announced again."""
from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa

from rehsos import reference
from rehsos.clock import now
from rehsos.contracts import make_event
from rehsos.contracts.events import MAX_TOPICS
from rehsos.errors import Invalid, NotFound, Refused
from training.domain.common import SERVICE, Organiser, emit_summary
from training.models import AgendaSession, Participant, RegencyQuota, Speaker, TrainingEvent

TRANSITIONS = {
    "draft": {"open", "cancelled"},
    "open": {"ongoing", "cancelled"},
    "ongoing": {"completed", "cancelled"},
    "completed": set(),
    "cancelled": set(),
}
# The announcement carries every topic; an agenda stays within what its contract holds.
MAX_SESSIONS = MAX_TOPICS
# Details, quotas, agenda and speakers change until the event starts.
EDITABLE = ("draft", "open")
_STATUS_NAMES = {"draft": "draf", "open": "dibuka", "ongoing": "berlangsung", "completed": "selesai",
                 "cancelled": "dibatalkan"}


def get_event(session, event_id: str, *, for_update: bool = False) -> TrainingEvent:
    query = sa.select(TrainingEvent).where(TrainingEvent.id == event_id)
    event = session.scalars(query.with_for_update() if for_update else query).first()
    if event is None:
        raise NotFound(f"Kegiatan {event_id} tidak ditemukan di node ini.")
    return event


def list_events(session, query: dict) -> list[TrainingEvent]:
    q = sa.select(TrainingEvent).order_by(TrainingEvent.start_date.desc())
    if query.get("status"):
        q = q.where(TrainingEvent.status == query["status"])
    if query.get("kind"):
        q = q.where(TrainingEvent.kind == query["kind"])
    return list(session.scalars(q))


def _check_dates(start: date, end: date) -> None:
    if end < start:
        raise Invalid({"end_date": ["Tanggal selesai tidak boleh sebelum tanggal mulai."]})
    if (end - start).days > 30:
        raise Invalid({"end_date": ["Satu kegiatan paling lama 31 hari."]})


def _check_quotas(quota: int, regency_quotas: list[dict]) -> None:
    seen = set()
    for i, rq in enumerate(regency_quotas):
        if rq["regency"] in seen:
            raise Invalid({"regency_quotas": {i: {"regency": ["Wilayah ini sudah punya kuota."]}}})
        seen.add(rq["regency"])
        if rq["quota"] > quota:
            raise Invalid({"regency_quotas": {i: {"quota": [f"Kuota wilayah melebihi kuota keseluruhan ({quota})."]}}})


def create_event(uow, data: dict, *, organiser: Organiser) -> TrainingEvent:
    _check_dates(data["start_date"], data["end_date"])
    _check_quotas(data["quota"], data.get("regency_quotas") or [])
    event = TrainingEvent(
        id=str(uuid.uuid4()), kind=data["kind"], title=data["title"], theme=data["theme"], venue=data["venue"],
        start_date=data["start_date"], end_date=data["end_date"], quota=data["quota"],
        target_roles=data.get("target_roles") or [], min_attendance=data.get("min_attendance", 1.0),
        min_post_score=data.get("min_post_score"), status="draft", demo=data.get("demo", False),
        created_by=organiser.actor, created_at=now(), updated_at=now(),
        regency_quotas=[RegencyQuota(**rq) for rq in data.get("regency_quotas") or []])
    uow.session.add(event)
    uow.session.flush()
    return event


def update_event(uow, event_id: str, data: dict, *, organiser: Organiser) -> TrainingEvent:
    event = get_event(uow.session, event_id, for_update=True)
    _require_status(event, EDITABLE, "diubah")
    start, end = data.get("start_date", event.start_date), data.get("end_date", event.end_date)
    _check_dates(start, end)
    quota = data.get("quota", event.quota)
    regency_quotas = data.get("regency_quotas")
    _check_quotas(quota, regency_quotas if regency_quotas is not None
                  else [{"regency": r.regency, "quota": r.quota} for r in event.regency_quotas])
    if any(s.day < start or s.day > end for s in event.sessions):
        raise Refused("sessions_outside", "Ada sesi agenda di luar tanggal baru; pindahkan sesinya dulu.",
                      {"start_date": ["Agenda di luar rentang tanggal."]})
    registered = _registered_by_regency(uow.session, event.id)
    if sum(registered.values()) > quota:
        raise Refused("quota_below_registered", f"Sudah {sum(registered.values())} peserta terdaftar; "
                      "kuota tidak boleh lebih kecil.", {"quota": ["Lebih kecil dari jumlah terdaftar."]})
    if regency_quotas is not None:
        dropped = sorted(r for r in registered if regency_quotas and r not in {q["regency"] for q in regency_quotas})
        if dropped:
            raise Refused("quota_below_registered",
                          f"{', '.join(reference.region_name(r) for r in dropped)} sudah mengirim peserta; "
                          "wilayah itu tidak dapat dihapus dari kuota.", {"regency_quotas": ["Wilayah dengan peserta "
                                                                                            "terdaftar hilang."]})
        for rq in regency_quotas:
            if registered.get(rq["regency"], 0) > rq["quota"]:
                raise Refused("quota_below_registered",
                              f"{reference.region_name(rq['regency'])} sudah mengirim {registered[rq['regency']]} "
                              "peserta; kuotanya tidak boleh lebih kecil.", {"regency_quotas": ["Lebih kecil dari "
                                                                                              "jumlah terdaftar."]})
        event.regency_quotas = [RegencyQuota(**rq) for rq in regency_quotas]
    for field in ("kind", "title", "theme", "venue", "start_date", "end_date", "quota", "target_roles",
                  "min_attendance", "min_post_score"):
        if field in data:
            setattr(event, field, data[field])
    event.updated_at = now()
    uow.session.flush()
    if event.status == "open":
        announce(uow, event, organiser)
    return event


def _require_status(event: TrainingEvent, allowed, action: str) -> None:
    if event.status not in allowed:
        raise Refused("wrong_status", f"Kegiatan berstatus {_STATUS_NAMES[event.status]}; tidak dapat {action}.",
                      {"status": [f"Harus salah satu dari: {', '.join(_STATUS_NAMES[s] for s in allowed)}."]})


def _registered_by_regency(session, event_id: str) -> dict[str, int]:
    rows = session.execute(sa.select(Participant.regency, sa.func.count()).where(
        Participant.event_id == event_id, Participant.status == "registered").group_by(Participant.regency))
    return dict(rows.all())


def change_status(uow, event_id: str, to_status: str, *, organiser: Organiser, reason: str | None = None,
                  on_complete=None) -> TrainingEvent:
    """Move the event on; ``on_complete`` (the completion rule) runs inside the same transaction."""
    event = get_event(uow.session, event_id, for_update=True)
    if to_status not in TRANSITIONS[event.status]:
        allowed = ", ".join(_STATUS_NAMES[s] for s in sorted(TRANSITIONS[event.status])) or "tidak ada"
        raise Refused("invalid_transition",
                      f"Status {_STATUS_NAMES[event.status]} tidak dapat menjadi {_STATUS_NAMES[to_status]}; "
                      f"langkah berikutnya: {allowed}.", {"status": ["Perubahan status tidak diizinkan."]})
    if to_status == "cancelled" and not reason:
        raise Invalid({"reason": ["Sebutkan alasan pembatalan."]})
    if to_status == "completed" and on_complete is not None:
        on_complete(uow, event)
    event.status, event.status_reason, event.updated_at = to_status, reason, now()
    uow.session.flush()
    announce(uow, event, organiser)
    emit_summary(uow, event, organiser)
    return event


def announce(uow, event: TrainingEvent, organiser: Organiser) -> None:
    """Tell every node (an invitation while open; the news when it moves on). A draft stays here."""
    if event.status == "draft":
        return
    uow.emit(make_event("training.event_changed", {
        "event_id": event.id, "kind": event.kind, "title": event.title, "theme": event.theme, "venue": event.venue,
        "start_date": event.start_date, "end_date": event.end_date, "quota": event.quota,
        "regency_quotas": [{"regency": r.regency, "quota": r.quota} for r in event.regency_quotas],
        "target_roles": list(event.target_roles), "status": event.status,
        "topics": list(dict.fromkeys(s.topic for s in event.sessions)), "demo": event.demo, "as_of": now()},
        node=organiser.node, service=SERVICE), target="all")


# -- agenda and speakers ------------------------------------------------------------------------
def add_speaker(uow, event_id: str, data: dict) -> Speaker:
    event = get_event(uow.session, event_id, for_update=True)
    _require_status(event, EDITABLE, "diubah")
    speaker = Speaker(event_id=event.id, name=data["name"], institution=data["institution"])
    uow.session.add(speaker)
    uow.session.flush()
    return speaker


def add_session(uow, event_id: str, data: dict, *, organiser: Organiser) -> AgendaSession:
    event = get_event(uow.session, event_id, for_update=True)
    _require_status(event, EDITABLE, "diubah")
    if not event.start_date <= data["day"] <= event.end_date:
        raise Invalid({"day": [f"Hari harus di antara {event.start_date} dan {event.end_date}."]})
    if data["ends_at"] <= data["starts_at"]:
        raise Invalid({"ends_at": ["Jam selesai harus setelah jam mulai."]})
    if len(event.sessions) >= MAX_SESSIONS:
        raise Refused("agenda_full", f"Agenda sudah berisi {MAX_SESSIONS} sesi, batas satu kegiatan.",
                      {"topic": ["Agenda penuh."]})
    known = {s.id for s in event.speakers}
    unknown = [i for i in data.get("speaker_ids") or [] if i not in known]
    if unknown:
        raise Invalid({"speaker_ids": [f"Narasumber {', '.join(map(str, unknown))} bukan narasumber kegiatan ini."]})
    session = AgendaSession(event_id=event.id, day=data["day"], starts_at=data["starts_at"], ends_at=data["ends_at"],
                            topic=data["topic"], speaker_ids=list(data.get("speaker_ids") or []))
    event.sessions.append(session)
    uow.session.flush()
    if event.status == "open":
        announce(uow, event, organiser)  # its topics are part of the invitation
    return session


def get_session(session, event_id: str, session_id: int) -> AgendaSession:
    agenda = session.get(AgendaSession, session_id)
    if agenda is None or agenda.event_id != event_id:
        raise NotFound(f"Sesi {session_id} tidak ditemukan pada kegiatan ini.")
    return agenda


# -- views ----------------------------------------------------------------------------------------
def hours(event: TrainingEvent) -> float:
    """Hours of the agenda (what a certificate states)."""
    return round(sum(s.minutes for s in event.sessions) / 60, 1)


def event_view(session, event: TrainingEvent, node: str) -> dict:
    counts = session.execute(sa.select(Participant.regency, Participant.status, sa.func.count()).where(
        Participant.event_id == event.id).group_by(Participant.regency, Participant.status)).all()
    by_regency: dict[str, dict] = {}
    for regency, status, n in counts:
        by_regency.setdefault(regency, {"registered": 0, "waitlisted": 0, "cancelled": 0})[status] = n
    quotas = {r.regency: r.quota for r in event.regency_quotas}
    speakers = {s.id: s for s in event.speakers}
    return {
        "id": event.id, "organiser_node": node, "kind": event.kind, "title": event.title, "theme": event.theme,
        "venue": event.venue, "start_date": event.start_date, "end_date": event.end_date, "days": len(event.days),
        "hours": hours(event), "quota": event.quota, "target_roles": event.target_roles,
        "completion_rule": {"min_attendance": event.min_attendance, "min_post_score": event.min_post_score},
        "status": event.status, "status_reason": event.status_reason, "demo": event.demo,
        "registered": sum(c["registered"] for c in by_regency.values()),
        "waitlisted": sum(c["waitlisted"] for c in by_regency.values()),
        "regencies": [{"regency": r, "regency_name": reference.region_name(r), "quota": quotas.get(r),
                       "registered": by_regency.get(r, {}).get("registered", 0),
                       "waitlisted": by_regency.get(r, {}).get("waitlisted", 0)}
                      for r in sorted(set(quotas) | set(by_regency))],
        "speakers": [{"id": s.id, "name": s.name, "institution": s.institution} for s in event.speakers],
        "sessions": [{"id": s.id, "day": s.day, "starts_at": s.starts_at, "ends_at": s.ends_at, "topic": s.topic,
                      "speakers": [{"id": i, "name": speakers[i].name, "institution": speakers[i].institution}
                                   for i in s.speaker_ids if i in speakers]}
                     for s in event.sessions],
    }
