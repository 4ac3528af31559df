"""Persons (orang): registration with or without a NIK, reading, correcting, attaching a NIK later."""
from __future__ import annotations

import secrets
import uuid
from datetime import date

import sqlalchemy as sa

from intake.domain.common import REFERENCE_VERSION, SERVICE, Access, Office, audit, name_key
from intake.models import CrossNodeMatch, Person, PersonCategory, PersonDisability
from rehsos import jurisdiction, reference
from rehsos.clock import now
from rehsos.contracts import make_event
from rehsos.errors import Invalid, NotFound, Refused
from rehsos.privacy import age_band, person_key

_REG_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: it is read aloud and written by hand


def _registration_no(node: str, today: date) -> str:
    """``6371-2026-7F3K9Q``: the number on the person's papers; random, so concurrent registrations never collide."""
    return f"{node}-{today.year}-{''.join(secrets.choice(_REG_ALPHABET) for _ in range(6))}"


def age_band_of(person: Person, today: date) -> str:
    """The person's age band, the only age that leaves the node in events."""
    return age_band(person.birth_date, today, person.birth_year_estimated)


def _require_kecamatan_of(code: str, regency: str) -> None:
    """A kecamatan (a known code: the schema checked) must lie in the person's regency."""
    kecamatan = reference.KECAMATAN[code]
    if kecamatan.regency != regency:
        region = reference.REGIONS[regency]
        raise Invalid({"kecamatan": [f"Kecamatan {kecamatan.name} ({code}) tidak berada di "
                                     f"{region.kind.capitalize()} {region.name}."]})


def kecamatan_view(record) -> dict:
    """A person's or case's kecamatan as the API shows it: the code and its name, or (for text
    written before the list that names none of it) no code and that text."""
    return {"kecamatan": record.kecamatan,
            "kecamatan_name": reference.kecamatan_name(record.kecamatan) or record.kecamatan_legacy}


def _check_nik_free(session, nik: str) -> None:
    existing = session.execute(sa.select(Person.id).where(Person.nik == nik)).scalar_one_or_none()
    if existing:
        raise Refused("duplicate_nik", f"NIK sudah terdaftar di node ini untuk orang dengan id {existing}.",
                      {"nik": ["NIK sudah terdaftar."], "person_id": existing})


def register_person(uow, data: dict, *, office: Office, access: Access, today: date | None = None) -> Person:
    """Register a person, with or without a NIK; emits ``person.registered``."""
    jurisdiction.require_for_request(office.node, data["regency"], "orang")
    _require_kecamatan_of(data["kecamatan"], data["regency"])
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
        "person_key": key, "person_key_kind": key_kind, "age_band": age_band_of(person, today),
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
    if "kecamatan" in data:
        _require_kecamatan_of(data["kecamatan"], person.regency)
        person.kecamatan, person.kecamatan_legacy = data["kecamatan"], None
    for column in ("name", "sex", "desa", "address", "phone", "guardian_name",
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


def rekey_persons(uow, *, office: Office) -> int:
    """After the province's key changed: each person's key is computed again under
    ``office.secret`` and every change is announced to the hub as ``person.identified`` (old key
    to new), which moves the node's cases and presence there; the hub's cross-node findings kept
    here move too. A key already current is left alone, so a second run announces nothing.
    Merged records are skipped: their key was handed to the survivor. Returns how many changed."""
    session = uow.session
    persons = session.execute(sa.select(Person.id, Person.nik, Person.person_key)
                              .where(Person.merged_into.is_(None)).order_by(Person.id)).all()
    changed = 0
    for person_id, nik, previous in persons:
        key, _ = person_key(office.secret, nik, office.node, person_id)
        if key == previous:
            continue
        # A NIK attached meanwhile has already keyed the person under the new secret: not ours to move.
        if session.execute(sa.update(Person).where(Person.id == person_id, Person.person_key == previous)
                           .values(person_key=key)).rowcount == 0:
            continue
        match = session.get(CrossNodeMatch, previous)
        if match is not None:
            if session.get(CrossNodeMatch, key) is None:
                session.add(CrossNodeMatch(person_key=key, nodes=match.nodes, detected_at=match.detected_at))
            session.delete(match)
        uow.emit(make_event("person.identified", {"previous_person_key": previous, "person_key": key},
                            node=office.node, service=SERVICE))
        changed += 1
    return changed


def person_view(person: Person) -> dict:
    view = {c: getattr(person, c) for c in ("id", "registration_no", "name", "nik", "sex", "birth_date",
                                            "birth_year_estimated", "regency", "desa", "address",
                                            "phone", "guardian_name", "guardian_relationship", "guardian_phone",
                                            "merged_into")}
    view.update(kecamatan_view(person))
    view["categories"] = sorted(c.category for c in person.categories)
    view["disabilities"] = sorted(d.disability for d in person.disabilities)
    return view
