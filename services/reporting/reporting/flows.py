"""Referral flows and facility occupancy: how long a referring regency waits for a facility's
answer and for a bed, and how full each facility is.

The timeline of a referral keeps, per step, the earliest moment that step was reported: a request
or an answer redelivered, or answers arriving in any order, leave the same timeline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from rehsos import reference, registry
from rehsos.clock import month_end, month_of, month_start, now
from rehsos.contracts import Event
from reporting import caseload
from reporting.models import DemandMonths, DemandTally, FacilityCapacity, ReferralTimeline, RegisteredCase

STEPS = ("requested", "accepted", "rejected", "waitlisted", "admitted", "discharged")
ANSWERS = ("accepted", "rejected", "waitlisted", "admitted", "discharged")
# The outcome a timeline has reached, the furthest first: a referral accepted and then rejected
# (its reservation lapsed) is rejected; one admitted is admitted whatever was said before.
OUTCOMES = ("discharged", "admitted", "rejected", "accepted", "waitlisted", "requested")
# A facility this full raises the alert on the page.
ALERT_PERCENT = 90.0


# -- the projection -----------------------------------------------------------------------------------
# session.info: the cases that have a referral, of those a batch opens (prepare), and of the
# referrals it adds; a case opened without one has no referral to place again (no statement).
_REFERRED = "flows.referred_cases"


def prepare(uow, events: list[Event]) -> None:
    """Before a batch: which of the cases it opens have referrals already, in one statement."""
    t, opened = ReferralTimeline, {str(e.payload["case_id"]) for e in events if e.event_type == "case.opened"}
    with uow.session.no_autoflush:
        uow.session.info[_REFERRED] = set(uow.session.scalars(
            sa.select(t.case_id).where(t.case_id.in_(opened)).distinct())) if opened else set()


def _timeline(uow, referral_id: str, case_id: str, node: str, facility_id: str) -> ReferralTimeline:
    row = uow.session.get(ReferralTimeline, referral_id)
    if row is None:
        row = ReferralTimeline(referral_id=referral_id, case_id=case_id, node=node, facility_id=facility_id)
        uow.session.add(row)
        if (referred := uow.session.info.get(_REFERRED)) is not None:
            referred.add(case_id)
    return row


def _step(row: ReferralTimeline, step: str, at: datetime) -> None:
    current = getattr(row, f"{step}_at")
    if current is None or at < current:
        setattr(row, f"{step}_at", at)


def _counts_until(row: ReferralTimeline) -> datetime | None:
    """See ReferralTimeline.counts_until: None while waiting with no answer that ends it, or in
    a bed not left; else its latest step (no later moment can find it waiting or in a bed)."""
    ends = (row.admitted_at, row.rejected_at, row.discharged_at)
    if (row.requested_at is not None and ends == (None, None, None)) or \
            (row.admitted_at is not None and row.discharged_at is None):
        return None
    return max(at for at in (getattr(row, f"{step}_at") for step in STEPS) if at is not None)


def _place(row: ReferralTimeline, case: RegisteredCase | None) -> None:
    """Where the referral counts, as :func:`timelines` places it: its case's regency and person
    key, else the referring node and its own key, else its id."""
    row.region = case.region if case is not None else row.node
    row.person = (case.person_key if case is not None else None) or row.person_key or row.referral_id


def _changed(uow, row: ReferralTimeline) -> None:
    """After a step: where it counts, its stop, and the demand months of the person it counted as
    and of the one it counts as now (at the end of a batch)."""
    before = row.person
    _place(row, uow.session.get(RegisteredCase, row.case_id))
    row.counts_until = _counts_until(row)
    for person in {before, row.person} - {None}:
        uow.later("demand_months", _recompute_demand, person, key=person)


def apply_referral_requested(uow, event: Event) -> None:
    payload = event.payload
    row = _timeline(uow, str(payload["referral_id"]), str(payload["case_id"]), event.node,
                    payload["facility_id"])
    row.facility_node, row.category = payload["facility_node"], payload["category"]
    row.person_key = payload["person_key"]
    _step(row, "requested", event.occurred_at)
    _changed(uow, row)


def apply_referral_answer(uow, event: Event) -> None:
    # Who may answer is checked by the referral status (domain.apply_referral_answer), applied first.
    payload = event.payload
    row = _timeline(uow, str(payload["referral_id"]), str(payload["case_id"]), payload["referring_node"],
                    payload["facility_id"])
    row.facility_node = row.facility_node or event.node
    _step(row, registry.REFERRAL_ANSWERS[event.event_type], event.occurred_at)
    _changed(uow, row)


def apply_case_opened(uow, event: Event) -> None:
    """The case of referrals already known arrived (domain.apply_case_opened, applied first): they
    count under its regency and person now, no longer under the referring node and their own key."""
    case_id, referred = str(event.payload["case_id"]), uow.session.info.get(_REFERRED)
    if referred is None or case_id in referred:  # outside a batch: look
        _place_again(uow, [case_id])


def apply_person_identified(uow, event: Event) -> None:
    """A key renamed at a node (domain.apply_person_identified moved its cases, applied first):
    the referrals of those cases count under the new key."""
    _place_again(uow, uow.session.scalars(sa.select(RegisteredCase.case_id).where(
        RegisteredCase.node == event.node, RegisteredCase.person_key == event.payload["person_key"])).all())


def _place_again(uow, case_ids: list[str]) -> None:
    """Place the referrals of these cases again, and have the demand months of the persons they
    counted as and count as now derived again. At once, not at the end of a batch: a referral's
    row is locked before the summaries' lock, as by every other transaction (no deadlock)."""
    t, session = ReferralTimeline, uow.session
    if not case_ids:
        return
    # Without a flush (a case's referrals nearly always come after it: a flush of the batch's
    # pending rows at every case opened cost more than the rest of the batch), so the referrals
    # the batch added and has not flushed yet are taken from the session.
    with session.no_autoflush:
        rows = set(session.scalars(sa.select(t).where(t.case_id.in_(case_ids))))
    wanted = set(case_ids)
    rows |= {o for o in session.new if isinstance(o, ReferralTimeline) and o.case_id in wanted}
    if not rows:
        return
    cases = {c.case_id: c for c in session.scalars(sa.select(RegisteredCase)
                                                    .where(RegisteredCase.case_id.in_({r.case_id for r in rows})))}
    for row in sorted(rows, key=lambda r: r.referral_id):
        before = (row.region, row.person)
        _place(row, cases.get(row.case_id))
        if (row.region, row.person) != before:
            for person in {before[1], row.person} - {None}:
                uow.later("demand_months", _recompute_demand, person, key=person)


