"""Facilities of a node: the registry, referrals at the facility, beds, the province-wide
directory and planned centres.

Plain functions on a unit of work. Occupancy is never typed in: it follows from reservations,
admissions and discharges (the referral flow), so the registry holds capacity per unit only.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import object_session

from facilities.models import (AuditEntry, CentrePlan, DirectoryEntry, Facility, FacilityUnit, ReferralDossier,
                               ReferralRequest)
from rehsos import jurisdiction, reference, sealing
from rehsos.auth import Principal
from rehsos.clock import now
from rehsos.config import HUB
from rehsos.errors import Gone, Invalid, NotFound, Refused, RefusedEvent
from rehsos.contracts import make_event
from rehsos.contracts.events import DossierV1

SERVICE = "facilities"
SYSTEM = "sistem"  # the actor of what this node does by itself (a lapsed reservation, an event)
_COLUMNS = ("name", "kind", "owner", "owner_name", "regency", "address", "categories", "disability_types", "status",
            "contact_person", "contact_phone", "contact_email")


def _event(uow, event_type: str, facility: Facility, node: str) -> None:
    uow.emit(make_event(event_type, {
        "facility_id": facility.code, "name": facility.name, "kind": facility.kind, "owner": facility.owner,
        "regency": facility.regency, "categories": facility.categories, "disability_types": facility.disability_types,
        "status": facility.status, "demo": facility.demo,
        "units": [{"name": u.name, "sex": u.sex, "capacity": u.capacity} for u in facility.units]},
        node=node, service=SERVICE))


def register_facility(uow, data: dict, *, node: str) -> Facility:
    jurisdiction.require_for_request(node, data["regency"], "fasilitas")
    if uow.session.get(Facility, data["code"]) is not None:
        raise Refused("duplicate_code", f"Kode fasilitas {data['code']} sudah terdaftar.", {"code": ["Sudah dipakai."]})
    facility = Facility(code=data["code"], demo=data.get("demo", False), created_at=now(),
                        **{c: data.get(c) for c in _COLUMNS if c not in ("disability_types", "status")},
                        disability_types=data.get("disability_types") or [], status=data.get("status") or "operational",
                        units=[FacilityUnit(**u) for u in data["units"]])
    uow.session.add(facility)
    uow.session.flush()
    _event(uow, "facility.registered", facility, node)
    snapshot(uow, facility, node)
    return facility


def get_facility(session, code: str) -> Facility:
    facility = session.get(Facility, code)
    if facility is None:
        raise NotFound("Fasilitas tidak ditemukan.")
    return facility


def update_facility(uow, code: str, data: dict, *, node: str) -> Facility:
    facility = get_facility(uow.session, code)
    if "regency" in data:
        jurisdiction.require_for_request(node, data["regency"], "fasilitas")
    for column in _COLUMNS:
        if column in data:
            setattr(facility, column, data[column])
    if "units" in data:
        _check_units_keep_their_people(uow.session, facility, data["units"])
        facility.units = [FacilityUnit(**u) for u in data["units"]]
    facility.updated_at = now()
    uow.session.flush()
    _event(uow, "facility.updated", facility, node)
    snapshot(uow, facility, node)
    return facility


def _check_units_keep_their_people(session, facility: Facility, units: list[dict]) -> None:
    """A ward with people in it (or beds reserved) cannot vanish, shrink below them, or change sex."""
    new = {u["name"]: u for u in units}
    # Lock the units first, as accepts and admissions do, so no bed is taken while we compare.
    session.execute(sa.select(FacilityUnit).where(FacilityUnit.facility_code == facility.code).with_for_update())
    problems = []
    for unit in occupancy(session, facility):
        if not unit["occupied"]:
            continue
        after = new.get(unit["unit"])
        if after is None:
            problems.append(f"Unit {unit['unit']} masih terisi {unit['occupied']} orang; tidak dapat dihapus.")
        elif after["capacity"] < unit["occupied"]:
            problems.append(f"Unit {unit['unit']} masih terisi {unit['occupied']} orang; kapasitas tidak dapat "
                            f"kurang dari itu.")
        elif after["sex"] != unit["sex"]:
            problems.append(f"Unit {unit['unit']} masih terisi; jenis kelamin unit tidak dapat diubah.")
    if problems:
        raise Refused("unit_occupied", " ".join(problems), {"units": problems})


def list_facilities(session, query: dict) -> list[Facility]:
    conditions = [getattr(Facility, k) == query[k] for k in ("regency", "kind") if query.get(k)]
    facilities = session.scalars(sa.select(Facility).where(*conditions).order_by(Facility.regency, Facility.name))
    if query.get("category"):
        return [fac for fac in facilities if query["category"] in fac.categories]
    return list(facilities)


def facility_view(facility: Facility, node: str) -> dict:
    session = object_session(facility)
    beds = occupancy(session, facility)
    free = sum(u["free"] for u in beds)
    view = {c: getattr(facility, c) for c in ("code",) + _COLUMNS + ("demo",)}
    view.update(node=node, regency_name=reference.region_name(facility.regency),
                capacity=sum(u.capacity for u in facility.units),
                occupied=sum(u["occupied"] for u in beds), free=free,
                # "full" follows from occupancy, never typed in: status says only whether it operates.
                full=facility.status == "operational" and free == 0,
                waitlisted=waitlist_length(session, facility.code),
                units=[{"name": u.name, "sex": u.sex, "capacity": u.capacity} for u in facility.units])
    return view


def waitlist_length(session, facility_code: str) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(ReferralRequest).where(
        ReferralRequest.facility_code == facility_code, ReferralRequest.status == "waitlisted")).scalar_one()


def waitlist_positions(session, facility_code: str) -> dict[str, int]:
    """Each waitlisted referral's place in its facility's queue now: first waitlisted, first."""
    ids = session.scalars(sa.select(ReferralRequest.referral_id).where(
        ReferralRequest.facility_code == facility_code, ReferralRequest.status == "waitlisted")
        .order_by(ReferralRequest.decided_at, ReferralRequest.received_at))
    return {referral_id: place for place, referral_id in enumerate(ids, start=1)}


# -- referrals (facility side) ----------------------------------------------------------------------
RESERVATION_DAYS = 3


def receive_referral(uow, event, node: str) -> None:
    """``referral.requested`` addressed to this node: it waits for the facility manager."""
    payload = event.payload
    if event.node == HUB or payload["facility_node"] != node:
        raise RefusedEvent(f"referral for node {payload['facility_node']} from {event.node} reached node {node}")
    facility = uow.session.get(Facility, payload["facility_id"])
    status, code = ("requested", None) if facility else ("rejected", "unknown_facility")
    referral = ReferralRequest(
        referral_id=str(payload["referral_id"]), case_id=str(payload["case_id"]), referring_node=event.node,
        facility_code=payload["facility_id"] if facility else None, person_key=payload["person_key"],
        category=payload["category"], sex=payload["sex"], age_band=payload["age_band"],
        consent_override=payload["consent_override"], status=status, reason_code=code, received_at=now())
    uow.session.add(referral)
    if facility is None:  # answer at once: the referring office must not wait for nobody
        _answer(uow, referral, "referral.rejected", node, reason_code=code, facility_id=payload["facility_id"])


def _answer(uow, referral: ReferralRequest, event_type: str, node: str, facility_id: str | None = None, **extra):
    uow.emit(make_event(event_type, {"referral_id": referral.referral_id, "case_id": referral.case_id,
                                     "referring_node": referral.referring_node,
                                     "facility_id": facility_id or referral.facility_code, **extra},
                        node=node, service=SERVICE), target=referral.referring_node)


def taken_beds(session, facility_code: str, at: datetime, unit_name: str | None = None) -> dict[str, int]:
    """Beds taken per unit: admitted persons and unexpired reservations. Never typed in."""
    r = ReferralRequest
    query = (sa.select(r.unit_name, sa.func.count()).where(
        r.facility_code == facility_code,
        sa.or_(r.status == "admitted", sa.and_(r.status == "accepted", r.reserved_until > at)))
        .group_by(r.unit_name))
    if unit_name is not None:
        query = query.where(r.unit_name == unit_name)
    return dict(session.execute(query).all())


def _referral(session, referral_id: str, for_update: bool = False) -> ReferralRequest:
    query = sa.select(ReferralRequest).where(ReferralRequest.referral_id == referral_id)
    referral = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if referral is None or referral.facility_code is None:
        raise NotFound("Rujukan tidak ditemukan.")
    return referral


def get_referral(session, referral_id: str) -> ReferralRequest:
    return _referral(session, referral_id)


def units_with_a_free_bed(session, referral: ReferralRequest) -> list[dict]:
    """The units of the referral's facility that could take the person now (their sex, a bed free)."""
    beds = occupancy(session, get_facility(session, referral.facility_code))
    return [u for u in beds if u["sex"] in (referral.sex, "mixed") and u["free"] > 0]


