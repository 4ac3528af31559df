"""The hub's read model: what each event means for the province-wide figures."""
from __future__ import annotations

import functools
import json
import uuid
from collections import Counter
from datetime import datetime

import sqlalchemy as sa

from rehsos import jurisdiction, reference, registry
from rehsos.clock import now
from rehsos.config import HUB
from rehsos.contracts import Event, make_event
from rehsos.db import dialect_insert, upsert_rows
from rehsos.errors import RefusedEvent
from rehsos.outbox import MessagingTables
from reporting import caseload, store
from reporting.models import (CentrePlan, FacilityCapacity, PersonPresence, ReferralStatus, RegisteredCase,
                              RegisteredPerson, RegisteredTally,
                              StreamRange, StreamRepair, TrainingRecord)

SERVICE = "reporting"


def note_person(uow, event: Event, person_key: str) -> None:
    """Record that ``event.node`` knows this person; when another node knows them too, tell
    every node concerned (downlink, addressed to each). A batch records its persons together at
    its end (or before a renaming deletes some), in the order its events gave them."""
    uow.later("person_presence", functools.partial(_add_presence, uow), (person_key, event.node, event.occurred_at))


def _add_presence(uow, session, items: list[tuple]) -> None:
    """Each (person key, node, first seen) not known yet is recorded, and, when it makes another
    node know the person, every node then knowing them is told, as one event at a time would."""
    p = PersonPresence
    known: dict[str, set[str]] = {key: set() for key, _, _ in items}
    for key, node in session.execute(sa.select(p.person_key, p.node).where(p.person_key.in_(known))):
        known[key].add(node)
    rows = []
    for key, node, first_seen in items:
        if node in known[key]:
            continue
        known[key].add(node)
        rows.append({"person_key": key, "node": node, "first_seen": first_seen})
        if len(known[key]) < 2:
            continue
        nodes = sorted(known[key])
        for target in nodes:
            uow.emit(make_event("person.duplicate_detected", {"person_key": key, "nodes": nodes},
                                node=HUB, service=SERVICE), target=target)
    if rows:  # one that another transaction recorded meanwhile fails the batch (as a flush did)
        session.execute(sa.insert(p.__table__), rows)


def apply_person_registered(uow, event: Event) -> None:
    if event.payload["person_key_kind"] == "nik":  # a local key never matches at another node
        note_person(uow, event, event.payload["person_key"])


# session.info: a batch's registered cases (case id -> RegisteredCase, None when not known),
# loaded and locked by prepare; the cases the batch opens join them.
_CASES = "domain.cases"


def prepare(uow, events: list[Event]) -> None:
    """Before a batch's events apply: the registered cases its closures and reopenings change,
    read and locked (in case order) in one statement; the handlers find them here."""
    case_ids = {str(e.payload["case_id"]) for e in events if e.event_type in ("case.closed", "case.reopened")}
    cases = uow.session.info[_CASES] = dict.fromkeys(case_ids)
    if case_ids:
        cases.update((case.case_id, case) for case in uow.session.scalars(
            sa.select(RegisteredCase).where(RegisteredCase.case_id.in_(case_ids))
            .order_by(RegisteredCase.case_id).with_for_update()))


def apply_case_opened(uow, event: Event) -> None:
    # Validated with the envelope; the case id as the contract reads it (a UUID, written canonically).
    payload = event.payload
    region = payload["region"]
    jurisdiction.require_for_event(event, region, "a case")
    case = RegisteredCase(
        case_id=str(uuid.UUID(str(payload["case_id"]))), node=event.node, region=region,
        category=payload["category"], sex=payload["sex"], age_band=payload["age_band"],
        person_key=payload["person_key"], registered_at=event.occurred_at, event_id=str(event.event_id),
        version=event.sequence, closed=False)
    uow.session.add(case)
    if (cases := uow.session.info.get(_CASES)) is not None:
        cases[case.case_id] = case  # its closure later in the batch finds it here; inserted at the flush
    _count(uow, (region, payload["category"], "cases"), (region, payload["category"], "open"))
    _count_person(uow, payload["person_key"], +1)


# The registered tally changes by a batch's sum, in one upsert at its end (see caseload.add_counts).
def _count(uow, *keys: tuple[str, str, str], n: int = 1) -> None:
    for key in keys:
        uow.later("registered_tally", _add_registered, (key, n))