HANDLERS = {"referral.requested": apply_referral_requested, "case.opened": apply_case_opened,
            "person.identified": apply_person_identified} | dict.fromkeys(registry.REFERRAL_ANSWERS,
                                                                         apply_referral_answer)


# -- the demand for a bed, per person and month -----------------------------------------------------
def demand_spells(t: Timeline) -> list[tuple[str, str | None]]:
    """The months (first, end: up to, not including; None: still) at whose end (WITA) the
    referral's person waits for a bed (from the request up to the first admission, refusal or
    discharge) or is in one (from the admission up to the discharge), as Timeline.waiting_at and
    in_bed_at say at each month's end; a spell ending in the month it starts counts at no end."""
    stops = [at for at in (t.admitted_at, t.rejected_at, t.discharged_at) if at is not None]
    spells = []
    for start, stop in ((t.requested_at, min(stops) if stops else None), (t.admitted_at, t.discharged_at)):
        if start is None:
            continue
        first, end = month_of(start), None if stop is None else month_of(stop)
        if end is None or first < end:
            spells.append((first, end))
    return spells


ANY = ""  # the category of a person's demand months whatever their referrals' categories


def demand_months(items: list["Timeline"]) -> set[tuple]:
    """The rows of :class:`DemandMonths` the timelines of some persons give: (person, region,
    category, measure, from_month, to_month)."""
    spells: dict[tuple[str, str, str], list] = {}
    requested: dict[tuple[str, str, str], str] = {}
    for t in items:
        for category in {ANY, t.category} - {None}:
            key = (t.person, t.regency, category)
            spells.setdefault(key, []).extend(demand_spells(t))
            if t.requested_at is not None:
                requested[key] = min(month_of(t.requested_at), requested.get(key, "9999-99"))
    rows = {(*key, "demand", first, end) for key, found in spells.items() for first, end in caseload._runs(found)}
    return rows | {(*key, "requested", month, None) for key, month in requested.items()}


def _recompute_demand(session, persons) -> None:
    """Derive the demand months of ``persons`` again from all their referrals, and change the
    demand tally by the difference."""
    persons = set(persons)
    if persons:
        caseload.replace_runs(session, DemandMonths, DemandTally, persons,
                              lambda: demand_months(_timelines_of(session, persons)))


def _timelines_of(session, persons: set[str]) -> list["Timeline"]:
    """The timelines of these persons, where they count (ReferralTimeline.region and person)."""
    t = ReferralTimeline
    return [Timeline(referral_id=row.referral_id, regency=row.region, facility_id=row.facility_id,
                     category=row.category, person=row.person,
                     **{f"{step}_at": getattr(row, f"{step}_at") for step in STEPS})
            for row in session.scalars(sa.select(t).where(t.person.in_(persons)))]


