"""The regency's register: persons, consent, cases and their lifecycle, referrals.

Plain functions on a unit of work; no nameko here. Each function that reads or writes a
personal record writes the audit entry in the same transaction, and each state change that
other offices must know of emits its (pseudonymous) event in that transaction too.
"""
from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from difflib import SequenceMatcher

import sqlalchemy as sa

from intake.models import (Assessment, AuditEntry, Case, CaseHistory, Consent, CrossNodeMatch, DuplicateReview,
                           InterventionPlan, Person, PersonCategory, PersonDisability, Referral, ServiceDelivery)
from rehsos import jurisdiction, reference, registry
from rehsos.clock import now
from rehsos.auth import Principal
from rehsos.config import HUB
from rehsos.errors import Invalid, NotFound, Refused, RefusedEvent
from rehsos.contracts import make_event
from rehsos.privacy import age_band, age_on, person_key

SERVICE = "intake"
STAGES = [s["code"] for s in reference.REHAB_STAGES]
FIRST_STAGE = STAGES[0]  # pendekatan_awal
REFERENCE_VERSION = 1  # of the 26 PPKS categories (Permensos 8/2012 list as shipped in rehsos/data)

# Allowed stage moves. Terminasi is reached only through an approved closure; a plan can be
# revised (back to rencana intervensi) and resocialisation can fall back to intervention.
TRANSITIONS = {
    "pendekatan_awal": {"asesmen"},
    "asesmen": {"rencana_intervensi"},
    "rencana_intervensi": {"intervensi", "asesmen"},
    "intervensi": {"resosialisasi", "rencana_intervensi"},
    "resosialisasi": {"intervensi"},
    "terminasi": {"bimbingan_lanjut"},
    "bimbingan_lanjut": set(),
}
# Guardians consent for children and for persons whose disability affects legal capacity.
GUARDIAN_DISABILITIES = {"intelektual", "mental"}


@dataclass(frozen=True)
class Access:
    """Who acts, and why (the purpose goes into the audit log)."""
    principal: Principal
    purpose: str


@dataclass(frozen=True)
class Office:
    """The node this intake serves, and the provincial key for person hashes."""
    node: str
    secret: str


def _refused(entry: AuditEntry) -> None:
    if entry.outcome == "ok":
        entry.outcome = "refused"


def audit(uow, access: Access, action: str, record_type: str, record_id: str, outcome: str = "ok") -> None:
    """Log an access to a personal record. The entry is kept even when the request then fails,
    marked ``refused``: an attempt is as much a fact for the audit as a success."""
    uow.add_durable(AuditEntry(at=now(), actor=access.principal.actor, role=access.principal.role, action=action,
                               record_type=record_type, record_id=record_id, purpose=access.purpose,
                               outcome=outcome), on_rollback=_refused)


# -- names -----------------------------------------------------------------------------------------
_TITLES = re.compile(r"\b(h|hj|hajah|haji|drs|dra|dr|ir|prof|s\.?pd|s\.?e|s\.?h|s\.?sos|amd|st)\b\.?")
_SPELLING = [(r"\b(muhammad|muhamad|mohammad|mohamad|mochammad|muhammat|moh|muh|mhd|m)\b", "muhammad"),
             (r"\b(noor|nor|nurul)\b", "nur"), (r"dj", "j"), (r"tj", "c"), (r"oe", "u"), (r"ch", "kh"),
             (r"sj", "sy")]


def name_key(name: str) -> str:
    """A name as matching should see it: titles dropped, old and variant spellings folded."""
    key = name.lower()
    key = _TITLES.sub(" ", key)
    for pattern, replacement in _SPELLING:
        key = re.sub(pattern, replacement, key)
    key = re.sub(r"[^a-z ]", " ", key)
    return re.sub(r"\s+", " ", key).strip()


# -- persons ---------------------------------------------------------------------------------------
_REG_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: it is read aloud and written by hand


def _registration_no(node: str, today: date) -> str:
    """``6371-2026-7F3K9Q``: the number on the person's papers; random, so concurrent registrations never collide."""
    return f"{node}-{today.year}-{''.join(secrets.choice(_REG_ALPHABET) for _ in range(6))}"