def _take_bed(session, referral: ReferralRequest, unit_name: str, at: datetime) -> None:
    # The unit row is locked first (PostgreSQL), so concurrent accepts and admissions for one
    # unit count and book one after another: no overbooking.
    unit = session.execute(sa.select(FacilityUnit).where(
        FacilityUnit.facility_code == referral.facility_code, FacilityUnit.name == unit_name).with_for_update()
    ).scalar_one_or_none()
    if unit is None:
        raise Invalid({"unit": [f"Unit {unit_name} tidak ada di fasilitas ini."]})
    if unit.sex != "mixed" and unit.sex != referral.sex:
        raise Invalid({"unit": [f"Unit {unit_name} untuk {unit.sex}, bukan {referral.sex}."]})
    if taken_beds(session, referral.facility_code, at, unit_name).get(unit_name, 0) >= unit.capacity:
        raise Refused("no_free_bed", f"Tidak ada tempat tidur kosong di unit {unit_name}.")


def decide_referral(uow, referral_id: str, decision: str, data: dict, *, node: str, actor: str) -> ReferralRequest:
    """The manager accepts (a bed reserved until an expiry), rejects with a reason, or waitlists."""
    session = uow.session
    referral = _referral(session, referral_id, for_update=True)
    # A waitlisted referral can still be accepted or rejected, but not waitlisted again.
    if referral.status not in (("requested",) if decision == "waitlist" else ("requested", "waitlisted")):
        raise Refused("already_decided", f"Rujukan ini sudah berstatus {referral.status}.")
    at = now()
    if decision == "accept":
        _take_bed(session, referral, data["unit"], at)
        referral.status, referral.unit_name = "accepted", data["unit"]
        referral.reserved_until = at + timedelta(days=data.get("reserved_days") or RESERVATION_DAYS)
        _answer(uow, referral, "referral.accepted", node, reserved_until=referral.reserved_until)
    elif decision == "reject":
        referral.status, referral.reason_code, referral.reason = "rejected", data["reason_code"], data.get("note")
        _answer(uow, referral, "referral.rejected", node, reason_code=referral.reason_code)
        delete_dossier(uow, referral.referral_id, "rejected", actor=actor)
    else:
        position = 1 + waitlist_length(session, referral.facility_code)
        referral.status = "waitlisted"
        _answer(uow, referral, "referral.waitlisted", node, position=position)
    referral.decided_at, referral.decided_by = at, actor
    session.flush()
    if decision == "accept":
        snapshot(uow, session.get(Facility, referral.facility_code), node)
    return referral