def _add_registered(session, items: list) -> None:
    caseload.lock_summaries(session)
    counts: Counter = Counter()
    for key, n in items:
        counts[key] += n
    caseload.add_counts(session, RegisteredTally, ("region", "category", "measure"), counts)


def _count_person(uow, person_key: str, n: int) -> None:
    uow.later("registered_person", _add_persons, (person_key, n))


def _add_persons(session, items: list) -> None:
    """Add to the cases of each person key, and count the keys that got their first case or lost
    their last (the upsert returns each key's new number; its row lock orders two at once)."""
    changes: Counter = Counter()
    for key, n in items:
        changes[key] += n
    rows = [{"person_key": key, "cases": n} for key, n in sorted(changes.items()) if n]
    if not rows:
        return
    caseload.lock_summaries(session)
    counted = sum((cases > 0) - (cases - changes[key] > 0) for key, cases in upsert_rows(
        session, RegisteredPerson.__table__, rows, ("person_key",), add=("cases",), returning=("person_key", "cases")))
    caseload.add_counts(session, RegisteredTally, ("region", "category", "measure"), Counter({("", "", "persons"): counted}))


def apply_person_identified(uow, event: Event) -> None:
    """A NIK was attached (or two records merged) at a node: its cases count under the new key."""
    payload = event.payload
    uow.do_now("person_presence")  # the batch's persons so far, before some of them are deleted
    moved = uow.session.execute(sa.update(RegisteredCase)
                                .where(RegisteredCase.node == event.node,
                                       RegisteredCase.person_key == payload["previous_person_key"])
                                .values(person_key=payload["person_key"])).rowcount
    if moved and payload["previous_person_key"] != payload["person_key"]:
        _count_person(uow, payload["previous_person_key"], -moved)
        _count_person(uow, payload["person_key"], moved)
    uow.session.execute(sa.delete(PersonPresence).where(PersonPresence.node == event.node,
                                                        PersonPresence.person_key == payload["previous_person_key"]))
    note_person(uow, event, payload["person_key"])


class CaseNotYetKnown(Exception):
    """A closure or reopening overtook the case's opening: retried, it applies once that has."""


def _case_open(closed: bool):
    def apply(uow, event: Event) -> None:
        # Locked: two events of one case applied at once (PostgreSQL, several consumer workers)
        # would both read the old version, and the one committing last would win, newer or not.
        case_id, cases = str(event.payload["case_id"]), uow.session.info.get(_CASES, {})
        case = cases[case_id] if case_id in cases else \
            uow.session.get(RegisteredCase, case_id, with_for_update=True)
        if case is None:
            raise CaseNotYetKnown(f"{event.event_type} for case {event.payload['case_id']} before its opening")
        if case.node != event.node:
            raise RefusedEvent(f"node {event.node} sent {event.event_type} for a case of node {case.node}")
        if case.version < event.sequence:  # the newer state wins, whatever order they came in
            if bool(case.closed) != closed:
                _count(uow, (case.region, case.category, "open"), n=-1 if closed else 1)
            case.closed, case.version = closed, event.sequence
    return apply


def _newest(uow, model, key: str, event: Event, as_of: datetime, columns: tuple[str, ...]) -> None:
    """Keep the newest state per key: a snapshot arriving late (after a newer one) changes nothing.

    One upsert (INSERT ... ON CONFLICT DO UPDATE ... WHERE newer): the first snapshot of a key is
    inserted, a newer one of the same node overwrites it, atomically, so two workers applying the
    first two snapshots of a facility at once cannot both insert it. When it changed nothing, the
    row is read to tell a late snapshot (nothing to do) from another node's (refused)."""
    session = uow.session
    id_column = model.__mapper__.primary_key[0].key
    table = model.__table__
    values = {id_column: key, "node": event.node, "as_of": as_of, **{c: event.payload[c] for c in columns}}
    with session.no_autoflush:  # nothing the batch holds unflushed is read here
        if session.execute(_newer_upsert(session.bind.dialect.name, table, id_column, columns), values).rowcount:
            return
        owner = session.execute(sa.select(table.c.node).where(table.c[id_column] == key)).scalar_one()
    if owner != event.node:  # a facility or plan is its announcing node's
        raise RefusedEvent(f"node {event.node} sent {event.event_type} for {key}, which belongs to node {owner}")