def _person_age_band(person: Person, today: date) -> str:
    return age_band(person.birth_date, today, person.birth_year_estimated)


def needs_guardian(person: Person, today: date) -> bool:
    birth_year = person.birth_year
    child = (age_on(person.birth_date, today) if person.birth_date else today.year - birth_year) < 18
    return child or bool(GUARDIAN_DISABILITIES & {d.disability for d in person.disabilities})


def _check_nik_free(session, nik: str) -> None:
    existing = session.execute(sa.select(Person.id).where(Person.nik == nik)).scalar_one_or_none()
    if existing:
        raise Refused("duplicate_nik", f"NIK sudah terdaftar di node ini untuk orang dengan id {existing}.",
                      {"nik": ["NIK sudah terdaftar."], "person_id": existing})


def register_person(uow, data: dict, *, office: Office, access: Access, today: date | None = None) -> Person:
    """Register a person, with or without a NIK; emits ``person.registered``."""
    jurisdiction.require_for_request(office.node, data["regency"], "orang")
    session, today = uow.session, today or date.today()
    nik = data.get("nik") or None
    if nik:
        _check_nik_free(session, nik)
    person_id = str(uuid.uuid4())
    key, key_kind = person_key(office.secret, nik, office.node, person_id)
    birth_year = today.year - data["estimated_age"] if data.get("estimated_age") is not None else None
    categories = list(dict.fromkeys(data.get("categories") or []))
    if data.get("category") and data["category"] not in categories:
        categories.append(data["category"])
    person = Person(
        id=person_id, registration_no=_registration_no(office.node, today), name=data["name"],
        name_key=name_key(data["name"]), nik=nik, sex=data["sex"], birth_date=data.get("birth_date"),
        birth_year_estimated=birth_year, regency=data["regency"], kecamatan=data["kecamatan"],
        desa=data.get("desa"), address=data.get("address"), phone=data.get("phone"),
        guardian_name=data.get("guardian_name"), guardian_relationship=data.get("guardian_relationship"),
        guardian_phone=data.get("guardian_phone"), person_key=key, created_at=now(),
        categories=[PersonCategory(category=c, reference_version=REFERENCE_VERSION) for c in categories],
        disabilities=[PersonDisability(disability=d) for d in dict.fromkeys(data.get("disabilities") or [])])
    session.add(person)
    audit(uow, access, "person.register", "person", person_id)
    uow.emit(make_event("person.registered", {
        "person_key": key, "person_key_kind": key_kind, "age_band": _person_age_band(person, today),
        "sex": person.sex, "region": person.regency, "categories": categories,
        "disabilities": [d.disability for d in person.disabilities]}, node=office.node, service=SERVICE))
    return person


def get_person(uow, person_id: str, *, access: Access, action: str = "person.read") -> Person:
    person = uow.session.get(Person, person_id)
    audit(uow, access, action, "person", person_id, "ok" if person else "not_found")
    if person is None:
        raise NotFound("Orang tidak ditemukan.")
    return person


def update_person(uow, person_id: str, data: dict, *, access: Access, today: date | None = None) -> Person:
    """Correct or update a person's record (not the NIK, not the regency)."""
    person = get_person(uow, person_id, access=access, action="person.update")
    if person.merged_into:
        raise Refused("merged", f"Orang ini sudah digabung ke {person.merged_into}; ubah data di sana.")
    today = today or date.today()
    for column in ("name", "sex", "kecamatan", "desa", "address", "phone", "guardian_name",
                   "guardian_relationship", "guardian_phone"):
        if column in data:
            setattr(person, column, data[column])
    if "name" in data:
        person.name_key = name_key(data["name"])
    if data.get("birth_date") is not None:
        person.birth_date, person.birth_year_estimated = data["birth_date"], None
    elif data.get("estimated_age") is not None:
        person.birth_date, person.birth_year_estimated = None, today.year - data["estimated_age"]
    if "categories" in data:
        in_cases = {c.category for c in person.cases}
        if in_cases - set(data["categories"]):
            raise Invalid({"categories": [f"Kategori kasus tidak boleh dihapus: "
                                          f"{', '.join(sorted(in_cases - set(data['categories'])))}."]})
        person.categories = [PersonCategory(category=c, reference_version=REFERENCE_VERSION)
                             for c in dict.fromkeys(data["categories"])]
    if "disabilities" in data:
        person.disabilities = [PersonDisability(disability=d) for d in dict.fromkeys(data["disabilities"])]
    person.updated_at = now()
    return person