def admit(uow, referral_id: str, data: dict, *, node: str) -> ReferralRequest:
    """The person arrived: the reservation becomes an admission (a bed is taken if none was held)."""
    session = uow.session
    referral = _referral(session, referral_id, for_update=True)
    at = now()
    held = referral.status == "accepted" and referral.reserved_until > at
    unit = data.get("unit") or referral.unit_name
    if held and unit != referral.unit_name:
        raise Invalid({"unit": [f"Tempat tidur sudah dipesan di unit {referral.unit_name}; catat masuk di unit itu."]})
    if not held:
        if referral.status == "expired":
            raise Refused("reservation_expired", "Reservasi sudah kedaluwarsa dan kantor perujuk sudah diberi tahu; "
                                                 "minta kantor perujuk merujuk ulang.")
        if referral.status not in ("accepted", "waitlisted", "requested"):
            raise Refused("not_admissible", f"Rujukan berstatus {referral.status} tidak dapat dicatat masuk.")
        if not unit:
            raise Invalid({"unit": ["Belum ada tempat tidur yang dipesan untuk rujukan ini: pilih unitnya."]})
        _take_bed(session, referral, unit, at)
        referral.unit_name = unit
    referral.status, referral.admitted_on = "admitted", data["admitted_on"]
    _answer(uow, referral, "admission.recorded", node, admitted_on=data["admitted_on"])
    session.flush()
    snapshot(uow, session.get(Facility, referral.facility_code), node)
    return referral


