"""The facility registry of a node: what happens when a manager registers or changes a panti.

Plain functions on a unit of work. Occupancy is never typed in: it will follow from admissions
and discharges (the referral flow), so the registry holds capacity per unit only.
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from facilities.models import Facility, FacilityUnit
from rehsos import reference
from rehsos.contracts import make_event

SERVICE = "facilities"
_COLUMNS = ("name", "kind", "owner", "owner_name", "regency", "address", "categories", "disability_types", "status",
            "contact_person", "contact_phone", "contact_email")


class NotFound(Exception):
    pass


class Refused(Exception):
    def __init__(self, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields


class Invalid(Exception):
    def __init__(self, fields: dict):
        super().__init__(str(fields))
        self.fields = fields


def now() -> datetime:
    return datetime.now(timezone.utc)


def _check_region(node: str, regency: str) -> None:
    # A regency office registers facilities in its own regency; the province, anywhere.
    if regency not in reference.regions_served_by(node):
        raise Invalid({"regency": [f"Node {node} hanya mendaftarkan fasilitas di wilayahnya sendiri, bukan {regency}."]})


def _event(uow, event_type: str, facility: Facility, node: str) -> None:
    uow.emit(make_event(event_type, {
        "facility_id": facility.code, "name": facility.name, "kind": facility.kind, "owner": facility.owner,
        "regency": facility.regency, "categories": facility.categories, "disability_types": facility.disability_types,
        "status": facility.status, "demo": facility.demo,
        "units": [{"name": u.name, "sex": u.sex, "capacity": u.capacity} for u in facility.units]},
        node=node, service=SERVICE))


def register_facility(uow, data: dict, *, node: str, demo: bool = False) -> Facility:
    _check_region(node, data["regency"])
    if uow.session.get(Facility, data["code"]) is not None:
        raise Refused("duplicate_code", f"Kode fasilitas {data['code']} sudah terdaftar.", {"code": ["Sudah dipakai."]})
    facility = Facility(code=data["code"], demo=demo, created_at=now(),
                        **{c: data.get(c) for c in _COLUMNS if c not in ("disability_types", "status")},
                        disability_types=data.get("disability_types") or [], status=data.get("status") or "operational",
                        units=[FacilityUnit(**u) for u in data["units"]])
    uow.session.add(facility)
    uow.session.flush()
    _event(uow, "facility.registered", facility, node)
    return facility


def get_facility(session, code: str) -> Facility:
    facility = session.get(Facility, code)
    if facility is None:
        raise NotFound("Fasilitas tidak ditemukan.")
    return facility


def update_facility(uow, code: str, data: dict, *, node: str) -> Facility:
    facility = get_facility(uow.session, code)
    if "regency" in data:
        _check_region(node, data["regency"])
    for column in _COLUMNS:
        if column in data:
            setattr(facility, column, data[column])
    if "units" in data:
        facility.units = [FacilityUnit(**u) for u in data["units"]]
    facility.updated_at = now()
    uow.session.flush()
    _event(uow, "facility.updated", facility, node)
    return facility


def list_facilities(session, query: dict) -> list[Facility]:
    conditions = [getattr(Facility, k) == query[k] for k in ("regency", "kind") if query.get(k)]
    facilities = session.scalars(sa.select(Facility).where(*conditions).order_by(Facility.regency, Facility.name))
    if query.get("category"):
        return [fac for fac in facilities if query["category"] in fac.categories]
    return list(facilities)


def facility_view(facility: Facility, node: str) -> dict:
    view = {c: getattr(facility, c) for c in ("code",) + _COLUMNS + ("demo",)}
    view.update(node=node, regency_name=reference.region_name(facility.regency),
                capacity=sum(u.capacity for u in facility.units),
                units=[{"name": u.name, "sex": u.sex, "capacity": u.capacity} for u in facility.units])
    return view