def attach_nik(uow, person_id: str, nik: str, *, office: Office, access: Access) -> Person:
    """Attach a NIK to a person registered without one; emits ``person.identified``."""
    person = get_person(uow, person_id, access=access, action="person.attach_nik")
    if person.nik:
        raise Refused("nik_present", "Orang ini sudah memiliki NIK.", {"nik": ["NIK sudah tercatat."]})
    _check_nik_free(uow.session, nik)
    previous = person.person_key
    person.nik = nik
    person.person_key, _ = person_key(office.secret, nik, office.node, person.id)
    person.updated_at = now()
    uow.emit(make_event("person.identified", {"previous_person_key": previous, "person_key": person.person_key},
                        node=office.node, service=SERVICE))
    return person


# -- likely duplicates -----------------------------------------------------------------------------
DUPLICATE_THRESHOLD = 0.75


def _similarity(a: str, b: str) -> float:
    """Name likeness on folded names; word order ignored (\"Siti Aisyah\" ~ \"Aisyah Siti\")."""
    return max(SequenceMatcher(None, a, b).ratio(),
               SequenceMatcher(None, " ".join(sorted(a.split())), " ".join(sorted(b.split()))).ratio())


def likely_duplicates(uow, person_id: str, *, access: Access) -> list[dict]:
    """Persons who may be the same as this one: similar name, same sex, close birth year or the
    same kecamatan. Pairs an operator already decided on are left out."""
    person = get_person(uow, person_id, access=access, action="person.duplicates")
    year = person.birth_year
    reviewed = set(uow.session.scalars(sa.select(DuplicateReview.other_id)
                                       .where(DuplicateReview.person_id == person_id)))
    reviewed |= set(uow.session.scalars(sa.select(DuplicateReview.person_id)
                                        .where(DuplicateReview.other_id == person_id)))
    birth_year = sa.func.coalesce(sa.extract("year", Person.birth_date), Person.birth_year_estimated)
    nearby = sa.or_(Person.kecamatan == person.kecamatan, sa.between(birth_year, year - 2, year + 2),
                    Person.name_key == person.name_key)
    candidates = uow.session.scalars(sa.select(Person).where(
        Person.id != person.id, Person.sex == person.sex, Person.merged_into.is_(None), nearby))
    result = []
    for other in candidates:
        if other.id in reviewed or (person.nik and other.nik and person.nik != other.nik):
            continue  # two different NIKs are two different people
        name = _similarity(person.name_key, other.name_key)
        if name < 0.7:
            continue
        close_year = other.birth_year is not None and abs(other.birth_year - year) <= 2
        same_place = other.kecamatan == person.kecamatan
        score = round(0.6 * name + 0.2 * close_year + 0.2 * same_place, 2)
        if score >= DUPLICATE_THRESHOLD:
            result.append({"person_id": other.id, "registration_no": other.registration_no, "name": other.name,
                           "birth_year": other.birth_year, "kecamatan": other.kecamatan, "score": score,
                           "reasons": [r for r, hit in (("nama mirip", True), ("tahun lahir dekat", close_year),
                                                        ("kecamatan sama", same_place)) if hit]})
    return sorted(result, key=lambda c: -c["score"])