def discharge(uow, referral_id: str, data: dict, *, node: str, actor: str = SYSTEM) -> ReferralRequest:
    referral = _referral(uow.session, referral_id, for_update=True)
    if referral.status != "admitted":
        raise Refused("not_admitted", "Hanya penghuni yang sudah masuk yang dapat dikeluarkan.")
    if data["discharged_on"] < referral.admitted_on:
        raise Invalid({"discharged_on": [f"Tanggal keluar tidak boleh sebelum tanggal masuk "
                                         f"({referral.admitted_on:%d-%m-%Y})."]})
    referral.status, referral.discharged_on, referral.outcome = "discharged", data["discharged_on"], data["outcome"]
    _answer(uow, referral, "discharge.recorded", node, discharged_on=data["discharged_on"], outcome=data["outcome"])
    delete_dossier(uow, referral.referral_id, "discharged", actor=actor)
    uow.session.flush()
    snapshot(uow, uow.session.get(Facility, referral.facility_code), node)
    return referral


def expire_reservations(uow, *, node: str) -> int:
    """Reservations nobody came for lapse: the bed is free again (a new snapshot goes out) and
    the referring office hears ``referral.rejected`` with the reason, so it can refer again."""
    session, at = uow.session, now()
    # SKIP LOCKED: a reservation being admitted right now is the admission's, not ours.
    lapsed = list(session.scalars(sa.select(ReferralRequest).where(
        ReferralRequest.status == "accepted", ReferralRequest.reserved_until <= at)
        .with_for_update(skip_locked=True)))
    for referral in lapsed:
        referral.status, referral.reason_code = "expired", "reservation_expired"
        referral.reason = f"Reservasi sampai {referral.reserved_until:%d-%m-%Y %H:%M} UTC; orang yang dirujuk belum datang."
        _answer(uow, referral, "referral.rejected", node, reason_code=referral.reason_code)
        delete_dossier(uow, referral.referral_id, "expired")
    session.flush()
    for code in sorted({r.facility_code for r in lapsed}):
        snapshot(uow, session.get(Facility, code), node)
    return len(lapsed)


def list_referrals(session, facility_code: str | None, status: str | None) -> list[ReferralRequest]:
    conditions = [ReferralRequest.facility_code.is_not(None)]
    if facility_code:
        conditions.append(ReferralRequest.facility_code == facility_code)
    if status:
        conditions.append(ReferralRequest.status == status)
    return list(session.scalars(sa.select(ReferralRequest).where(*conditions).order_by(ReferralRequest.received_at)))


# -- the dossier of a referred person (issue 13) -----------------------------------------------------
# The panti keeps the dossier while the person may come or is there: to recognise them at the door,
# to reach the guardian, to plan services from the assessment. A rejected or lapsed referral, or a
# withdrawal of consent, ends that need at once; so does discharge: the referring office follows the
# person again (resocialisation) and holds the record, and the panti's own file of its resident
# holds what the panti itself wrote.
DOSSIER_KEPT = ("requested", "waitlisted", "accepted", "admitted")
DELETED_BECAUSE = {"rejected": "rujukan ditolak", "expired": "reservasi tempat tidur kedaluwarsa",
                   "consent_withdrawn": "persetujuan rujukan dicabut", "discharged": "penerima manfaat sudah keluar"}