@functools.lru_cache(maxsize=None)
def _newer_upsert(dialect: str, table: sa.Table, id_column: str, columns: tuple[str, ...]):
    """The upsert of :func:`_newest`, made once per dialect and table (its values given at execution)."""
    insert = dialect_insert(dialect, table)
    return insert.on_conflict_do_update(
        index_elements=[id_column], set_={c: insert.excluded[c] for c in ("as_of", *columns)},
        where=sa.and_(table.c.node == insert.excluded.node, table.c.as_of < insert.excluded.as_of))


def apply_capacity_changed(uow, event: Event) -> None:
    jurisdiction.require_for_event(event, event.payload["regency"], "a facility")
    _newest(uow, FacilityCapacity, event.payload["facility_id"], event, datetime.fromisoformat(event.payload["as_of"]),
            ("name", "kind", "regency", "categories", "status", "units"))


def apply_plan(uow, event: Event) -> None:
    jurisdiction.require_for_event(event, event.payload["regency"], "a planned centre")
    _newest(uow, CentrePlan, str(event.payload["plan_id"]), event, event.occurred_at,
            ("regency", "name", "kind", "categories", "planned_capacity", "target_year", "status"))


def apply_referral_requested(uow, event: Event) -> None:
    payload = event.payload
    uow.session.add(ReferralStatus(
        referral_id=str(payload["referral_id"]), case_id=str(payload["case_id"]), node=event.node,
        facility_id=payload["facility_id"], facility_node=payload["facility_node"], category=payload["category"],
        status="requested", updated_at=event.occurred_at))


class ReferralNotYetKnown(Exception):
    """An answer overtook its request (a redelivery): requeued, it applies once the request has."""


def apply_referral_answer(uow, event: Event) -> None:
    payload = event.payload
    referral = uow.session.get(ReferralStatus, str(payload["referral_id"]), with_for_update=True)  # see _case_open
    if referral is None:
        raise ReferralNotYetKnown(f"{event.event_type} for referral {payload['referral_id']} before its request")
    if event.node != referral.facility_node or payload["referring_node"] != referral.node:
        raise RefusedEvent(f"{event.event_type} from node {event.node}; the referral went from {referral.node} "
                          f"to {referral.facility_node}")
    # Answers may be redelivered out of order: a later state is never undone by an earlier one.
    status = registry.REFERRAL_ANSWERS[event.event_type]
    if REFERRAL_ORDER[status] >= REFERRAL_ORDER[referral.status]:
        referral.status, referral.updated_at = status, event.occurred_at


# A waitlisted referral can still be accepted or rejected, an accepted one rejected (its
# reservation lapsed); admission and discharge are final steps.
REFERRAL_ORDER = {"requested": 0, "waitlisted": 1, "accepted": 2, "rejected": 3, "admitted": 3, "discharged": 4}
WAITING = ("requested", "waitlisted", "accepted")


def _training_record(uow, event: Event) -> TrainingRecord:
    """The event's record; only its organiser (the node that first spoke of it) may change it."""
    event_id = str(event.payload["event_id"])
    record = uow.session.get(TrainingRecord, event_id, with_for_update=True)  # see _case_open
    if record is None:
        record = TrainingRecord(event_id=event_id, node=event.node, status=event.payload["status"])
        uow.session.add(record)
    elif record.node != event.node:
        raise RefusedEvent(f"node {event.node} sent {event.event_type} for training {event_id} of node {record.node}")
    return record


def apply_training_event_changed(uow, event: Event) -> None:
    record = _training_record(uow, event)
    as_of = datetime.fromisoformat(event.payload["as_of"])
    if record.announced_as_of is not None and record.announced_as_of >= as_of:
        return  # a late, older announcement
    payload = event.payload
    for field in ("kind", "title", "theme", "quota", "topics", "demo", "status"):
        setattr(record, field, payload[field])
    record.start_date = datetime.fromisoformat(payload["start_date"]).date()
    record.end_date = datetime.fromisoformat(payload["end_date"]).date()
    record.announced_as_of = as_of


def apply_training_summary(uow, event: Event) -> None:
    record = _training_record(uow, event)
    as_of = datetime.fromisoformat(event.payload["as_of"])
    if record.counted_as_of is not None and record.counted_as_of >= as_of:
        return
    record.days, record.cells, record.counted_as_of = event.payload["days"], event.payload["cells"], as_of
    if record.announced_as_of is None:
        record.status = event.payload["status"]