def review_duplicate(uow, person_id: str, other_id: str, decision: str, *, office: Office, access: Access) -> Person:
    """Dismiss a likely duplicate, or merge ``other`` into ``person``: cases, categories,
    disabilities and consent move over; ``other`` stays, marked ``merged_into``, so history holds."""
    person = get_person(uow, person_id, access=access, action=f"person.duplicate_{decision}")
    other = get_person(uow, other_id, access=access, action=f"person.duplicate_{decision}")
    if person.id == other.id:
        raise Invalid({"other_id": ["Tidak dapat membandingkan orang dengan dirinya sendiri."]})
    if person.merged_into or other.merged_into:
        raise Refused("merged", "Salah satu orang sudah digabung sebelumnya.")
    uow.session.add(DuplicateReview(person_id=person.id, other_id=other.id, decision=decision,
                                    decided_by=access.principal.actor, decided_at=now()))
    if decision == "dismiss":
        return person
    if person.nik and other.nik and person.nik != other.nik:
        raise Refused("different_nik", "Kedua orang memiliki NIK berbeda; tidak dapat digabung.")
    for case in list(other.cases):
        case.person = person
        _history(uow.session, case, access, "person_merged", from_person=other.id, into_person=person.id)
    known = {c.category for c in person.categories}
    person.categories += [PersonCategory(category=c.category, reference_version=c.reference_version)
                          for c in other.categories if c.category not in known]
    known = {d.disability for d in person.disabilities}
    person.disabilities += [PersonDisability(disability=d.disability) for d in other.disabilities
                            if d.disability not in known]
    uow.session.execute(sa.update(Consent).where(Consent.person_id == other.id).values(person_id=person.id))
    previous_key = person.person_key
    if other.nik and not person.nik:
        nik, other.nik = other.nik, None
        uow.session.flush()  # free the unique NIK before the survivor takes it
        person.nik = nik
        person.person_key = other.person_key
    other.merged_into, other.updated_at, person.updated_at = person.id, now(), now()
    # The hub counts persons by key: tell it the merged key now belongs to the survivor's.
    for old_key in {other.person_key, previous_key} - {person.person_key}:
        uow.emit(make_event("person.identified", {"previous_person_key": old_key, "person_key": person.person_key},
                            node=office.node, service=SERVICE))
    return person


def apply_duplicate_detected(uow, event, node: str) -> None:
    """The hub says a person registered here is registered at other nodes too."""
    if event.node != HUB:  # only the hub sees every node; another node saying so is not believed
        raise RefusedEvent(f"person.duplicate_detected from node {event.node}, not from the hub")
    others = sorted(set(event.payload["nodes"]) - {node})
    match = uow.session.get(CrossNodeMatch, event.payload["person_key"])
    if match is None:
        uow.session.add(CrossNodeMatch(person_key=event.payload["person_key"], nodes=others,
                                       detected_at=event.occurred_at))
    else:
        match.nodes, match.detected_at = sorted(set(match.nodes) | set(others)), event.occurred_at


def cross_node_matches(uow, *, access: Access) -> list[dict]:
    rows = uow.session.execute(sa.select(Person, CrossNodeMatch.nodes, CrossNodeMatch.detected_at)
                               .join(CrossNodeMatch, CrossNodeMatch.person_key == Person.person_key)
                               .order_by(CrossNodeMatch.detected_at.desc())).all()
    audit(uow, access, "person.cross_node_list", "person", "*")
    return [{"person_id": p.id, "registration_no": p.registration_no, "name": p.name, "other_nodes": nodes,
             "detected_at": at} for p, nodes, at in rows]


# -- consent ---------------------------------------------------------------------------------------
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


# -- cases -----------------------------------------------------------------------------------------
def _history(session, case: Case, access: Access, kind: str, **detail) -> None:
    session.add(CaseHistory(case_id=case.id, at=now(), actor=access.principal.actor, kind=kind,
                            detail={k: v for k, v in detail.items() if v is not None}))


def open_case(uow, person: Person, data: dict, *, office: Office, access: Access, today: date | None = None) -> Case:
    """Open a case for a registered person; emits ``case.opened``."""
    today = today or date.today()
    if person.merged_into:
        raise Refused("merged", f"Orang ini sudah digabung ke {person.merged_into}.")
    if data["category"] not in {c.category for c in person.categories}:
        person.categories.append(PersonCategory(category=data["category"], reference_version=REFERENCE_VERSION))
    case = Case(id=str(uuid.uuid4()), person=person, category=data["category"], regency=person.regency,
                kecamatan=person.kecamatan, stage=FIRST_STAGE, status="open", worker=data.get("worker"),
                registered_at=now(), registered_by=access.principal.actor, reopen_count=0)
    uow.session.add(case)
    uow.session.flush()
    _history(uow.session, case, access, "opened", category=case.category, stage=case.stage, worker=case.worker)
    audit(uow, access, "case.open", "case", case.id)
    uow.emit(make_event("case.opened", {
        "case_id": case.id, "person_key": person.person_key, "age_band": _person_age_band(person, today),
        "sex": person.sex, "category": case.category, "region": case.regency, "stage": case.stage},
        node=office.node, service=SERVICE))
    return case