# -- pure figures ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timeline:
    """One referral as the figures see it (plain values, no session)."""
    referral_id: str
    regency: str  # of the referred case (the referring node when the case is not known yet)
    facility_id: str
    category: str | None
    person: str  # the person's key, or the referral's id when unknown
    requested_at: datetime | None
    accepted_at: datetime | None = None
    rejected_at: datetime | None = None
    waitlisted_at: datetime | None = None
    admitted_at: datetime | None = None
    discharged_at: datetime | None = None

    @property
    def outcome(self) -> str:
        return next(step for step in OUTCOMES if step == "requested" or getattr(self, f"{step}_at") is not None)

    @property
    def first_answer_at(self) -> datetime | None:
        answers = [getattr(self, f"{step}_at") for step in ANSWERS if getattr(self, f"{step}_at") is not None]
        return min(answers) if answers else None

    def waiting_at(self, moment: datetime) -> bool:
        """Waiting for a bed at ``moment``: requested, and neither admitted, refused nor discharged yet."""
        if self.requested_at is None or self.requested_at >= moment:
            return False
        ends = [at for at in (self.admitted_at, self.rejected_at, self.discharged_at) if at is not None]
        return not ends or min(ends) >= moment

    def in_bed_at(self, moment: datetime) -> bool:
        return (self.admitted_at is not None and self.admitted_at < moment
                and (self.discharged_at is None or self.discharged_at >= moment))


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1), interpolating linearly between the closest ranks (as numpy's
    default and ``statistics.quantiles(method="inclusive")``); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _hours(start: datetime, end: datetime) -> float:
    # Nodes' clocks differ a little: an answer stamped before its request took no time, not less.
    return max((end - start).total_seconds() / 3600, 0.0)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def flow_figures(timelines: list[Timeline]) -> dict:
    """Count, outcomes, and the median and 90th percentile of the response time (request → first
    answer, hours) and the time to admission (request → admission, days)."""
    response = [_hours(t.requested_at, t.first_answer_at) for t in timelines
                if t.requested_at is not None and t.first_answer_at is not None]
    admission = [_hours(t.requested_at, t.admitted_at) / 24 for t in timelines
                 if t.requested_at is not None and t.admitted_at is not None]
    outcomes = dict.fromkeys(reversed(OUTCOMES), 0)
    for t in timelines:
        outcomes[t.outcome] += 1
    return {"referrals": len(timelines), "outcomes": outcomes, "answered": len(response),
            "response_hours_median": _round(percentile(response, 0.5)),
            "response_hours_p90": _round(percentile(response, 0.9)),
            "admitted": len(admission),
            "admission_days_median": _round(percentile(admission, 0.5)),
            "admission_days_p90": _round(percentile(admission, 0.9))}


# -- reading the timelines ----------------------------------------------------------------------------
def timelines(session, category: str | None = None, *, regency: str | None = None,
              requested_from: datetime | None = None, requested_before: datetime | None = None) -> list[Timeline]:
    """Every referral's timeline, under the regency of its case (the case's region as the hub knows
    it now, whatever order the case and the referral arrived in); only those of ``regency`` and
    requested in [``requested_from``, ``requested_before``) when given (a referral whose request
    has not arrived has no moment: left out by either)."""
    t = ReferralTimeline
    region = sa.func.coalesce(RegisteredCase.region, t.node)
    query = (sa.select(t.referral_id, t.node, t.facility_id, t.category, t.person_key, region.label("region"),
                       RegisteredCase.person_key.label("case_person"), *(getattr(t, f"{step}_at") for step in STEPS))
             .outerjoin(RegisteredCase, RegisteredCase.case_id == t.case_id)
             .order_by(t.referral_id))
    if category:
        query = query.where(t.category == category)
    if regency:
        query = query.where(region == regency)
    if requested_from is not None:
        query = query.where(t.requested_at >= requested_from)
    if requested_before is not None:
        query = query.where(t.requested_at < requested_before)
    return [Timeline(referral_id=row.referral_id, regency=row.region, facility_id=row.facility_id,
                     category=row.category, person=row.case_person or row.person_key or row.referral_id,
                     **{f"{step}_at": getattr(row, f"{step}_at") for step in STEPS})
            for row in session.execute(query)]