HANDLERS = {"case.opened": apply_case_opened,
            "training.event_changed": apply_training_event_changed, "training.summary": apply_training_summary,
            "person.registered": apply_person_registered, "person.identified": apply_person_identified,
            "case.closed": _case_open(closed=True), "case.reopened": _case_open(closed=False),
            "capacity.changed": apply_capacity_changed,
            "plan.proposed": apply_plan, "plan.updated": apply_plan,
            "referral.requested": apply_referral_requested} | dict.fromkeys(registry.REFERRAL_ANSWERS, apply_referral_answer)


def open_cases(session, category: str | None = None) -> dict[str, int]:
    """Registered cases not closed, per regency (of one PPKS category)."""
    t = RegisteredTally
    query = sa.select(t.region, sa.func.sum(t.n)).where(t.measure == "open")
    if category:
        query = query.where(t.category == category)
    return {region: n for region, n in session.execute(query.group_by(t.region)) if n}


def summary(session, tables: MessagingTables) -> dict:
    """Case counts by regency and category, with the state of every node's event stream."""
    t = RegisteredTally
    rows = session.execute(sa.select(t.region, t.category, t.n).where(t.measure == "cases", t.n > 0)).all()
    cells = [{"regency": r, "category": c, "cases": n} for r, c, n in sorted(rows)]
    by_regency = {code: {"regency": code, "name": region.name, "kind": region.kind, "cases": 0, "by_category": {}}
                  for code, region in reference.REGENCIES.items()}
    by_category = {code: {"category": code, "name": cat.name_id, "group": cat.group, "cases": 0}
                   for code, cat in reference.PPKS_CATEGORIES.items()}
    for cell in cells:
        entry = by_regency[cell["regency"]]
        entry["cases"] += cell["cases"]
        entry["by_category"][cell["category"]] = cell["cases"]
        by_category[cell["category"]]["cases"] += cell["cases"]
    unique_persons = session.execute(sa.select(t.n).where(t.measure == "persons")).scalar_one_or_none() or 0
    return {
        "generated_at": now().isoformat(),
        "total_cases": sum(c["cases"] for c in cells),
        "unique_persons": unique_persons,
        "by_regency": list(by_regency.values()),
        "by_category": sorted(by_category.values(), key=lambda c: reference.PPKS_CATEGORIES[c["category"]].no),
        "cells": cells,
        "streams": streams(session, tables),
        "quarantined": session.execute(sa.select(sa.func.count()).select_from(tables.quarantine)).scalar_one(),
    }


def missing_ranges(session, tables: MessagingTables) -> dict[tuple[str, str], list[list[int]]]:
    """Per node and service, the sequence ranges not received: before the first one received, and
    between any two (what comes after the last is unknown until something newer arrives). From the
    runs the inbox's rows make (:class:`StreamRange`), not the inbox itself."""
    r = StreamRange
    previous = sa.func.lag(r.last_sequence, 1, 0).over(partition_by=(r.node, r.service), order_by=r.first_sequence)
    steps = sa.select(r.node, r.service, r.first_sequence, previous.label("previous")).subquery()
    gaps: dict[tuple[str, str], list[list[int]]] = {}
    for node, service, first, prev in session.execute(
            sa.select(steps).where(steps.c.first_sequence > steps.c.previous + 1)
            .order_by(steps.c.node, steps.c.service, steps.c.first_sequence)):
        gaps.setdefault((node, service), []).append([prev + 1, first - 1])
    return gaps


def streams(session, tables: MessagingTables) -> list[dict]:
    """Per node and service: events received, the highest sequence, which are missing, and the
    hub's last request to resend them."""
    r = StreamRange
    rows = session.execute(
        sa.select(r.node, r.service, sa.func.sum(r.received), sa.func.max(r.last_sequence),
                  sa.func.max(r.last_received_at))
        .group_by(r.node, r.service).order_by(r.node, r.service)).all()
    gaps = missing_ranges(session, tables)
    repairs = {(r.node, r.service): r for r in session.scalars(sa.select(StreamRepair))}
    result = []
    for node, service, count, last, at in rows:
        repair = repairs.get((node, service))
        result.append({"node": node, "service": service, "received": count, "last_sequence": last,
                       "missing": last - count, "missing_ranges": gaps.get((node, service), []),
                       "last_received_at": at.isoformat() if at else None,
                       "resend_requested_at": repair.requested_at.isoformat() if repair and repair.requested_at
                       else None, "resend_requests": repair.requests if repair else 0})
    return result