def register_case(uow, data: dict, *, office: Office, access: Access, today: date | None = None) -> Case:
    """A new person and their first case in one step."""
    person = register_person(uow, data, office=office, access=access, today=today)
    return open_case(uow, person, data, office=office, access=access, today=today)


def get_case(uow, case_id: str, *, access: Access, action: str = "case.read", for_update: bool = False) -> Case:
    query = sa.select(Case).where(Case.id == case_id)
    if for_update:
        query = query.with_for_update()  # two workers moving one case wait for each other (PostgreSQL)
    case = uow.session.execute(query).unique().scalar_one_or_none()
    audit(uow, access, action, "case", case_id, "ok" if case else "not_found")
    if case is None:
        raise NotFound("Kasus tidak ditemukan.")
    return case


def change_stage(uow, case_id: str, to_stage: str, *, office: Office, access: Access, note: str | None = None) -> Case:
    case = get_case(uow, case_id, access=access, action="case.stage", for_update=True)
    if case.status == "closure_requested":
        raise Refused("closure_pending", "Penutupan kasus sedang menunggu persetujuan supervisor.")
    if to_stage == "terminasi":
        raise Refused("closure_required", "Tahap terminasi hanya melalui penutupan kasus yang disetujui supervisor.")
    if to_stage not in TRANSITIONS[case.stage]:
        allowed = ", ".join(sorted(TRANSITIONS[case.stage])) or "tidak ada"
        raise Refused("transition_not_allowed",
                      f"Perpindahan dari {case.stage} ke {to_stage} tidak diizinkan (yang diizinkan: {allowed}).",
                      {"stage": [f"Dari {case.stage} hanya ke: {allowed}."]})
    previous, case.stage = case.stage, to_stage
    _history(uow.session, case, access, "stage_changed", from_stage=previous, to_stage=to_stage, note=note)
    uow.emit(make_event("case.stage_changed", {"case_id": case.id, "from_stage": previous, "to_stage": to_stage},
                        node=office.node, service=SERVICE))
    return case


def _require_not_withdrawn(session, case: Case, purpose: str) -> None:
    """A withdrawn consent stops further processing for its purpose (UU 27/2022)."""
    if consent_status(session, case.person_id, purpose) == "withdrawn":
        raise Refused("consent_withdrawn", f"Persetujuan untuk tujuan '{purpose}' telah dicabut; "
                                           "pemrosesan untuk tujuan ini dihentikan.")


def _require_open_in(case: Case, stages: set[str], what: str) -> None:
    if case.status != "open" and not (case.status == "closed" and case.stage in stages):
        raise Refused("case_not_open", f"Kasus tidak terbuka; {what} tidak dapat dicatat.")
    if case.stage not in stages:
        raise Refused("wrong_stage", f"{what} dicatat pada tahap {', '.join(sorted(stages))}, "
                                     f"bukan {case.stage}.")


def record_assessment(uow, case_id: str, data: dict, *, office: Office, access: Access) -> Assessment:
    case = get_case(uow, case_id, access=access, action="case.assessment")
    _require_open_in(case, {"asesmen", "rencana_intervensi", "intervensi", "resosialisasi"}, "Asesmen")
    _require_not_withdrawn(uow.session, case, "assessment")
    assessment = Assessment(case_id=case.id, needs=data["needs"], risk_level=data["risk_level"],
                            recommendation=data["recommendation"], assessed_by=access.principal.actor,
                            assessed_at=now())
    uow.session.add(assessment)
    uow.session.flush()
    _history(uow.session, case, access, "assessment", risk_level=data["risk_level"], needs=sorted(data["needs"]))
    uow.emit(make_event("assessment.completed", {"case_id": case.id, "risk_level": data["risk_level"],
                                                 "needs": sorted(data["needs"])}, node=office.node, service=SERVICE))
    return assessment


