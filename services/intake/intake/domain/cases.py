"""Cases (kasus PPKS) and their rehabilitation stages, from first approach to aftercare:
opening, stage moves, assessment, plan, services delivered, closure with four eyes, reopening."""
from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa

from intake.domain.common import REFERENCE_VERSION, SERVICE, Access, Office, audit
from intake.domain.consent import consent_status
from intake.domain.persons import age_band_of, kecamatan_view, person_view, register_person
from intake.models import Assessment, Case, CaseHistory, InterventionPlan, Person, PersonCategory, ServiceDelivery
from rehsos import auth, reference
from rehsos.clock import now
from rehsos.contracts import make_event
from rehsos.errors import NotFound, Refused

STAGES = list(reference.STAGES)
FIRST_STAGE = STAGES[0]  # pendekatan_awal

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


def record_history(session, case: Case, access: Access, kind: str, **detail) -> None:
    """One entry in the case's timeline; empty details are left out."""
    session.add(CaseHistory(case=case, case_id=case.id, at=now(), actor=access.principal.actor, kind=kind,
                            detail={k: v for k, v in detail.items() if v is not None}))


def open_case(uow, person: Person, data: dict, *, office: Office, access: Access, today: date | None = None) -> Case:
    """Open a case for a registered person; emits ``case.opened``."""
    today = today or date.today()
    if person.merged_into:
        raise Refused("merged", f"Orang ini sudah digabung ke {person.merged_into}.")
    if data["category"] not in {c.category for c in person.categories}:
        person.categories.append(PersonCategory(category=data["category"], reference_version=REFERENCE_VERSION))
    case = Case(id=str(uuid.uuid4()), person=person, category=data["category"], regency=person.regency,
                kecamatan=person.kecamatan, kecamatan_legacy=person.kecamatan_legacy, stage=FIRST_STAGE,
                status="open", worker=data.get("worker"), registered_at=now(), registered_by=access.principal.actor,
                reopen_count=0)
    uow.session.add(case)
    record_history(uow.session, case, access, "opened", category=case.category, stage=case.stage, worker=case.worker)
    audit(uow, access, "case.open", "case", case.id)
    uow.emit(make_event("case.opened", {
        "case_id": case.id, "person_key": person.person_key, "age_band": age_band_of(person, today),
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
        # Two workers moving one case wait for each other (PostgreSQL). Only the case row: its
        # eagerly joined relations sit on the nullable side of an outer join, which cannot be locked.
        query = query.with_for_update(of=Case)
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
    record_history(uow.session, case, access, "stage_changed", from_stage=previous, to_stage=to_stage, note=note)
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
    record_history(uow.session, case, access, "assessment", risk_level=data["risk_level"], needs=sorted(data["needs"]))
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
    record_history(uow.session, case, access, "plan", components=data["components"], worker=data["responsible_worker"])
    return plan


def record_service(uow, case_id: str, data: dict, *, access: Access) -> ServiceDelivery:
    case = get_case(uow, case_id, access=access, action="case.service")
    _require_open_in(case, {"intervensi", "resosialisasi", "bimbingan_lanjut"}, "Layanan")
    _require_not_withdrawn(uow.session, case, "assessment")
    service = ServiceDelivery(case_id=case.id, component=data["component"], delivered_on=data["delivered_on"],
                              description=data["description"], worker=data["worker"], recorded_at=now())
    uow.session.add(service)
    uow.session.flush()
    record_history(uow.session, case, access, "service", component=data["component"],
             delivered_on=data["delivered_on"].isoformat(), worker=data["worker"])
    return service


def request_closure(uow, case_id: str, data: dict, *, access: Access) -> Case:
    case = get_case(uow, case_id, access=access, action="case.closure_request", for_update=True)
    if case.status != "open":
        raise Refused("case_not_open", "Hanya kasus terbuka yang dapat diajukan penutupan.")
    case.status, case.closure_reason, case.closure_outcome = "closure_requested", data["reason"], data["outcome"]
    case.closure_requested_by = access.principal.actor
    record_history(uow.session, case, access, "closure_requested", reason=data["reason"], outcome=data["outcome"])
    return case


def decide_closure(uow, case_id: str, data: dict, *, office: Office, access: Access) -> Case:
    """A supervisor approves (case goes to terminasi) or rejects (case stays open)."""
    case = get_case(uow, case_id, access=access, action="case.closure_decision", for_update=True)
    if case.status != "closure_requested":
        raise Refused("no_closure_request", "Tidak ada pengajuan penutupan untuk kasus ini.")
    # Four eyes are two people: another token of the same user is still the same person.
    if auth.user_of(case.closure_requested_by) == auth.user_of(access.principal.actor):
        raise Refused("four_eyes", "Penutupan harus disetujui oleh orang lain, bukan pengaju.")
    if not data["approve"]:
        case.status, case.closure_reason, case.closure_outcome = "open", None, None
        record_history(uow.session, case, access, "closure_rejected", note=data.get("note"))
        return case
    stage_before = case.stage
    case.status, case.stage, case.closed_at = "closed", "terminasi", now()
    record_history(uow.session, case, access, "closed", outcome=case.closure_outcome, reason=case.closure_reason,
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
    record_history(uow.session, case, access, "reopened", reason=data["reason"], stage=case.stage)
    uow.emit(make_event("case.reopened", {"case_id": case.id, "stage": case.stage}, node=office.node, service=SERVICE))
    return case


def timeline(uow, case_id: str, *, access: Access) -> list[CaseHistory]:
    get_case(uow, case_id, access=access, action="case.timeline")
    return list(uow.session.scalars(sa.select(CaseHistory).where(CaseHistory.case_id == case_id)
                                    .order_by(CaseHistory.id)))



def case_view(case: Case, node: str) -> dict:
    view = {c: getattr(case, c) for c in ("id", "category", "regency", "stage", "status", "worker",
                                          "registered_at", "closure_reason", "closure_outcome", "closed_at",
                                          "reopen_count")}
    view.update(kecamatan_view(case))
    view.update(node=node, category_name=reference.PPKS_CATEGORIES[case.category].name_id,
                regency_name=reference.region_name(case.regency), person=person_view(case.person))
    return view