def request_repairs(uow, tables: MessagingTables) -> int:
    """Ask nodes to resend what the hub misses. A gap is asked for only once it has been seen at
    two checks in a row (an event merely late or retrying fills it without help), and again at
    most once per check while it stays open. Returns how many requests were sent."""
    session, at = uow.session, now()
    store.merge_ranges(session)
    gaps = missing_ranges(session, tables)
    repairs = {(r.node, r.service): r for r in session.scalars(sa.select(StreamRepair))}
    sent = 0
    for (node, service), ranges in gaps.items():
        repair = repairs.pop((node, service), None)
        if repair is None:
            session.add(StreamRepair(node=node, service=service, seen_ranges=ranges, checked_at=at, requests=0))
            continue
        lasting = [r for r in ranges if any(s[0] <= r[0] and r[1] <= s[1] for s in repair.seen_ranges)]
        repair.seen_ranges, repair.checked_at = ranges, at
        if lasting:
            uow.emit(make_event(registry.RESEND, {"service": service, "ranges": lasting[:100]}, node=HUB,
                                service=SERVICE), target=node)
            repair.requested_ranges, repair.requested_at, repair.requests = lasting[:100], at, repair.requests + 1
            sent += 1
    for repair in repairs.values():  # closed gaps
        repair.seen_ranges, repair.checked_at = [], at
    return sent


def quarantine_list(session, tables: MessagingTables, limit: int = 100) -> list[dict]:
    q = tables.quarantine
    rows = session.execute(sa.select(q).order_by(q.c.id.desc()).limit(limit)).all()
    return [{"id": r.id, "received_at": r.received_at.isoformat(), "queue": r.queue, "sender": r.sender,
             "routing_key": r.routing_key, "event_id": r.event_id, "reason": r.reason, "kind": r.kind,
             "fields": json.loads(r.fields) if r.fields else None, "attempts": r.attempts,
             "redriven_at": r.redriven_at.isoformat() if r.redriven_at else None,
             "redrive_outcome": r.redrive_outcome} for r in rows]


def pending_dead_letters(session, tables: MessagingTables) -> list[int]:
    q = tables.quarantine
    return list(session.scalars(sa.select(q.c.id).where(q.c.kind == "dead_letter", q.c.redriven_at.is_(None))
                                .order_by(q.c.id)))


# -- demand beside capacity and plans (where should the province build?) ----------------------------
PLANNED = ("usulan", "disetujui", "dibangun")  # a plan that is beroperasi shows up as a facility instead


def capacity_plan(session, category: str | None = None) -> dict:
    """Per regency: open cases (demand), cases referred to a facility and not yet admitted
    (waiting), beds in operating facilities (from their newest snapshots), and beds in planned
    centres not yet operating. With ``category``, only that
    PPKS category's cases and the facilities and plans that serve it."""
    def serves(categories):
        return category is None or category in categories

    rows = {code: {"regency": code, "name": region.name, "kind": region.kind, "open_cases": 0, "waiting": 0, "beds": 0,
                   "occupied": 0, "free": 0, "facilities": 0, "planned_beds": 0, "plans": 0}
            for code, region in reference.REGENCIES.items()}
    for regency, n in open_cases(session, category).items():
        rows[regency]["open_cases"] = n
    waiting = (sa.select(RegisteredCase.region, sa.func.count())
               .join(ReferralStatus, ReferralStatus.case_id == RegisteredCase.case_id)
               .where(ReferralStatus.status.in_(WAITING)))
    if category:
        waiting = waiting.where(ReferralStatus.category == category)
    for regency, n in session.execute(waiting.group_by(RegisteredCase.region)):
        rows[regency]["waiting"] = n
    oldest = None
    for fac in session.scalars(sa.select(FacilityCapacity).where(FacilityCapacity.status == "operational")):
        if not serves(fac.categories):
            continue
        row = rows[fac.regency]
        row["facilities"] += 1
        for unit in fac.units:
            row["beds"] += unit["capacity"]
            row["occupied"] += unit["occupied"]
            row["free"] += unit["free"]
        oldest = min(oldest or fac.as_of, fac.as_of)
    plans = [p for p in session.scalars(sa.select(CentrePlan).order_by(CentrePlan.target_year, CentrePlan.regency))
             if serves(p.categories)]
    for plan in plans:
        if plan.status in PLANNED:
            rows[plan.regency]["planned_beds"] += plan.planned_capacity
            rows[plan.regency]["plans"] += 1
    for row in rows.values():
        # Open cases beyond beds in place and planned: a pressure indicator, not a bed count
        # (not every open case needs a panti bed; a provincial panti serves every regency).
        row["shortfall"] = max(row["open_cases"] - row["beds"] - row["planned_beds"], 0)
    return {
        "generated_at": now().isoformat(),
        "category": category,
        "capacity_as_of": oldest.isoformat() if oldest else None,
        "regencies": sorted(rows.values(), key=lambda r: (-r["shortfall"], r["regency"])),
        "plans": [{"plan_id": p.plan_id, "node": p.node, "regency": p.regency,
                   "regency_name": reference.region_name(p.regency), "name": p.name, "kind": p.kind,
                   "categories": p.categories, "planned_capacity": p.planned_capacity,
                   "target_year": p.target_year, "status": p.status} for p in plans],
    }


