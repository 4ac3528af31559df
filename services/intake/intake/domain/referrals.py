"""Referrals (rujukan) to a facility of any node, and the facility node's answers to them."""
from __future__ import annotations

import logging
import uuid
from datetime import date

import sqlalchemy as sa

from intake.domain.cases import STAGES, get_case, record_history
from intake.domain.common import SERVICE, Access, Office
from intake.domain.consent import consent_status
from intake.domain.persons import age_band_of
from intake.models import Assessment, Case, CaseHistory, Referral
from rehsos import reference, registry, sealing
from rehsos.auth import Principal
from rehsos.clock import now
from rehsos.contracts import make_event
from rehsos.contracts.events import DossierV1
from rehsos.errors import Refused, RefusedEvent

log = logging.getLogger(__name__)


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
    record_history(uow.session, case, access, "referral_requested", referral_id=referral.id,
             facility_id=referral.facility_id, facility_node=referral.facility_node,
             consent_override=referral.consent_override)
    person = case.person
    uow.emit(make_event("referral.requested", {
        "referral_id": referral.id, "case_id": case.id, "facility_id": referral.facility_id,
        "facility_node": referral.facility_node, "person_key": person.person_key, "category": case.category,
        "sex": person.sex, "age_band": age_band_of(person, date.today()),
        "consent_override": referral.consent_override is not None}, node=office.node, service=SERVICE),
        target=referral.facility_node)
    if consent == "given":  # on an override nobody agreed to share more than category, sex and age band
        send_dossier(uow, case, referral, office=office, access=access)
    return referral


def case_referrals(session, case_id: str) -> list[Referral]:
    """The referrals of a case, newest first, each with the facility's latest answer (status, reason)."""
    return list(session.scalars(sa.select(Referral).where(Referral.case_id == case_id)
                                .order_by(Referral.requested_at.desc(), Referral.id)))


# -- the dossier: who is coming, for the receiving panti only ----------------------------------------
def dossier_of(session, case: Case, referral: Referral, today: date) -> dict:
    """What the receiving panti needs to recognise and receive the person: identity, guardian
    contact and the latest assessment (ATENSI needs, risk, recommendation)."""
    person = case.person
    assessment = session.scalars(sa.select(Assessment).where(Assessment.case_id == case.id)
                                 .order_by(Assessment.id.desc()).limit(1)).first()
    return {
        "referral_id": referral.id, "case_id": case.id, "category": case.category,
        "registration_no": person.registration_no, "name": person.name, "nik": person.nik, "sex": person.sex,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "birth_year_estimated": person.birth_year_estimated,
        "estimated_age": None if person.birth_date else today.year - person.birth_year_estimated,
        "disabilities": sorted(d.disability for d in person.disabilities),
        "guardian": {"name": person.guardian_name, "relationship": person.guardian_relationship,
                     "phone": person.guardian_phone},
        "assessment": assessment and {"needs": assessment.needs, "risk_level": assessment.risk_level,
                                      "recommendation": assessment.recommendation,
                                      "assessed_at": assessment.assessed_at.isoformat()},
    }


def send_dossier(uow, case: Case, referral: Referral, *, office: Office, access: Access) -> bool:
    """Seal the dossier for the facility's node and send it there only (a direct event, past the
    hub's consumers). Without that node's public key the referral goes on without it."""
    public_key = office.public_keys.get(referral.facility_node)
    if public_key is None:
        log.warning("referral %s: node %s has no public dossier key in node_public_keys; the referral goes "
                    "without the dossier", referral.id, referral.facility_node)
        record_history(uow.session, case, access, "dossier_not_sent", referral_id=referral.id,
                       facility_node=referral.facility_node, reason="no_public_key")
        return False
    dossier = dossier_of(uow.session, case, referral, date.today())
    if errors := DossierV1().validate(dossier):  # a producer bug: fail before anything is written
        raise ValueError(f"the dossier of referral {referral.id} breaks its contract in {sorted(errors)}")
    sealed = sealing.seal(public_key, dossier)
    uow.emit(make_event(registry.DOSSIER_SENT, {"referral_id": referral.id, "facility_node": referral.facility_node,
                                                "sealed": sealed}, node=office.node, service=SERVICE),
             target=referral.facility_node)
    record_history(uow.session, case, access, "dossier_sent", referral_id=referral.id,
                   facility_node=referral.facility_node)
    return True


def withdraw_dossiers(uow, person_id: str, *, office: Office, access: Access) -> int:
    """Consent for referral withdrawn: every facility node holding a dossier of the person is told
    to delete it. Returns how many were withdrawn."""
    entries = uow.session.execute(
        sa.select(CaseHistory.case_id, CaseHistory.kind, CaseHistory.detail).join(Case, Case.id == CaseHistory.case_id)
        .where(Case.person_id == person_id, CaseHistory.kind.in_(("dossier_sent", "dossier_withdrawn")))
        .order_by(CaseHistory.id)).all()
    held = {}  # referral id -> (case id, facility node), while its dossier is out there
    for case_id, kind, detail in entries:
        if kind == "dossier_sent":
            held[detail["referral_id"]] = (case_id, detail["facility_node"])
        else:
            held.pop(detail["referral_id"], None)
    for referral_id, (case_id, facility_node) in held.items():
        uow.emit(make_event(registry.DOSSIER_WITHDRAWN, {"referral_id": referral_id, "facility_node": facility_node},
                            node=office.node, service=SERVICE), target=facility_node)
        record_history(uow.session, uow.session.get(Case, case_id), access, "dossier_withdrawn",
                       referral_id=referral_id, facility_node=facility_node)
    return len(held)


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
    # v2 says why as a code; v1 (a node not upgraded yet) as its text.
    code = payload.get("reason_code")
    referral.answer_note = reference.REJECTION_REASONS.get(code, code) if code else payload.get("reason")
    access = Access(Principal(0, f"fasilitas {payload['facility_id']} (node {event.node})", "system", event.node),
                    "jawaban rujukan")
    record_history(uow.session, case, access, event.event_type.replace(".", "_"), referral_id=referral.id,
             facility_id=referral.facility_id, **{k: str(v) for k, v in payload.items()
                                                  if k in ("reason", "reason_code", "reserved_until", "position", "admitted_on",
                                                           "discharged_on", "outcome")})
    target = {"admission.recorded": "intervensi", "discharge.recorded": "resosialisasi"}.get(event.event_type)
    order = STAGES.index
    if target and case.status == "open" and order(case.stage) < order(target):
        previous, case.stage = case.stage, target
        record_history(uow.session, case, access, "stage_changed", from_stage=previous, to_stage=target)
        uow.emit(make_event("case.stage_changed", {"case_id": case.id, "from_stage": previous, "to_stage": target},
                            node=node, service=SERVICE))