def audit(uow, action: str, referral_id: str, purpose: str, outcome: str = "ok", *, actor: str = SYSTEM,
          role: str = "system") -> None:
    """Log an access to a dossier (never its values); kept, marked ``refused``, when the
    request then fails (the kernel's durable add, as intake's audit)."""
    def refused(entry: AuditEntry) -> None:
        if entry.outcome == "ok":
            entry.outcome = "refused"
    uow.add_durable(AuditEntry(at=now(), actor=actor, role=role, action=action,
                               record_type="referral_dossier", record_id=referral_id, purpose=purpose[:255],
                               outcome=outcome), on_rollback=refused)


def receive_dossier(uow, event, node: str, private_key: str | None) -> None:
    """``referral.dossier_sent`` addressed to this node: kept sealed, once this node's key opens it
    and it is a dossier of that referral. It is opened here only to check it; nothing opened is kept."""
    payload, referral_id = event.payload, str(event.payload["referral_id"])
    if payload["facility_node"] != node:
        raise RefusedEvent(f"dossier for node {payload['facility_node']} reached node {node}")
    referral = uow.session.get(ReferralRequest, referral_id)
    if referral is None:  # both left the referring node together; this one overtook the referral: retried
        raise LookupError(f"the dossier of referral {referral_id} arrived before the referral")
    if referral.referring_node != event.node:
        raise RefusedEvent(f"dossier of referral {referral_id} from node {event.node}; the referral came from "
                           f"{referral.referring_node}")
    if private_key is None:
        raise RefusedEvent(f"node {node} has no dossier_private_key: it cannot receive the dossier of referral "
                           f"{referral_id}")
    existing = uow.session.get(ReferralDossier, referral_id)
    if existing is not None and existing.deleted_reason == "consent_withdrawn" and existing.sealed is None:
        return  # consent was withdrawn while this was on its way: it is not kept
    if existing is not None:
        raise RefusedEvent(f"a second dossier for referral {referral_id}")
    try:
        document = sealing.open_sealed(private_key, payload["sealed"])
    except sealing.SealError as exc:
        raise RefusedEvent(f"dossier of referral {referral_id}: {exc}") from None
    errors = DossierV1().validate(document)
    if errors or document["referral_id"] != referral_id:  # the field names, never the values
        raise RefusedEvent(f"dossier of referral {referral_id} is not one: fields {sorted(errors) or ['referral_id']}")
    del document
    uow.session.add(ReferralDossier(referral_id=referral_id, referring_node=event.node, sealed=payload["sealed"],
                                    received_at=now()))
    audit(uow, "dossier.received", referral_id, f"rujukan dari node {event.node}")
    if referral.status not in DOSSIER_KEPT:  # already rejected (an unknown facility) or over
        uow.session.flush()
        delete_dossier(uow, referral_id, "expired" if referral.status == "expired" else "rejected")


def delete_dossier(uow, referral_id: str, reason: str, actor: str = SYSTEM) -> bool:
    """Wipe the dossier's contents; the row (when, why) and the audit entries stay. The system
    deletes it, as a consequence of what ``actor`` did (a rejection) or of an event."""
    dossier = uow.session.get(ReferralDossier, referral_id)
    if dossier is None or dossier.sealed is None:
        return False
    dossier.sealed, dossier.deleted_at, dossier.deleted_reason = None, now(), reason
    audit(uow, "dossier.deleted", referral_id, DELETED_BECAUSE[reason], actor=actor)
    return True