# -- training: who was trained, from where, did they learn, and where is the caseload? ----------------
TRAINED_ROLES = ("pekerja_sosial", "pendamping_disabilitas")
_COUNTS = ("registered", "waitlisted", "attended", "completed", "scored", "pre_total", "post_total")


def _gain(cells) -> dict:
    scored = sum(c["scored"] for c in cells)
    if not scored:
        return {"scored": 0, "pre_average": None, "post_average": None, "gain": None}
    pre = sum(c["pre_total"] for c in cells) / scored
    post = sum(c["post_total"] for c in cells) / scored
    return {"scored": scored, "pre_average": round(pre, 1), "post_average": round(post, 1),
            "gain": round(post - pre, 1)}


def training_overview(session) -> dict:
    """Events with their counts and gains; per regency the trained social workers and disability
    companions (completions) beside its open cases; gains per role and per theme."""
    records = list(session.scalars(sa.select(TrainingRecord).order_by(TrainingRecord.start_date.desc().nulls_last(),
                                                                      TrainingRecord.event_id)))
    events = []
    for r in records:
        cells = r.cells or []
        events.append({"event_id": r.event_id, "node": r.node, "kind": r.kind, "title": r.title, "theme": r.theme,
                       "start_date": r.start_date, "end_date": r.end_date, "days": r.days, "quota": r.quota,
                       "status": r.status, "topics": r.topics or [], "demo": bool(r.demo),
                       **{k: sum(c[k] for c in cells) for k in ("registered", "waitlisted", "attended", "completed")},
                       **_gain(cells)})
    open_now = open_cases(session)
    regions = {code: {"regency": code, "name": reference.region_name(code), "open_cases": open_now.get(code, 0),
                      "registered": 0, "attended": 0, "completed": 0,
                      **{f"trained_{role}": 0 for role in TRAINED_ROLES}}
               for code in reference.NODES}
    roles: dict[str, list] = {}
    themes: dict[str, list] = {}
    for r in records:
        if r.status == "cancelled":
            continue
        for cell in r.cells or []:
            row = regions[cell["regency"]]
            for k in ("registered", "attended", "completed"):
                row[k] += cell[k]
            if cell["role"] in TRAINED_ROLES:
                row[f"trained_{cell['role']}"] += cell["completed"]
            roles.setdefault(cell["role"], []).append(cell)
            themes.setdefault(r.theme or "", []).append(cell)
    for row in regions.values():
        trained = sum(row[f"trained_{role}"] for role in TRAINED_ROLES)
        row["trained_per_100_open_cases"] = round(100 * trained / row["open_cases"], 1) if row["open_cases"] else None
    return {"generated_at": now().isoformat(), "events": events,
            "regencies": [regions[code] for code in reference.NODES],
            "by_role": [{"role": role, **_gain(cells), "completed": sum(c["completed"] for c in cells)}
                        for role, cells in sorted(roles.items())],
            "by_theme": [{"theme": theme, **_gain(cells)} for theme, cells in sorted(themes.items())]}
