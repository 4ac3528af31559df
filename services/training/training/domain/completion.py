"""Completion: when the event is completed, its rule (share of days attended, minimum post-test
score) decides who completed, and each of them gets a certificate whose number is keyed (an HMAC
of the participant under the node's secret), so it cannot be guessed, and can be checked by
anyone at /verifikasi/<number>."""
from __future__ import annotations

import base64
import hashlib
import hmac

import sqlalchemy as sa

from rehsos.clock import now
from rehsos.errors import NotFound, Refused
from training.domain.common import Organiser
from training.domain.events import change_status
from training.models import Attendance, Certificate, Participant, TrainingEvent


def certificate_number(secret: str, participant_id: str) -> str:
    """``RK-XXXX-XXXX-XXXX``: 60 bits of an HMAC, in an alphabet without 0/O and 1/I confusion."""
    key = hmac.new(secret.encode(), b"rehsos training certificate v1", hashlib.sha256).digest()
    digest = hmac.new(key, participant_id.encode(), hashlib.sha256).digest()
    code = base64.b32encode(digest).decode()[:12]
    return f"RK-{code[:4]}-{code[4:8]}-{code[8:]}"


def meets_rule(event: TrainingEvent, days_attended: int, post_score: int | None) -> bool:
    if days_attended / len(event.days) < event.min_attendance - 1e-9:
        return False
    return event.min_post_score is None or (post_score is not None and post_score >= event.min_post_score)


def complete(uow, event_id: str, *, organiser: Organiser) -> TrainingEvent:
    def decide(uow, event: TrainingEvent) -> None:
        attended = dict(uow.session.execute(sa.select(Attendance.participant_id, sa.func.count())
                                            .join(Participant).where(Participant.event_id == event.id)
                                            .group_by(Attendance.participant_id)).all())
        for participant in uow.session.scalars(sa.select(Participant).where(Participant.event_id == event.id,
                                                                            Participant.status == "registered")):
            participant.completed = meets_rule(event, attended.get(participant.id, 0), participant.post_score)
            if participant.completed:
                uow.session.add(Certificate(number=certificate_number(organiser.secret, participant.id),
                                            participant_id=participant.id, issued_at=now()))
        uow.session.flush()

    return change_status(uow, event_id, "completed", organiser=organiser, on_complete=decide)


def certificate_of(session, event_id: str, participant_id: str, *, valid: bool = False) -> Certificate:
    """The participant's certificate; with ``valid``, a revoked one is refused (no PDF of it)."""
    certificate = session.scalars(sa.select(Certificate).join(Participant).where(
        Participant.id == participant_id, Participant.event_id == event_id)).first()
    if certificate is None:
        raise NotFound("Peserta ini tidak memiliki sertifikat (belum selesai atau tidak memenuhi syarat).")
    if valid and certificate.revoked_at is not None:
        raise Refused("revoked", f"Sertifikat {certificate.number} telah dicabut.", {"number": ["Dicabut."]})
    return certificate


def normalise(number: str) -> str:
    """As typed from paper: case and spaces ignored, 0 read as O and 1 as I (the numbers have no 0 or 1)."""
    return number.strip().upper().replace(" ", "").replace("0", "O").replace("1", "I")


def find_certificate(session, number: str) -> Certificate | None:
    return session.get(Certificate, normalise(number)) if len(number) <= 32 else None


def revoke(uow, number: str, reason: str) -> Certificate:
    certificate = find_certificate(uow.session, number)
    if certificate is None:
        raise NotFound(f"Sertifikat {number} tidak dikenal.")
    if certificate.revoked_at is not None:
        raise Refused("already_revoked", "Sertifikat ini sudah dicabut.", {"number": ["Sudah dicabut."]})
    certificate.revoked_at, certificate.revoked_reason = now(), reason
    uow.session.flush()
    return certificate


def certificates_of_event(session, event_id: str) -> dict[str, Certificate]:
    """The certificates of an event's participants, by participant."""
    return {c.participant_id: c for c in session.scalars(sa.select(Certificate).join(Participant).where(
        Participant.event_id == event_id))}