def record_plan(uow, case_id: str, data: dict, *, access: Access) -> InterventionPlan:
    case = get_case(uow, case_id, access=access, action="case.plan")
    _require_open_in(case, {"rencana_intervensi", "intervensi", "resosialisasi"}, "Rencana intervensi")
    _require_not_withdrawn(uow.session, case, "assessment")
    assessed = uow.session.execute(sa.select(sa.func.count()).select_from(Assessment)
                                   .where(Assessment.case_id == case.id)).scalar_one()
    if not assessed:
        raise Refused("assessment_missing", "Rencana intervensi memerlukan asesmen terlebih dahulu.")
    plan = InterventionPlan(case_id=case.id, components=data["components"],
                            responsible_worker=data["responsible_worker"],
                            target_dates={k: v.isoformat() for k, v in data["target_dates"].items()},
                            created_by=access.principal.actor, created_at=now())
    uow.session.add(plan)
    uow.session.flush()
    case.worker = data["responsible_worker"]
    _history(uow.session, case, access, "plan", components=data["components"], worker=data["responsible_worker"])
    return plan


def record_service(uow, case_id: str, data: dict, *, access: Access) -> ServiceDelivery:
    case = get_case(uow, case_id, access=access, action="case.service")
    _require_open_in(case, {"intervensi", "resosialisasi", "bimbingan_lanjut"}, "Layanan")
    _require_not_withdrawn(uow.session, case, "assessment")
    service = ServiceDelivery(case_id=case.id, component=data["component"], delivered_on=data["delivered_on"],
                              description=data["description"], worker=data["worker"], recorded_at=now())
    uow.session.add(service)
    uow.session.flush()
    _history(uow.session, case, access, "service", component=data["component"],
             delivered_on=data["delivered_on"].isoformat(), worker=data["worker"])
    return service


def request_closure(uow, case_id: str, data: dict, *, access: Access) -> Case:
    case = get_case(uow, case_id, access=access, action="case.closure_request", for_update=True)
    if case.status != "open":
        raise Refused("case_not_open", "Hanya kasus terbuka yang dapat diajukan penutupan.")
    case.status, case.closure_reason, case.closure_outcome = "closure_requested", data["reason"], data["outcome"]
    case.closure_requested_by = access.principal.actor
    _history(uow.session, case, access, "closure_requested", reason=data["reason"], outcome=data["outcome"])
    return case


def decide_closure(uow, case_id: str, data: dict, *, office: Office, access: Access) -> Case:
    """A supervisor approves (case goes to terminasi) or rejects (case stays open)."""
    case = get_case(uow, case_id, access=access, action="case.closure_decision", for_update=True)
    if case.status != "closure_requested":
        raise Refused("no_closure_request", "Tidak ada pengajuan penutupan untuk kasus ini.")
    if case.closure_requested_by == access.principal.actor:
        raise Refused("four_eyes", "Penutupan harus disetujui oleh orang lain, bukan pengaju.")
    if not data["approve"]:
        case.status, case.closure_reason, case.closure_outcome = "open", None, None
        _history(uow.session, case, access, "closure_rejected", note=data.get("note"))
        return case
    stage_before = case.stage
    case.status, case.stage, case.closed_at = "closed", "terminasi", now()
    _history(uow.session, case, access, "closed", outcome=case.closure_outcome, reason=case.closure_reason,
             note=data.get("note"))
    uow.emit(make_event("case.closed", {"case_id": case.id, "outcome": case.closure_outcome,
                                        "stage_before": stage_before}, node=office.node, service=SERVICE))
    return case


def reopen_case(uow, case_id: str, data: dict, *, office: Office, access: Access) -> Case:
    case = get_case(uow, case_id, access=access, action="case.reopen", for_update=True)
    if case.status != "closed":
        raise Refused("case_not_closed", "Hanya kasus yang sudah ditutup yang dapat dibuka kembali.")
    case.status, case.stage, case.closed_at = "open", "asesmen", None
    case.closure_reason = case.closure_outcome = case.closure_requested_by = None
    case.reopen_count += 1
    _history(uow.session, case, access, "reopened", reason=data["reason"], stage=case.stage)
    uow.emit(make_event("case.reopened", {"case_id": case.id, "stage": case.stage}, node=office.node, service=SERVICE))
    return case


def timeline(uow, case_id: str, *, access: Access) -> list[CaseHistory]:
    get_case(uow, case_id, access=access, action="case.timeline")
    return list(uow.session.scalars(sa.select(CaseHistory).where(CaseHistory.case_id == case_id)
                                    .order_by(CaseHistory.id)))


