"""Likely duplicates within the node (review, merge), and the hub's word on persons registered at other nodes."""
from __future__ import annotations

from datetime import date
from difflib import SequenceMatcher

import sqlalchemy as sa

from intake.domain.cases import record_history
from intake.domain.common import SERVICE, Access, Office, audit, name_key
from intake.domain.persons import get_person, kecamatan_view
from intake.models import Consent, CrossNodeMatch, DuplicateReview, Person, PersonCategory, PersonDisability
from rehsos.clock import now
from rehsos.config import HUB
from rehsos.contracts import make_event
from rehsos.errors import Invalid, Refused, RefusedEvent

DUPLICATE_THRESHOLD = 0.75


def _similarity(a: str, b: str) -> float:
    """Name likeness on folded names; word order ignored (\"Siti Aisyah\" ~ \"Aisyah Siti\")."""
    return max(SequenceMatcher(None, a, b).ratio(),
               SequenceMatcher(None, " ".join(sorted(a.split())), " ".join(sorted(b.split()))).ratio())


def _place(person: Person) -> tuple[str, str]:
    """Where a person lives, for comparing: the kecamatan's code, or the text written before the list."""
    if person.kecamatan:
        return "code", person.kecamatan
    return "text", (person.kecamatan_legacy or "").strip().casefold()


def _same_kecamatan(person: Person):
    if person.kecamatan:
        return Person.kecamatan == person.kecamatan
    return sa.and_(Person.kecamatan.is_(None),
                   sa.func.lower(sa.func.trim(Person.kecamatan_legacy)) == _place(person)[1])


def likely_duplicates(uow, person_id: str, *, access: Access) -> list[dict]:
    """Persons who may be the same as this one: similar name, same sex, close birth year or the
    same kecamatan. Pairs an operator already decided on are left out."""
    person = get_person(uow, person_id, access=access, action="person.duplicates")
    reviewed = set(uow.session.scalars(sa.select(DuplicateReview.other_id)
                                       .where(DuplicateReview.person_id == person_id)))
    reviewed |= set(uow.session.scalars(sa.select(DuplicateReview.person_id)
                                        .where(DuplicateReview.other_id == person_id)))
    return _candidates(uow.session, name=person.name_key, sex=person.sex, year=person.birth_year,
                       place=_place(person), nearby_place=_same_kecamatan(person), nik=person.nik,
                       leave_out=reviewed | {person.id})


def likely_duplicates_of_registration(uow, data: dict, *, access: Access, today: date | None = None) -> list[dict]:
    """Before a person is registered (``data`` as the registration schema loads it): who among
    those already here they may be, by the same likeness as :func:`likely_duplicates`. Every
    candidate shown is a read of a personal record, so each one is audit-logged."""
    today = today or date.today()
    year = data["birth_date"].year if data.get("birth_date") else today.year - data["estimated_age"]
    found = _candidates(uow.session, name=name_key(data["name"]), sex=data["sex"], year=year,
                        place=("code", data["kecamatan"]), nearby_place=Person.kecamatan == data["kecamatan"],
                        nik=data.get("nik"), leave_out=set())
    for candidate in found:
        audit(uow, access, "person.duplicates", "person", candidate["person_id"])
    return found


def _candidates(session, *, name: str, sex: str, year: int, place: tuple[str, str], nearby_place, nik: str | None,
                leave_out: set[str]) -> list[dict]:
    birth_year = sa.func.coalesce(sa.extract("year", Person.birth_date), Person.birth_year_estimated)
    nearby = sa.or_(nearby_place, sa.between(birth_year, year - 2, year + 2), Person.name_key == name)
    candidates = session.scalars(sa.select(Person).where(Person.sex == sex, Person.merged_into.is_(None), nearby))
    result = []
    for other in candidates:
        if other.id in leave_out or (nik and other.nik and nik != other.nik):
            continue  # two different NIKs are two different people
        likeness = _similarity(name, other.name_key)
        if likeness < 0.7:
            continue
        close_year = other.birth_year is not None and abs(other.birth_year - year) <= 2
        same_place = _place(other) == place
        score = round(0.6 * likeness + 0.2 * close_year + 0.2 * same_place, 2)
        if score >= DUPLICATE_THRESHOLD:
            result.append({"person_id": other.id, "registration_no": other.registration_no, "name": other.name,
                           "birth_year": other.birth_year, **kecamatan_view(other), "score": score,
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
        record_history(uow.session, case, access, "person_merged", from_person=other.id, into_person=person.id)
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

