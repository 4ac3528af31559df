"""Referrals (rujukan) to a facility of any node, and the facility node's answers to them."""
from __future__ import annotations

import uuid
from datetime import date

from intake.domain.cases import STAGES, get_case, record_history
from intake.domain.common import SERVICE, Access, Office
from intake.domain.consent import consent_status
from intake.domain.persons import age_band_of
from intake.models import Case, Referral
from rehsos import registry
from rehsos.auth import Principal
from rehsos.clock import now
from rehsos.contracts import make_event
from rehsos.errors import Refused, RefusedEvent


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
    record_history(uow.session, case, access, event.event_type.replace(".", "_"), referral_id=referral.id,
             facility_id=referral.facility_id, **{k: str(v) for k, v in payload.items()
                                                  if k in ("reason", "reserved_until", "position", "admitted_on",
                                                           "discharged_on", "outcome")})
    target = {"admission.recorded": "intervensi", "discharge.recorded": "resosialisasi"}.get(event.event_type)
    order = STAGES.index
    if target and case.status == "open" and order(case.stage) < order(target):
        previous, case.stage = case.stage, target
        record_history(uow.session, case, access, "stage_changed", from_stage=previous, to_stage=target)
        uow.emit(make_event("case.stage_changed", {"case_id": case.id, "from_stage": previous, "to_stage": target},
                            node=node, service=SERVICE))