# -- referral --------------------------------------------------------------------------------------
def request_referral(uow, case_id: str, data: dict, *, office: Office, access: Access,
                     may_override: bool) -> Referral:
    """Refer the case to a facility of any node; needs consent for referral, or a recorded override."""
    case = get_case(uow, case_id, access=access, action="case.referral", for_update=True)
    if case.status != "open":
        raise Refused("case_not_open", "Hanya kasus terbuka yang dapat dirujuk.")
    consent = consent_status(uow.session, case.person_id, "referral")
    override = data.get("consent_override")
    if consent == "withdrawn":
        raise Refused("consent_withdrawn", "Persetujuan untuk rujukan telah dicabut; rujukan tidak dapat dibuat.")
    if consent != "given":
        if not override:
            raise Refused("consent_missing", "Rujukan memerlukan persetujuan, atau alasan pengecualian dari supervisor.",
                          {"consent_override": ["Wajib diisi bila tidak ada persetujuan."]})
        if not may_override:
            raise Refused("override_not_allowed", "Hanya supervisor yang dapat merujuk tanpa persetujuan.")
    referral = Referral(id=str(uuid.uuid4()), case_id=case.id, facility_id=data["facility_id"],
                        facility_node=data["facility_node"], status="requested",
                        consent_override=override if consent != "given" else None,
                        requested_by=access.principal.actor, requested_at=now())
    uow.session.add(referral)
    _history(uow.session, case, access, "referral_requested", referral_id=referral.id,
             facility_id=referral.facility_id, facility_node=referral.facility_node,
             consent_override=referral.consent_override)
    person = case.person
    uow.emit(make_event("referral.requested", {
        "referral_id": referral.id, "case_id": case.id, "facility_id": referral.facility_id,
        "facility_node": referral.facility_node, "person_key": person.person_key, "category": case.category,
        "sex": person.sex, "age_band": _person_age_band(person, date.today()),
        "consent_override": referral.consent_override is not None}, node=office.node, service=SERVICE),
        target=referral.facility_node)
    return referral


def apply_referral_answer(uow, event, node: str) -> None:
    """The facility's node answered a referral of ours; the case moves with it.

    Only the node the referral went to may answer it. Admission puts the person into
    intervention (inside the panti); discharge into resocialisation.
    """
    payload = event.payload
    referral = uow.session.get(Referral, str(payload["referral_id"]))
    if referral is None or referral.case_id != str(payload["case_id"]) or payload["referring_node"] != node:
        raise RefusedEvent(f"{event.event_type} for unknown referral {payload['referral_id']}")
    if event.node != referral.facility_node:
        raise RefusedEvent(f"{event.event_type} from node {event.node}; the referral went to {referral.facility_node}")
    case = uow.session.get(Case, referral.case_id)
    referral.status, referral.answered_at = registry.REFERRAL_ANSWERS[event.event_type], now()
    referral.answer_note = payload.get("reason")
    access = Access(Principal(0, f"fasilitas {payload['facility_id']} (node {event.node})", "system", event.node),
                    "jawaban rujukan")
    _history(uow.session, case, access, event.event_type.replace(".", "_"), referral_id=referral.id,
             facility_id=referral.facility_id, **{k: str(v) for k, v in payload.items()
                                                  if k in ("reason", "reserved_until", "position", "admitted_on",
                                                           "discharged_on", "outcome")})
    target = {"admission.recorded": "intervensi", "discharge.recorded": "resosialisasi"}.get(event.event_type)
    order = STAGES.index
    if target and case.status == "open" and order(case.stage) < order(target):
        previous, case.stage = case.stage, target
        _history(uow.session, case, access, "stage_changed", from_stage=previous, to_stage=target)
        uow.emit(make_event("case.stage_changed", {"case_id": case.id, "from_stage": previous, "to_stage": target},
                            node=node, service=SERVICE))


# -- search and audit ------------------------------------------------------------------------------
# Stages sort in the order of rehabilitation, not alphabetically.
_STAGE_ORDER = sa.case({code: i for i, code in enumerate(STAGES)}, value=Case.stage)
_SORTS = {"registered_at": Case.registered_at, "name": Person.name_key, "stage": _STAGE_ORDER}


