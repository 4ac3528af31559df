"""Consent (persetujuan) per purpose, given or withdrawn by the person or their guardian (UU 27/2022)."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from intake.domain.common import SERVICE, Access, Office
from intake.domain.persons import get_person
from intake.models import Consent, Person
from rehsos.clock import now
from rehsos.contracts import make_event
from rehsos.errors import Invalid, Refused
from rehsos.privacy import age_on

CONSENT_PURPOSES = ("registration", "assessment", "referral", "data_sharing")
# UU 27/2022 art. 20: the lawful bases for processing personal data.
LEGAL_BASES = ("consent", "contract", "legal_obligation", "vital_interest", "public_task", "legitimate_interest")
# Guardians consent for children and for persons whose disability affects legal capacity.
GUARDIAN_DISABILITIES = {"intelektual", "mental"}


def needs_guardian(person: Person, today: date) -> bool:
    birth_year = person.birth_year
    child = (age_on(person.birth_date, today) if person.birth_date else today.year - birth_year) < 18
    return child or bool(GUARDIAN_DISABILITIES & {d.disability for d in person.disabilities})


def consents(uow, person_id: str, *, access: Access) -> list[Consent]:
    get_person(uow, person_id, access=access, action="consent.read")
    return list(uow.session.scalars(sa.select(Consent).where(Consent.person_id == person_id).order_by(Consent.id)))


def consent_status(session, person_id: str, purpose: str) -> str | None:
    """``given``, ``withdrawn`` or None: the latest record for the purpose decides."""
    return session.execute(sa.select(Consent.status).where(Consent.person_id == person_id, Consent.purpose == purpose)
                           .order_by(Consent.id.desc()).limit(1)).scalar_one_or_none()


def record_consent(uow, person_id: str, data: dict, *, access: Access, status: str = "given",
                   office: Office | None = None) -> Consent:
    person = get_person(uow, person_id, access=access, action=f"consent.{status}")
    today = date.today()
    if data["given_by"] == "person" and needs_guardian(person, today) and data.get("legal_basis", "consent") == "consent":
        raise Invalid({"given_by": ["Untuk anak atau penyandang disabilitas intelektual/mental, "
                                    "persetujuan diberikan oleh wali."]})
    if data["given_by"] == "guardian" and not person.guardian_name:
        raise Invalid({"given_by": ["Wali belum tercatat untuk orang ini."]})
    if status == "withdrawn" and consent_status(uow.session, person_id, data["purpose"]) != "given":
        raise Refused("no_consent", "Tidak ada persetujuan aktif untuk tujuan ini.")
    consent = Consent(person_id=person_id, purpose=data["purpose"], legal_basis=data.get("legal_basis", "consent"),
                      status=status, given_by=data["given_by"], recorded_on=data.get("recorded_on") or today,
                      recorded_at=now(), recorded_by=access.principal.actor, note=data.get("note"))
    uow.session.add(consent)
    uow.session.flush()  # the answer carries the new id
    if status == "withdrawn":
        uow.emit(make_event("consent.withdrawn", {"person_key": person.person_key, "purpose": data["purpose"]},
                            node=office.node, service=SERVICE))
    return consent
