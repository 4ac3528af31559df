"""What happens when a regency registers a case, and when someone reads it.

Plain functions on a unit of work; no nameko here. Every read or write of a personal record is
audit-logged in the same transaction as the access itself.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone

import sqlalchemy as sa

from intake.models import AuditEntry, Case, Person
from rehsos import reference
from rehsos.auth import Principal
from rehsos.contracts import make_event
from rehsos.privacy import age_band, person_key

SERVICE = "intake"
FIRST_STAGE = reference.REHAB_STAGES[0]["code"]  # pendekatan_awal


class OutsideJurisdiction(Exception):
    """A regency node registers cases of its own regency only."""


class DuplicateNik(Exception):
    def __init__(self, person_id: str):
        super().__init__(person_id)
        self.person_id = person_id


@dataclass(frozen=True)
class Access:
    """Who acts, and why (the purpose goes into the audit log)."""
    principal: Principal
    purpose: str


def _audit(session, access: Access, action: str, record_type: str, record_id: str, outcome: str = "ok"):
    session.add(AuditEntry(at=datetime.now(timezone.utc), actor=access.principal.actor,
                           role=access.principal.role, action=action, record_type=record_type,
                           record_id=record_id, purpose=access.purpose, outcome=outcome))


def register_case(uow, data: dict, *, node: str, secret: str, access: Access, today: date | None = None) -> Case:
    """Register a person and their first case; emits ``case.registered`` (pseudonymous)."""
    if data["regency"] not in reference.regions_served_by(node):
        raise OutsideJurisdiction(data["regency"])
    session = uow.session
    nik = data.get("nik") or None
    if nik:
        existing = session.execute(sa.select(Person.id).where(Person.nik == nik)).scalar_one_or_none()
        if existing:
            raise DuplicateNik(existing)
    now = datetime.now(timezone.utc)
    person_id = str(uuid.uuid4())
    key, key_kind = person_key(secret, nik, node, person_id)
    person = Person(id=person_id, name=data["name"], nik=nik, sex=data["sex"], birth_date=data["birth_date"],
                    regency=data["regency"], kecamatan=data["kecamatan"], person_key=key, created_at=now)
    case = Case(id=str(uuid.uuid4()), person=person, category=data["category"], regency=data["regency"],
                stage=FIRST_STAGE, status="open", registered_at=now, registered_by=access.principal.actor)
    session.add_all([person, case])
    _audit(session, access, "case.register", "case", case.id)
    uow.emit(make_event("case.registered", {
        "case_id": case.id,
        "person_key": key,
        "person_key_kind": key_kind,
        "age_band": age_band(data["birth_date"], today or now.date()),
        "sex": data["sex"],
        "category": data["category"],
        "region": data["regency"],
    }, node=node, service=SERVICE))
    return case


def read_case(uow, case_id: str, *, access: Access) -> Case | None:
    """A case with its person's identity; the read, found or not, is audit-logged."""
    case = uow.session.get(Case, case_id)
    _audit(uow.session, access, "case.read", "case", case_id, "ok" if case else "not_found")
    return case


def case_view(case: Case, node: str) -> dict:
    return {
        "id": case.id, "node": node, "category": case.category,
        "category_name": reference.PPKS_CATEGORIES[case.category].name_id,
        "regency": case.regency, "regency_name": reference.region_name(case.regency),
        "stage": case.stage, "status": case.status, "registered_at": case.registered_at,
        "person": case.person,
    }