def withdraw_dossier(uow, event, node: str) -> None:
    """``referral.dossier_withdrawn``: the person withdrew consent for referral at the referring node."""
    referral_id = str(event.payload["referral_id"])
    if event.payload["facility_node"] != node:
        raise RefusedEvent(f"dossier withdrawal for node {event.payload['facility_node']} reached node {node}")
    dossier = uow.session.get(ReferralDossier, referral_id)
    if dossier is None:
        referral = uow.session.get(ReferralRequest, referral_id)
        if referral is None:
            raise LookupError(f"the withdrawal of the dossier of referral {referral_id} arrived before the referral")
        if referral.referring_node != event.node:
            raise RefusedEvent(f"dossier withdrawal for referral {referral_id} from node {event.node}, "
                               "which did not refer it")
        # Withdrawn while the dossier was still on its way: a row that says so, so it is not kept on arrival.
        uow.session.add(ReferralDossier(referral_id=referral_id, referring_node=event.node, sealed=None,
                                        received_at=now(), deleted_at=now(), deleted_reason="consent_withdrawn"))
        audit(uow, "dossier.deleted", referral_id, DELETED_BECAUSE["consent_withdrawn"])
        return
    if dossier.referring_node != event.node:
        raise RefusedEvent(f"node {event.node} withdrew the dossier of referral {referral_id}, sent by "
                           f"{dossier.referring_node}")
    delete_dossier(uow, referral_id, "consent_withdrawn")


def dossier_kept(session, referral_id: str) -> ReferralDossier | None:
    """Whether a dossier arrived and whether it is still kept (when, why not): never its contents."""
    return session.get(ReferralDossier, referral_id)


def read_dossier(uow, referral_id: str, *, principal: Principal, purpose: str, private_key: str | None) -> dict:
    """Open the dossier for a manager of this node; every attempt is audit-logged."""
    dossier = uow.session.get(ReferralDossier, referral_id)
    outcome = "not_found" if dossier is None else "deleted" if dossier.sealed is None else "ok"
    audit(uow, "dossier.read", referral_id, purpose, outcome, actor=principal.actor, role=principal.role)
    if dossier is None:
        raise NotFound("Rujukan ini tidak mempunyai dossier di node ini.")
    if dossier.sealed is None:
        raise Gone(f"Dossier rujukan ini sudah dihapus pada {dossier.deleted_at:%d-%m-%Y %H:%M} UTC "
                   f"({DELETED_BECAUSE[dossier.deleted_reason]}).")
    if private_key is None:
        raise Refused("dossier_key_missing", "Node ini tidak mempunyai kunci dossier (dossier_private_key); "
                                             "dossier tidak dapat dibuka.")
    try:
        document = sealing.open_sealed(private_key, dossier.sealed)
    except sealing.SealError:
        raise Refused("dossier_unreadable", "Dossier tidak dapat dibuka dengan kunci node ini "
                                            "(kunci node sudah diganti?).") from None
    referral = uow.session.get(ReferralRequest, referral_id)
    return {**document, "referring_node": dossier.referring_node, "received_at": dossier.received_at,
            "referral_status": referral.status if referral else None}


def occupancy(session, facility: Facility) -> list[dict]:
    taken = taken_beds(session, facility.code, now())
    return [{"unit": u.name, "sex": u.sex, "capacity": u.capacity, "occupied": taken.get(u.name, 0),
             "free": max(u.capacity - taken.get(u.name, 0), 0)} for u in facility.units]


# -- the province-wide capacity directory ------------------------------------------------------------
# Snapshots go out when beds change, so an old one may still be right; past a week (the hub's rule
# for its occupancy figures) whoever refers from it is told to check by phone.
STALE_AFTER_SECONDS = 7 * 24 * 3600

def snapshot(uow, facility: Facility, node: str) -> None:
    """Send the facility's beds to every node (``capacity.changed``, addressed to all)."""
    units = [{"name": u["unit"], "sex": u["sex"], "capacity": u["capacity"], "occupied": u["occupied"],
              "free": u["free"]} for u in occupancy(uow.session, facility)]
    uow.emit(make_event("capacity.changed", {
        "facility_id": facility.code, "name": facility.name, "kind": facility.kind, "regency": facility.regency,
        "categories": facility.categories, "disability_types": facility.disability_types, "status": facility.status,
        "units": units, "as_of": now()}, node=node, service=SERVICE), target="all")


