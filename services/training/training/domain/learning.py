"""Learning: pre-test and post-test scores (0-100) per participant, session feedback (1-5), and
the average gain per event, per role and per topic (participants present on the topic's day)."""
from __future__ import annotations

import sqlalchemy as sa

from rehsos.errors import Invalid, Refused
from training.domain.common import Organiser, emit_summary
from training.domain.events import get_event, get_session
from training.domain.participants import get_participant
from training.models import AgendaSession, Attendance, Feedback, Participant


def set_scores(uow, event_id: str, participant_id: str, data: dict, *, organiser: Organiser) -> Participant:
    event = get_event(uow.session, event_id)
    if event.status not in ("open", "ongoing"):
        raise Refused("wrong_status", "Nilai hanya dapat dicatat sebelum kegiatan selesai.",
                      {"status": ["Kegiatan sudah selesai atau dibatalkan."]})
    participant = get_participant(uow.session, event_id, participant_id)
    if participant.status != "registered":
        raise Refused("not_registered", f"{participant.name} bukan peserta terdaftar.",
                      {"participant_id": ["Bukan peserta terdaftar."]})
    for field in ("pre_score", "post_score"):
        if field in data:
            setattr(participant, field, data[field])
    uow.session.flush()
    emit_summary(uow, event, organiser)
    return participant


def give_feedback(uow, event_id: str, session_id: int, data: dict) -> Feedback:
    event = get_event(uow.session, event_id)
    if event.status not in ("ongoing", "completed"):
        raise Refused("wrong_status", "Umpan balik diberikan saat atau setelah kegiatan.",
                      {"status": ["Kegiatan belum berlangsung."]})
    agenda = get_session(uow.session, event_id, session_id)
    participant = get_participant(uow.session, event_id, data["participant_id"])
    if participant.status != "registered":
        raise Invalid({"participant_id": ["Bukan peserta terdaftar."]})
    feedback = uow.session.get(Feedback, (participant.id, agenda.id))
    if feedback is None:
        feedback = Feedback(participant_id=participant.id, session_id=agenda.id, score=data["score"])
        uow.session.add(feedback)
    feedback.score = data["score"]  # a participant may change their mind: the last rating counts
    uow.session.flush()
    return feedback


def _gain(rows) -> dict:
    scored = [(pre, post) for pre, post in rows if pre is not None and post is not None]
    if not scored:
        return {"scored": 0, "pre_average": None, "post_average": None, "gain": None}
    pre = sum(p for p, _ in scored) / len(scored)
    post = sum(q for _, q in scored) / len(scored)
    return {"scored": len(scored), "pre_average": round(pre, 1), "post_average": round(post, 1),
            "gain": round(post - pre, 1)}


def learning_report(session, event_id: str) -> dict:
    event = get_event(session, event_id)
    registered = (Participant.event_id == event.id) & (Participant.status == "registered")
    overall = session.execute(sa.select(Participant.pre_score, Participant.post_score).where(registered)).all()
    by_role: dict[str, list] = {}
    for role, pre, post in session.execute(sa.select(Participant.role, Participant.pre_score,
                                                      Participant.post_score).where(registered)):
        by_role.setdefault(role, []).append((pre, post))
    topics = []
    for agenda in session.scalars(sa.select(AgendaSession).where(AgendaSession.event_id == event.id)
                                  .order_by(AgendaSession.day, AgendaSession.starts_at)):
        present = session.execute(sa.select(Participant.pre_score, Participant.post_score).join(
            Attendance, (Attendance.participant_id == Participant.id) & (Attendance.day == agenda.day))
            .where(registered)).all()
        ratings = session.execute(sa.select(sa.func.count(), sa.func.avg(Feedback.score))
                                  .where(Feedback.session_id == agenda.id)).one()
        topics.append({"session_id": agenda.id, "topic": agenda.topic, "day": agenda.day, **_gain(present),
                       "feedback_count": ratings[0],
                       "feedback_average": round(float(ratings[1]), 2) if ratings[1] is not None else None})
    return {"event_id": event.id, **_gain(overall),
            "by_role": [{"role": role, **_gain(rows)} for role, rows in sorted(by_role.items())],
            "by_topic": topics}