def search_cases(uow, query: dict, *, access: Access) -> dict:
    """Filter, sort and page the node's cases; the search itself is audit-logged (it shows names)."""
    conditions = []
    for column in ("category", "stage", "status", "kecamatan", "worker"):
        if query.get(column):
            conditions.append(getattr(Case, column) == query[column])
    if query.get("registered_from"):
        conditions.append(Case.registered_at >= datetime.combine(query["registered_from"], datetime.min.time(),
                                                                 timezone.utc))
    if query.get("registered_to"):
        conditions.append(Case.registered_at < datetime.combine(query["registered_to"], datetime.max.time(),
                                                                timezone.utc))
    if query.get("q"):
        key = name_key(query["q"])  # letters only, so no LIKE wildcards get through
        conditions.append(Person.name_key.like(f"%{key}%") if key else sa.false())
    base = sa.select(Case.id).join(Person, Case.person_id == Person.id).where(*conditions)
    total = uow.session.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    sort = query.get("sort", "-registered_at")
    column = _SORTS[sort.lstrip("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    page, per_page = query.get("page", 1), query.get("per_page", 20)
    rows = uow.session.execute(
        sa.select(Case.id, Case.category, Case.stage, Case.status, Case.kecamatan, Case.worker, Case.registered_at,
                  Person.id.label("person_id"), Person.name.label("person_name"), Person.registration_no)
        .join(Person, Case.person_id == Person.id).where(*conditions)
        .order_by(order, Case.id).limit(per_page).offset((page - 1) * per_page)).all()
    audit(uow, access, "case.search", "case", "*")
    return {"items": [dict(r._mapping) for r in rows], "page": page, "per_page": per_page, "total": total}


def query_audit(session, query: dict) -> list[AuditEntry]:
    conditions = [getattr(AuditEntry, k) == query[k] for k in ("actor", "record_id", "action") if query.get(k)]
    if query.get("since"):
        conditions.append(AuditEntry.at >= query["since"])
    page, per_page = query.get("page", 1), query.get("per_page", 50)
    return list(session.scalars(sa.select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
                                .limit(per_page).offset((page - 1) * per_page)))


def reference_lists() -> dict:
    from intake.schemas import CONSENT_PURPOSES, LEGAL_BASES

    return {
        "ppks_categories": {"version": REFERENCE_VERSION, "items": [
            {"code": c.code, "no": c.no, "name": c.name_id, "group": c.group}
            for c in reference.PPKS_CATEGORIES.values()]},
        "disability_types": [{"code": code, "name": d["name_id"], "parent": d["parent"] or None}
                             for code, d in reference.DISABILITY_TYPES.items()],
        "stages": [{"code": st["code"], "order": int(st["order"]), "name": st["name_id"],
                    "next": sorted(TRANSITIONS[st["code"]])} for st in reference.REHAB_STAGES],
        "atensi_components": [{"code": code, "name": name} for code, name in reference.ATENSI_COMPONENTS.items()],
        "regions": [{"code": r.code, "name": r.name, "kind": r.kind} for r in reference.REGIONS.values()],
        "consent_purposes": list(CONSENT_PURPOSES),
        "legal_bases": list(LEGAL_BASES),
    }


# -- views -----------------------------------------------------------------------------------------
def person_view(person: Person) -> dict:
    view = {c: getattr(person, c) for c in ("id", "registration_no", "name", "nik", "sex", "birth_date",
                                            "birth_year_estimated", "regency", "kecamatan", "desa", "address",
                                            "phone", "guardian_name", "guardian_relationship", "guardian_phone",
                                            "merged_into")}
    view["categories"] = sorted(c.category for c in person.categories)
    view["disabilities"] = sorted(d.disability for d in person.disabilities)
    return view


def case_view(case: Case, node: str) -> dict:
    view = {c: getattr(case, c) for c in ("id", "category", "regency", "kecamatan", "stage", "status", "worker",
                                          "registered_at", "closure_reason", "closure_outcome", "closed_at",
                                          "reopen_count")}
    view.update(node=node, category_name=reference.PPKS_CATEGORIES[case.category].name_id,
                regency_name=reference.region_name(case.regency), person=person_view(case.person))
    return view