def apply_snapshot(uow, event) -> None:
    """Keep the newest snapshot per facility; an older one arriving late changes nothing."""
    payload = event.payload
    as_of = datetime.fromisoformat(payload["as_of"])
    entry = uow.session.get(DirectoryEntry, payload["facility_id"])
    jurisdiction.require_for_event(event, payload["regency"], f"beds of facility {payload['facility_id']}")
    if entry and entry.node != event.node:  # a facility is its registering node's
        raise RefusedEvent(f"node {event.node} sent beds of facility {payload['facility_id']}, "
                           f"which belongs to node {entry.node}")
    if entry is not None and entry.as_of >= as_of:
        return
    if entry is None:
        entry = DirectoryEntry(facility_id=payload["facility_id"])
        uow.session.add(entry)
    entry.node, entry.received_at, entry.as_of = event.node, now(), as_of
    for column in ("name", "kind", "regency", "categories", "disability_types", "status", "units"):
        setattr(entry, column, payload[column])


def find_beds(session, *, category: str, sex: str, regency: str | None, node: str) -> list[dict]:
    """Which facility can take this person now: serving the category, open, with a free bed in a
    unit for their sex; same regency first, then most free beds. Answers from the last known
    snapshots, so it works while the hub is away; each answer says how old its data is."""
    at = now()
    home = regency or (None if node == reference.PROVINCE else node)
    answers = []
    for entry in session.scalars(sa.select(DirectoryEntry).where(DirectoryEntry.status == "operational")):
        if category not in entry.categories:
            continue
        free = sum(u["free"] for u in entry.units if u["sex"] in (sex, "mixed"))
        if free <= 0:
            continue
        answers.append({"facility_id": entry.facility_id, "node": entry.node, "name": entry.name, "kind": entry.kind,
                        "regency": entry.regency, "regency_name": reference.region_name(entry.regency),
                        "free_beds": free, "same_regency": entry.regency == home, "as_of": entry.as_of,
                        "age_seconds": int((at - entry.as_of).total_seconds()),
                        "stale": (at - entry.as_of).total_seconds() > STALE_AFTER_SECONDS})
    return sorted(answers, key=lambda a: (not a["same_regency"], -a["free_beds"], a["name"]))


# -- planned centres -----------------------------------------------------------------------------------
PLAN_ORDER = ("usulan", "disetujui", "dibangun", "beroperasi")


def _plan_event(uow, event_type: str, plan: CentrePlan, node: str) -> None:
    uow.emit(make_event(event_type, {c: getattr(plan, c) for c in (
        "regency", "name", "kind", "categories", "planned_capacity", "target_year", "status")} | {"plan_id": plan.id},
        node=node, service=SERVICE))


def propose_plan(uow, data: dict, *, node: str, actor: str) -> CentrePlan:
    jurisdiction.require_for_request(node, data["regency"], "fasilitas")
    plan = CentrePlan(id=str(uuid.uuid4()), status="usulan", created_by=actor, created_at=now(), **data)
    uow.session.add(plan)
    uow.session.flush()
    _plan_event(uow, "plan.proposed", plan, node)
    return plan


def get_plan(session, plan_id: str) -> CentrePlan:
    plan = session.get(CentrePlan, plan_id)
    if plan is None:
        raise NotFound("Rencana tidak ditemukan.")
    return plan


def update_plan(uow, plan_id: str, data: dict, *, node: str) -> CentrePlan:
    plan = get_plan(uow.session, plan_id)
    if "status" in data and PLAN_ORDER.index(data["status"]) < PLAN_ORDER.index(plan.status):
        raise Refused("status_backwards", f"Status rencana tidak dapat mundur dari {plan.status} ke {data['status']}.")
    for column, value in data.items():
        setattr(plan, column, value)
    plan.updated_at = now()
    _plan_event(uow, "plan.updated", plan, node)
    return plan


def list_plans(session) -> list[CentrePlan]:
    return list(session.scalars(sa.select(CentrePlan).order_by(CentrePlan.target_year, CentrePlan.regency)))


def plan_view(plan: CentrePlan) -> dict:
    return {c: getattr(plan, c) for c in ("id", "regency", "name", "kind", "categories", "planned_capacity",
                                          "target_year", "status", "note")} | {
        "regency_name": reference.region_name(plan.regency)}