def people_now(session, at: datetime, category: str | None = None) -> dict[str, tuple[int, int]]:
    """Per regency (where :func:`timelines` places referrals): the people waiting for a bed at
    ``at`` and those in one (Timeline.waiting_at and in_bed_at), each once; from the referrals
    that may still count (ReferralTimeline.counts_until, indexed), not from all."""
    t = ReferralTimeline
    waiting = sa.and_(t.requested_at < at, *(sa.or_(stop.is_(None), stop >= at)
                                             for stop in (t.admitted_at, t.rejected_at, t.discharged_at)))
    in_bed = sa.and_(t.admitted_at < at, sa.or_(t.discharged_at.is_(None), t.discharged_at >= at))
    query = (sa.select(t.region, sa.func.count(sa.distinct(sa.case((waiting, t.person)))),
                       sa.func.count(sa.distinct(sa.case((in_bed, t.person)))))
             .where(sa.or_(t.counts_until.is_(None), t.counts_until >= at)).group_by(t.region))
    if category:
        query = query.where(t.category == category)
    return {region: (waiting, in_bed) for region, waiting, in_bed in session.execute(query)}


def _facility_names(session) -> dict[str, FacilityCapacity]:
    return {f.facility_id: f for f in session.scalars(sa.select(FacilityCapacity))}


def referral_flows(session, regency: str | None = None, category: str | None = None,
                   from_month: str | None = None, to_month: str | None = None) -> dict:
    """Per referring regency × facility: referrals requested in the months chosen (WITA), their
    outcomes, response times and times to admission."""
    # A referral whose request has not arrived has no month: it counts only unfiltered.
    chosen = timelines(session, category, regency=regency,
                       requested_from=month_start(from_month) if from_month else None,
                       requested_before=month_end(to_month) if to_month else None)
    facilities = _facility_names(session)
    groups: dict[tuple[str, str], list[Timeline]] = {}
    for t in chosen:
        groups.setdefault((t.regency, t.facility_id), []).append(t)
    flows = []
    for (from_regency, facility_id), group in sorted(groups.items()):
        facility = facilities.get(facility_id)
        flows.append({"regency": from_regency, "regency_name": reference.region_name(from_regency),
                      "facility_id": facility_id, "facility_name": facility.name if facility else None,
                      "facility_regency": facility.regency if facility else None, **flow_figures(group)})
    return {"generated_at": now().isoformat(), "regency": regency, "category": category,
            "from": from_month, "to": to_month, "flows": flows, "total": flow_figures(chosen)}


# -- occupancy ----------------------------------------------------------------------------------------
def occupancy_percent(beds: int, occupied: int) -> float | None:
    return round(100 * occupied / beds, 1) if beds else None


def _beds(units: list[dict]) -> dict:
    beds, occupied = sum(u["capacity"] for u in units), sum(u["occupied"] for u in units)
    percent = occupancy_percent(beds, occupied)
    return {"beds": beds, "occupied": occupied, "free": sum(u["free"] for u in units),
            "occupancy_percent": percent, "alert": percent is not None and percent >= ALERT_PERCENT}


def facility_occupancy(session, regency: str | None = None, category: str | None = None) -> dict:
    """Per facility and unit, from its newest capacity snapshot: beds, occupied, free, occupancy
    and the alert at ≥ 90 %; beside it the referrals waitlisted there now; and the age of the
    snapshot, so a page can mark stale data."""
    at = now()
    waitlisted: dict[str, int] = {}
    for t in timelines(session, category):
        if t.outcome == "waitlisted":
            waitlisted[t.facility_id] = waitlisted.get(t.facility_id, 0) + 1
    result = []
    for fac in session.scalars(sa.select(FacilityCapacity).order_by(FacilityCapacity.regency,
                                                                     FacilityCapacity.facility_id)):
        if (regency and fac.regency != regency) or (category and category not in fac.categories):
            continue
        result.append({
            "facility_id": fac.facility_id, "name": fac.name, "kind": fac.kind, "node": fac.node,
            "regency": fac.regency, "regency_name": reference.region_name(fac.regency),
            "categories": fac.categories, "status": fac.status, **_beds(fac.units),
            "waitlisted": waitlisted.get(fac.facility_id, 0), "as_of": fac.as_of.isoformat(),
            "data_age_hours": round(max((at - fac.as_of).total_seconds(), 0) / 3600, 1),
            "units": [{"name": u["name"], "sex": u["sex"], **_beds([u])} for u in fac.units]})
    # Referrals waitlisted at a facility whose snapshot the hub has not received: counted, not
    # hidden (without a snapshot its regency is unknown, so only the unfiltered view shows them).
    known = set(_facility_names(session))
    unknown = [] if regency else sorted((fid, n) for fid, n in waitlisted.items() if fid not in known)
    return {"generated_at": at.isoformat(), "regency": regency, "category": category,
            "alert_percent": ALERT_PERCENT, "facilities": result,
            "alerts": sum(f["alert"] for f in result),
            "waitlisted_without_snapshot": [{"facility_id": fid, "waitlisted": n} for fid, n in unknown]}
