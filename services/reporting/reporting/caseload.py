"""Case figures over time (*kasus per bulan*): what the Rakor asks of the hub.

The projection keeps facts, not running totals: every step of a case (opened, stage changed,
closed, reopened) under its node's sequence, the months at whose end a case was open (spans,
derived again from the steps at each new step), persons with their disability types, the aliases of
person keys, and which node sent something in which month. Facts keyed by what they are make the
figures the same whatever order the events arrive in, and applying one twice changes nothing.

The queries count per regency, category, stage and month (WITA): new cases, cases active at the
month's end, closures by outcome, reopenings, unique persons, each also per 10,000 inhabitants. A
regency whose node sent nothing for a month has no figures for that month (None and
``has_data: False``), never 0: silence is not an empty caseload.
"""
from __future__ import annotations

import functools
import hashlib
from collections import Counter, namedtuple

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from rehsos import reference, registry
from rehsos.clock import add_months, month_of, months_between, now
from rehsos.contracts import Event
from rehsos.db import upsert_rows
from rehsos.errors import RefusedEvent
from reporting.models import (CaseFact, CaseSpan, CaseStep, CaseTally, NodeActivity, PersonAlias, PersonDisabilityFact,
                              PersonFact, PersonIdentity, PersonMonths, PersonTally)

OUTCOMES = ("positive", "neutral", "negative")
# Which steps set whether a case is open; every step sets its stage.
STATUS_OF = {"opened": True, "reopened": True, "closed": False}
TUNA_SOSIAL = tuple(code for code, c in reference.PPKS_CATEGORIES.items() if c.group == "tuna_sosial")


# -- projection ------------------------------------------------------------------------------------
# On PostgreSQL the consumer applies a node's events in several transactions at once. Advisory
# locks (held to the end of the transaction) keep the facts right without making one node's
# events wait for each other:
#   - a case: its steps and spans, recomputed from all of them, one event of the case at a time;
#   - a person key: its registration (newest by sequence), one event of the key at a time;
#   - a node's renamings (``person.identified``, rare): each resolves again every key that ended
#     where the renamed one did, so two of them at once would each miss the other's change.
# Recording a key a case or registration uses needs no lock (see _know_key).
# Every lock key names the schema written to: a rebuild replaying into ``reporting_rebuild``
# never waits for the live consumer, nor it for the rebuild. (SQLite runs one writer at a time.)
def _lock_key(session, key: tuple[str, ...]) -> int:
    schema = (session.bind.get_execution_options().get("schema_translate_map") or {}).get(None) or ""
    digest = hashlib.blake2b("\x1f".join((schema, *key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock(session, *key: str) -> None:
    if session.bind.dialect.name != "postgresql":
        return
    lock = _lock_key(session, key)
    if lock not in session.info.get(_LOCKED, ()):  # taken for the whole batch (prepare)
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(lock)))


def lock_summaries(session) -> None:
    """On PostgreSQL, one transaction at a time writes the summaries, from its first summary write
    to its commit: their province rows are every transaction's anyway, and a transaction that has
    locked some of their rows (or a person's months, or a month's node activity) never waits for
    another that waits for it. Taken once per transaction, at its first summary write: in a batch
    that is after the cases' and persons' locks (prepare), at its end, always in that order. One
    taken inside a savepoint is taken again after it (rolled back, the savepoint releases it)."""
    if session.bind.dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    if session.info.get(_SUMMARIES) is transaction:
        return
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(session, ("summaries",)))))
    if not session.in_nested_transaction():
        session.info[_SUMMARIES] = transaction


# session.info: the batch's advisory locks taken, its cases (case id -> CaseFact, None when not
# known yet) and registrations' persons ((node, key) -> PersonFact or None), loaded by prepare;
# the disabilities each registration says (written at the end); the summaries' lock's transaction.
_LOCKED, _CASES, _PERSONS = "caseload.locked", "caseload.cases", "caseload.persons"
_DISABILITIES, _SUMMARIES = "caseload.disabilities", "caseload.summaries_locked"
CASE_EVENTS = ("case.opened", "case.stage_changed", "case.closed", "case.reopened")
REFERRAL_EVENTS = ("referral.requested", *registry.REFERRAL_ANSWERS)


def prepare(uow, events: list[Event]) -> None:
    """Before a batch's events apply (in its transaction): take every case's and person key's lock
    they will need in one statement, in a fixed order (two batches at once cannot deadlock on
    them), and load the cases they name in one query; the handlers then find both done."""
    session = uow.session
    locks, case_ids, persons = set(), set(), set()
    for event in events:
        if event.event_type in CASE_EVENTS:
            case_ids.add(str(event.payload["case_id"]))
            locks.add(("case", str(event.payload["case_id"])))
        elif event.event_type == "person.registered":
            locks.add(("person", event.node, event.payload["person_key"]))
            persons.add((event.node, event.payload["person_key"]))
        elif event.event_type in REFERRAL_EVENTS:
            # Its case's lock too: a batch opening the case and one placing the referral (where
            # the case is, flows) then come one after the other, each seeing what the other did.
            locks.add(("case", str(event.payload["case_id"])))
    if locks and session.bind.dialect.name == "postgresql":
        keys = sorted({_lock_key(session, key) for key in locks})
        session.execute(sa.text("SELECT count(pg_advisory_xact_lock(k)) FROM "
                                "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS sorted_keys"),
                        {"keys": keys})
        session.info[_LOCKED] = set(keys)
    # Held here (the session's identity map keeps objects only while something refers to them),
    # with the cases and persons the batch adds: its handlers look them up here, not in the database.
    session.info[_CASES] = dict.fromkeys(case_ids)
    if case_ids:
        session.info[_CASES].update((case.case_id, case) for case in
                                    session.scalars(sa.select(CaseFact).where(CaseFact.case_id.in_(case_ids))))
    session.info[_PERSONS] = dict.fromkeys(persons)
    if persons:
        session.info[_PERSONS].update(((person.node, person.person_key), person) for person in session.scalars(
            sa.select(PersonFact).where(sa.tuple_(PersonFact.node, PersonFact.person_key).in_(persons))))


def note_activity(uow, event: Event) -> None:
    """Every event the hub accepts from a node: the node sent something in that month."""
    if event.node not in reference.NODES:
        return
    # Insert-or-nothing: only whether a row exists matters, so concurrent events of one node and
    # month neither collide on the first row nor queue on a counter. A batch sends each pair once,
    # at its end.
    month = month_of(event.occurred_at)
    uow.later("node_activity", _add_activity, {"node": event.node, "month": month}, key=(event.node, month))


def _add_activity(session, rows: list[dict]) -> None:
    a = NodeActivity
    known = set(session.execute(sa.select(a.node, a.month).where(
        sa.tuple_(a.node, a.month).in_([(row["node"], row["month"]) for row in rows]))).all())
    if new := [row for row in rows if (row["node"], row["month"]) not in known]:
        lock_summaries(session)  # a month's first row is a row two transactions may wait on
        upsert_rows(session, NodeActivity.__table__, new, ("node", "month"))


def _follow(session, node: str, key: str) -> str:
    """Where a node's person key ends after its aliases (a loop stops where it closes)."""
    seen = {key}
    while (alias := session.get(PersonAlias, (node, key))) is not None and alias.person_key not in seen:
        key = alias.person_key
        seen.add(key)
    return key


def _insert_new(table: sa.Table, *index_elements: str):
    """Work for ``uow.insert``: the rows, each unless one of its key is there already."""
    return lambda session, rows: upsert_rows(session, table, rows, index_elements)


_NEW_IDENTITY = _insert_new(PersonIdentity.__table__, "node", "person_key")
_NEW_STEP = _insert_new(CaseStep.__table__, "case_id", "sequence")


def _know_key(uow, node: str, key: str) -> None:
    """Record a key the node used. A key not yet recorded has no alias (a renaming records the key
    it renames), so it ends at itself; a recorded one is left as it is, and a renaming resolves it
    again. Two transactions recording one key meet on its primary key, the second waiting for the
    first and adding nothing: no lock needed. A batch records its keys at its end, or before a
    renaming (which reads them)."""
    uow.insert("person_identity", _NEW_IDENTITY, {"node": node, "person_key": key, "resolved": key}, key=(node, key))


def _persons_later(uow, *items: tuple) -> None:
    """Have the months of persons (``("person", person)``) and of those keys end at (``("key",
    (node, key))``) derived again: once per batch, at its end, after its spans."""
    for item in items:
        uow.later("person_months", _recompute_people, item, key=item, rank=2)


def _recompute_people(session, items: list[tuple]) -> None:
    keys = {value for kind, value in items if kind == "key"}
    persons = {value for kind, value in items if kind == "person"}
    if keys:
        persons.update(session.scalars(sa.select(PersonIdentity.resolved).where(
            sa.tuple_(PersonIdentity.node, PersonIdentity.person_key).in_(keys))))
    _recompute_persons(session, persons)


def apply_person_registered(uow, event: Event) -> None:
    payload, session = event.payload, uow.session
    key = (event.node, payload["person_key"])
    _lock(session, "person", *key)
    persons = session.info.get(_PERSONS)
    person = persons[key] if persons is not None and key in persons else session.get(PersonFact, key)
    if person is not None and person.sequence >= event.sequence:
        return
    if person is None:
        person = PersonFact(node=event.node, person_key=payload["person_key"])
        session.add(person)
        if persons is not None:
            persons[key] = person
    person.region, person.month, person.sequence = payload["region"], month_of(event.occurred_at), event.sequence
    # The newest registration's disabilities replace the key's (in a batch: once, at its end).
    session.info.setdefault(_DISABILITIES, {})[key] = list(dict.fromkeys(payload["disabilities"]))
    uow.later("person_disabilities", _write_disabilities, key, key=key)
    _know_key(uow, *key)
    _persons_later(uow, ("key", key))


def _write_disabilities(session, keys: list[tuple[str, str]]) -> None:
    d, wanted = PersonDisabilityFact, session.info[_DISABILITIES]
    session.execute(sa.delete(d.__table__).where(sa.tuple_(d.node, d.person_key).in_(keys)))
    rows = [{"node": node, "person_key": key, "disability": disability}
            for node, key in keys for disability in wanted[(node, key)]]
    if rows:
        session.execute(sa.insert(d.__table__), rows)


def apply_person_identified(uow, event: Event) -> None:
    """A key became another at this node: every key that ended at the old end is followed again."""
    previous, key, session = event.payload["previous_person_key"], event.payload["person_key"], uow.session
    _lock(session, "renamings", event.node)
    uow.do_now("person_identity")  # the keys the batch recorded so far: this renaming resolves them too
    alias = session.get(PersonAlias, (event.node, previous))
    if alias is not None and alias.sequence >= event.sequence:
        return  # a newer renaming of that key is already known
    old_end = _follow(session, event.node, previous)
    if alias is None:
        session.add(PersonAlias(node=event.node, previous_key=previous, person_key=key, sequence=event.sequence))
    else:
        alias.person_key, alias.sequence = key, event.sequence
    session.flush()
    # A key first recorded here ends at itself, which is ``old_end`` for ``previous``: the loop
    # below follows it too.
    _know_key(uow, event.node, previous)
    _know_key(uow, event.node, key)
    uow.do_now("person_identity")
    changed = {old_end}
    for identity in session.scalars(sa.select(PersonIdentity).where(PersonIdentity.node == event.node,
                                                                    PersonIdentity.resolved == old_end)):
        identity.resolved = _follow(session, event.node, identity.person_key)
        changed.add(identity.resolved)
    session.flush()
    # The persons the renamed keys counted as and count as now: their months in the tally again.
    _persons_later(uow, *(("person", person) for person in changed))


_Span = namedtuple("_Span", "region category from_month to_month stage")


def _spans(case: CaseFact, steps: list) -> list[dict]:
    """The months at whose end the case was open, by stage, from all its steps known so far (in
    sequence order). The state at a month's end is that of the highest-sequence step that
    occurred by then."""
    spans: list[dict] = []
    for month in sorted({s.month for s in steps}):
        until = [s for s in steps if s.month <= month]
        statuses = [s for s in until if s.kind in STATUS_OF]
        is_open = bool(statuses) and STATUS_OF[statuses[-1].kind]
        stage = until[-1].stage
        current = spans[-1] if spans and spans[-1]["to_month"] is None else None
        if current is not None and (not is_open or current["stage"] != stage):
            current["to_month"], current = month, None
        if is_open and current is None:
            spans.append({"case_id": case.case_id, "from_month": month, "to_month": None, "stage": stage,
                          "node": case.node, "region": case.region, "category": case.category,
                          "person_key": case.person_key})
    return spans


def _step_measure(kind: str, outcome: str | None) -> str | None:
    """What a step adds to in the case tally (a stage change adds nothing: only the spans show it)."""
    return f"closed_{outcome}" if kind == "closed" else {"opened": "new", "reopened": "reopened"}.get(kind)


def _span_change(tally: Counter, span, sign: int) -> None:
    """A span is +1 active from its first month and -1 from the month it ends in."""
    tally[(span.region, span.category, span.from_month, span.stage, "active")] += sign
    if span.to_month is not None:
        tally[(span.region, span.category, span.to_month, span.stage, "active")] -= sign


def add_counts(session, model, keys: tuple[str, ...], tally: Counter) -> None:
    """One upsert for all of a batch's changes to a tally, in key order: two transactions adding
    to the same rows lock them in the same order (no deadlock between them)."""
    rows = [{**dict(zip(keys, key)), "n": n} for key, n in sorted(tally.items()) if n]
    upsert_rows(session, model.__table__, rows, tuple(c.name for c in model.__table__.primary_key.columns), add=("n",))




def _recompute_spans(uow, session, cases: list[CaseFact]) -> None:
    """Derive the spans of ``cases`` again from their steps, and bring the case tally along: minus
    their old spans, plus the new ones and the steps not counted yet. A handful of statements for
    all of them."""
    lock_summaries(session)
    by_id = {case.case_id: case for case in cases}
    steps: dict[str, list] = {case_id: [] for case_id in by_id}
    tally: Counter = Counter()
    fresh = False
    for step in session.execute(sa.select(CaseStep.case_id, CaseStep.node, CaseStep.kind, CaseStep.month,
                                          CaseStep.stage, CaseStep.outcome, CaseStep.counted)
                                .where(CaseStep.case_id.in_(by_id))
                                .order_by(CaseStep.case_id, CaseStep.sequence)):
        case = by_id[step.case_id]
        if step.node != case.node:
            continue
        steps[step.case_id].append(step)
        if not step.counted:
            fresh = True
            if (measure := _step_measure(step.kind, step.outcome)) is not None:
                tally[(case.region, case.category, step.month, step.stage, measure)] += 1
    for span in session.execute(sa.select(CaseSpan.region, CaseSpan.category, CaseSpan.from_month,
                                          CaseSpan.to_month, CaseSpan.stage).where(CaseSpan.case_id.in_(by_id))):
        _span_change(tally, span, -1)
    session.execute(sa.delete(CaseSpan.__table__).where(CaseSpan.case_id.in_(by_id)))
    rows = [span for case_id, case in by_id.items() for span in _spans(case, steps[case_id])]
    if rows:
        session.execute(sa.insert(CaseSpan.__table__), rows)
    for row in rows:
        _span_change(tally, _Span(**{k: row[k] for k in _Span._fields}), +1)
    if fresh:  # another node's step in a case is never counted: marking it too changes nothing
        session.execute(sa.update(CaseStep.__table__).where(CaseStep.case_id.in_(by_id), CaseStep.counted.is_(False))
                        .values(counted=True))
    add_counts(session, CaseTally, ("region", "category", "month", "stage", "measure"), tally)
    _persons_later(uow, *(("key", (case.node, case.person_key)) for case in cases))


# -- unique persons ------------------------------------------------------------------------------------
PROVINCE = ""  # the region of a person's months in the province as a whole
OPEN_END = "9999-99"  # after every month: how a run still going sorts


def _runs(spans) -> list[tuple[str, str | None]]:
    """(first, end) months of the runs ``spans`` make together: a span starting before the ends
    seen so far goes on with the run (as migration 0012 merges them)."""
    runs: list[list[str]] = []
    for first, end in sorted((first, end or OPEN_END) for first, end in spans):
        if runs and first <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([first, end])
    return [(first, None if end == OPEN_END else end) for first, end in runs]


def _person_months(session, persons: set[str]) -> set[tuple]:
    """The rows of :class:`PersonMonths` the facts give ``persons`` now: (person, region,
    disability, measure, from_month, to_month)."""
    spans: dict[tuple[str, str], list] = {}
    for person, region, first, end in session.execute(
            sa.select(PersonIdentity.resolved, CaseSpan.region, CaseSpan.from_month, CaseSpan.to_month)
            .join(PersonIdentity, sa.and_(PersonIdentity.node == CaseSpan.node,
                                          PersonIdentity.person_key == CaseSpan.person_key))
            .where(PersonIdentity.resolved.in_(persons))):
        for scope in (region, PROVINCE):
            spans.setdefault((person, scope), []).append((first, end))
    runs = {key: _runs(items) for key, items in spans.items()}
    rows = {(person, scope, "", "persons", first, end) for (person, scope), items in runs.items()
            for first, end in items}
    for person, region, month in session.execute(
            sa.select(PersonIdentity.resolved, CaseFact.region, CaseStep.month)
            .join(CaseFact, sa.and_(CaseFact.case_id == CaseStep.case_id, CaseFact.node == CaseStep.node))
            .join(PersonIdentity, sa.and_(PersonIdentity.node == CaseFact.node,
                                          PersonIdentity.person_key == CaseFact.person_key))
            .where(CaseStep.kind == "opened", PersonIdentity.resolved.in_(persons))):
        rows |= {(person, scope, "", "new_persons", month, None) for scope in (region, PROVINCE)}
    # Registered with a disability from the first month a registration of theirs in the region
    # says so; with an active case (in any regency) in those of these months they have one open.
    registered: dict[tuple[str, str, str], str] = {}
    for person, region, month, disability in session.execute(
            sa.select(PersonIdentity.resolved, PersonFact.region, PersonFact.month, PersonDisabilityFact.disability)
            .join(PersonDisabilityFact, sa.and_(PersonDisabilityFact.node == PersonFact.node,
                                                PersonDisabilityFact.person_key == PersonFact.person_key))
            .join(PersonIdentity, sa.and_(PersonIdentity.node == PersonFact.node,
                                          PersonIdentity.person_key == PersonFact.person_key))
            .where(PersonIdentity.resolved.in_(persons))):
        for scope in (region, PROVINCE):
            registered[(person, scope, disability)] = min(month, registered.get((person, scope, disability), month))
    for (person, scope, disability), since in registered.items():
        rows.add((person, scope, disability, "registered", since, None))
        for first, end in runs.get((person, PROVINCE), ()):
            first = max(first, since)
            if end is None or end > first:
                rows.add((person, scope, disability, "with_active_case", first, end))
    return rows


def _recompute_persons(session, persons) -> None:
    """Derive the months ``persons`` count in again, after their cases' spans, their registrations
    or their keys changed, and change the person tally by the difference."""
    persons = set(persons)
    if persons:
        replace_runs(session, PersonMonths, PersonTally, persons, lambda: _person_months(session, persons))


def replace_runs(session, runs, tally, persons: set[str], derive) -> None:
    """Make the rows of ``runs`` (person, *scope, measure, from_month, to_month) of ``persons``
    those ``derive()`` gives now, and change ``tally`` (*scope, month, measure, n) by the
    difference: +1 where a run starts, -1 where it ends. Under the summaries' lock: two
    transactions would each add the same difference."""
    lock_summaries(session)
    columns = list(runs.__table__.c)
    kept = set(session.execute(sa.select(*columns).where(columns[0].in_(persons))).all())
    now_rows = derive()
    if kept == now_rows:
        return
    counts: Counter = Counter()
    for rows, sign in ((kept - now_rows, -1), (now_rows - kept, +1)):
        for *scope, measure, first, end in (row[1:] for row in rows):
            counts[(*scope, first, measure)] += sign
            if end is not None:
                counts[(*scope, end, measure)] -= sign
    if gone := kept - now_rows:
        session.execute(sa.delete(runs.__table__).where(sa.tuple_(*columns[:-1]).in_([row[:-1] for row in gone])))
    if added := now_rows - kept:
        session.execute(sa.insert(runs.__table__),
                        [dict(zip((c.name for c in columns), row)) for row in sorted(added)])
    add_counts(session, tally, tuple(c.name for c in tally.__table__.primary_key.columns), counts)


def _case_of(session, event: Event) -> CaseFact | None:
    """The event's case, once no other event of it is being applied (None: not opened yet)."""
    case_id = str(event.payload["case_id"])
    _lock(session, "case", case_id)
    cases = session.info.get(_CASES, {})
    case = cases[case_id] if case_id in cases else session.get(CaseFact, case_id)
    if case is not None and case.node != event.node:
        raise RefusedEvent(f"node {event.node} sent {event.event_type} for a case of node {case.node}")
    return case


def _add_step(uow, event: Event, case: CaseFact | None, kind: str, stage: str, outcome: str | None = None) -> None:
    """Keep the step (a known one is kept once), and derive the case's spans again; a case not
    opened yet has none: its opening, still to come, derives them from every step it finds. In a
    batch both are done at its end, the spans once per case (its lock is held until then)."""
    uow.insert("case_step", _NEW_STEP, {
        "case_id": str(event.payload["case_id"]), "sequence": event.sequence, "node": event.node, "kind": kind,
        "occurred_at": event.occurred_at, "month": month_of(event.occurred_at), "stage": stage, "outcome": outcome},
        key=(str(event.payload["case_id"]), event.sequence))
    if case is not None:
        uow.later("case_spans", functools.partial(_recompute_spans, uow), case, key=case.case_id, rank=1)


def apply_case_opened(uow, event: Event) -> None:
    payload, session = event.payload, uow.session
    case = _case_of(session, event)
    if case is None:
        case = CaseFact(case_id=str(payload["case_id"]), node=event.node, region=payload["region"],
                        category=payload["category"], person_key=payload["person_key"])
        session.add(case)
        if (cases := session.info.get(_CASES)) is not None:
            cases[case.case_id] = case  # the batch's next events find it here; inserted at the first flush
        else:
            session.flush()
    _know_key(uow, event.node, payload["person_key"])  # before the spans: their person is counted by it
    _add_step(uow, event, case, "opened", payload["stage"])


def apply_stage_changed(uow, event: Event) -> None:
    _add_step(uow, event, _case_of(uow.session, event), "stage_changed", event.payload["to_stage"])


def apply_case_closed(uow, event: Event) -> None:
    _add_step(uow, event, _case_of(uow.session, event), "closed", "terminasi", event.payload["outcome"])


def apply_case_reopened(uow, event: Event) -> None:
    _add_step(uow, event, _case_of(uow.session, event), "reopened", event.payload["stage"])


HANDLERS = {
    "*": note_activity,
    "person.registered": apply_person_registered,
    "person.identified": apply_person_identified,
    "case.opened": apply_case_opened,
    "case.stage_changed": apply_stage_changed,
    "case.closed": apply_case_closed,
    "case.reopened": apply_case_reopened,
}


# -- queries -----------------------------------------------------------------------------------------
def _month_table(months: list[str]):
    selects = [sa.select(sa.literal(month, sa.String(7)).label("month")) for month in months]
    return (sa.union_all(*selects) if len(selects) > 1 else selects[0]).subquery("months")


def regencies_in(regency: str | None) -> list[str]:
    return [regency] if regency else list(reference.REGENCIES)


def activity(session, months: list[str], regencies: list[str]) -> set[tuple[str, str]]:
    """(regency, month) pairs whose node sent something that occurred in the month."""
    return set(session.execute(sa.select(NodeActivity.node, NodeActivity.month)
                               .where(NodeActivity.month.in_(months), NodeActivity.node.in_(regencies))).all())


def _with_data(query, region_column, month_column):
    """Only rows of a regency in a month its node sent something for: what a silent regency
    would add to a province figure is unknown."""
    return query.join(NodeActivity, sa.and_(NodeActivity.node == region_column, NodeActivity.month == month_column))


def _steps(months: list[str], regencies: list[str], categories: tuple[str, ...] | None):
    """Opened, closed and reopened steps in the months, with their case's place and person."""
    query = (sa.select(CaseStep.month, CaseFact.region, CaseFact.category, CaseStep.kind, CaseStep.outcome,
                       PersonIdentity.resolved.label("person"))
             .join(CaseFact, sa.and_(CaseFact.case_id == CaseStep.case_id, CaseFact.node == CaseStep.node))
             .join(PersonIdentity, sa.and_(PersonIdentity.node == CaseFact.node,
                                           PersonIdentity.person_key == CaseFact.person_key))
             .where(CaseStep.month.in_(months), CaseStep.kind.in_(tuple(STATUS_OF)), CaseFact.region.in_(regencies)))
    if categories is not None:
        query = query.where(CaseFact.category.in_(categories))
    return _with_data(query, CaseFact.region, CaseStep.month).subquery("steps")


def _active(months: list[str], regencies: list[str], categories: tuple[str, ...] | None):
    """One row per case open at the end of each month, with its stage and person."""
    month = _month_table(months)
    query = (sa.select(month.c.month, CaseSpan.region, CaseSpan.category, CaseSpan.stage,
                       PersonIdentity.resolved.label("person"))
             .select_from(CaseSpan)
             .join(month, sa.and_(CaseSpan.from_month <= month.c.month,
                                  sa.or_(CaseSpan.to_month.is_(None), CaseSpan.to_month > month.c.month)))
             .join(PersonIdentity, sa.and_(PersonIdentity.node == CaseSpan.node,
                                           PersonIdentity.person_key == CaseSpan.person_key))
             .where(CaseSpan.region.in_(regencies)))
    if categories is not None:
        query = query.where(CaseSpan.category.in_(categories))
    return _with_data(query, CaseSpan.region, month.c.month).subquery("active")


def _persons(session, rows, by_region: bool) -> dict:
    keys = (rows.c.month, rows.c.region) if by_region else (rows.c.month,)
    found = session.execute(sa.select(*keys, sa.func.count(sa.distinct(rows.c.person))).group_by(*keys)).all()
    return {tuple(row[:-1]) if by_region else row[0]: row[-1] for row in found}


def _categories(category: str | None, within: tuple[str, ...] | None = None) -> tuple[str, ...] | None:
    if within is None:
        return (category,) if category else None
    return tuple(c for c in within if c == category) if category else within


def _tally(session, months: list[str], regencies: list[str], categories: tuple[str, ...] | None):
    """The tally's rows for the months (the steps' counts and the changes of ``active``) and, as
    month ``None``, the sum of the changes of ``active`` before the first month."""
    t = CaseTally
    where = [t.region.in_(regencies)] + ([t.category.in_(categories)] if categories is not None else [])
    keys = (t.region, t.category, t.stage)
    before = (sa.select(*keys, sa.literal(None, sa.String(7)), sa.literal("active"), sa.func.sum(t.n))
              .where(*where, t.measure == "active", t.month < months[0]).group_by(*keys))
    within = sa.select(*keys, t.month, t.measure, t.n).where(*where, t.month.in_(months))
    return session.execute(before.union_all(within)).all()


def case_counts(session, months: list[str], regencies: list[str], categories: tuple[str, ...] | None,
                persons: bool = True, sent: set[tuple[str, str]] | None = None) -> dict:
    """Raw counts (only where the regency's node sent something that month):
    ``cells[(regency, month)]`` new/active/closed/reopened/persons/new_persons, and province-level
    ``persons``/``new_persons`` per month (unique across regencies), ``by_stage`` and
    ``by_category`` per month. From the case tally; unique persons (``persons``) from the facts."""
    cells: dict[tuple[str, str], dict] = {}

    def cell(region, month):
        return cells.setdefault((region, month), {"new": 0, "active": 0, "closed": dict.fromkeys(OUTCOMES, 0),
                                                  "reopened": 0, "persons": 0, "new_persons": 0})

    if sent is None:  # the caller's, when it has them already: (regency, month) pairs that sent
        sent = activity(session, months, regencies)
    by_stage: dict[tuple[str, str], int] = {}
    by_category: dict[tuple[str, str], dict] = {}
    open_before: Counter = Counter()  # (region, category, stage): cases open at the end of the month before
    changes: dict[str, Counter] = {month: Counter() for month in months}
    for region, category, stage, month, measure, n in _tally(session, months, regencies, categories):
        if measure == "active":
            (open_before if month is None else changes[month])[(region, category, stage)] += n
        elif (region, month) in sent:
            target = cell(region, month)
            if measure == "new":
                target["new"] += n
                by_category.setdefault((category, month), {"new": 0, "active": 0})["new"] += n
            elif measure == "reopened":
                target["reopened"] += n
            else:
                target["closed"][measure.removeprefix("closed_")] += n
    active = open_before
    for month in months:
        active.update(changes[month])
        for (region, category, stage), n in active.items():
            if n and (region, month) in sent:
                cell(region, month)["active"] += n
                by_stage[(stage, month)] = by_stage.get((stage, month), 0) + n
                by_category.setdefault((category, month), {"new": 0, "active": 0})["active"] += n
    result = {"cells": cells, "by_stage": by_stage, "by_category": by_category}
    if persons and categories is None:
        result.update(_persons_from_tally(session, months, regencies, sent, cell))
    elif persons:
        # Unique persons of some categories only: counted from the facts (the tally has no categories).
        result.update(_persons_from_facts(session, months, regencies, categories, cell))
    return result


def _persons_from_facts(session, months, regencies, categories, cell) -> dict:
    active = _active(months, regencies, categories)
    steps = _steps(months, regencies, categories)
    new_steps = sa.select(steps).where(steps.c.kind == "opened").subquery("new_steps")
    for (month, region), n in _persons(session, active, by_region=True).items():
        cell(region, month)["persons"] = n
    for (month, region), n in _persons(session, new_steps, by_region=True).items():
        cell(region, month)["new_persons"] = n
    return {"persons": _persons(session, active, by_region=False),
            "new_persons": _persons(session, new_steps, by_region=False)}


def _persons_from_tally(session, months, regencies, sent, cell) -> dict:
    """Unique persons per regency and month from the person tally, and in the province: its own
    runs, when every regency sent something that month; else from the facts of that month (a
    silent regency's persons are left out, and a person in two regencies still counts once)."""
    t = PersonTally
    scopes = [*regencies, PROVINCE]
    before = (sa.select(t.region, sa.literal(None, sa.String(7)), t.measure, sa.func.sum(t.n))
              .where(t.region.in_(scopes), t.disability == "", t.measure == "persons", t.month < months[0])
              .group_by(t.region, t.measure))
    within = (sa.select(t.region, t.month, t.measure, t.n)
              .where(t.region.in_(scopes), t.disability == "", t.month.in_(months)))
    open_now: Counter = Counter()
    changes: dict[str, Counter] = {month: Counter() for month in months}
    new: dict[tuple[str, str], int] = {}
    for region, month, measure, n in session.execute(before.union_all(within)):
        if measure == "persons":
            (open_now if month is None else changes[month])[region] += n
        else:
            new[(region, month)] = n
    whole = set(regencies) == set(reference.REGENCIES)
    result: dict[str, dict] = {"persons": {}, "new_persons": {}}
    partial = []  # months in which some regencies sent nothing: from the facts, in one query
    for month in months:
        open_now.update(changes[month])
        for region in regencies:
            if (region, month) in sent:
                for key, n in (("persons", open_now[region]), ("new_persons", new.get((region, month), 0))):
                    if n:
                        cell(region, month)[key] = n
        if not any((region, month) in sent for region in regencies):
            continue
        if not whole:  # one regency: the province is that regency
            result["persons"][month] = open_now[regencies[0]]
            result["new_persons"][month] = new.get((regencies[0], month), 0)
        elif all((region, month) in sent for region in regencies):
            result["persons"][month] = open_now[PROVINCE]
            result["new_persons"][month] = new.get((PROVINCE, month), 0)
        else:
            partial.append(month)
    if partial:
        facts = _persons_from_facts(session, partial, regencies, None, lambda region, month: {})
        for month in partial:
            result["persons"][month] = facts["persons"].get(month, 0)
            result["new_persons"][month] = facts["new_persons"].get(month, 0)
    return result


# -- figures for the API -------------------------------------------------------------------------------
FIGURES = ("new", "active", "reopened", "persons", "new_persons")


def _per_10k(values: dict, population: int) -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out[f"{key}_per_10k"] = {k: _rate(v, population) for k, v in value.items()}
        else:
            out[f"{key}_per_10k"] = _rate(value, population)
    return out


def _rate(value: int | None, population: int) -> float | None:
    return None if value is None or not population else round(value * 10_000 / population, 2)


def _empty() -> dict:
    """A month without data: every figure unknown."""
    return {**dict.fromkeys(FIGURES), "closed": dict.fromkeys(OUTCOMES)}


def _zero() -> dict:
    """A month with data and nothing counted."""
    return {**dict.fromkeys(FIGURES, 0), "closed": dict.fromkeys(OUTCOMES, 0)}


def _sum(cells: list[dict]) -> dict:
    return {**{k: sum(c[k] for c in cells) for k in ("new", "active", "reopened")},
            "closed": {o: sum(c["closed"][o] for c in cells) for o in OUTCOMES}}


def _filters(first: str, last: str, regency: str | None, category: str | None) -> dict:
    return {"from": first, "to": last, "regency": regency, "category": category}


def case_figures(session, first: str, last: str, regency: str | None = None, category: str | None = None) -> dict:
    """New, active, closed by outcome, reopened and unique persons per regency and month, with
    the province's totals over the regencies that sent something, by stage and by category."""
    months, regencies = months_between(first, last), regencies_in(regency)
    sent = activity(session, months, regencies)
    counts = case_counts(session, months, regencies, _categories(category), sent=sent)
    rows = []
    for code in regencies:
        population = reference.POPULATION[code]
        entries = []
        for month in months:
            has_data = (code, month) in sent
            values = counts["cells"].get((code, month)) or _zero() if has_data else _empty()
            entries.append({"month": month, "has_data": has_data, **values, **_per_10k(values, population)})
        rows.append({"regency": code, "name": reference.region_name(code), "population": population,
                     "months": entries})
    province = []
    for i, month in enumerate(months):
        with_data = [r for r in rows if r["months"][i]["has_data"]]
        population = sum(r["population"] for r in with_data)
        values = _empty()
        if with_data:
            values = {**_sum([r["months"][i] for r in with_data]), "persons": counts["persons"].get(month, 0),
                      "new_persons": counts["new_persons"].get(month, 0)}
        province.append({"month": month, "regencies_with_data": [r["regency"] for r in with_data],
                         "regencies_without_data": [r["regency"] for r in rows if not r["months"][i]["has_data"]],
                         "population_with_data": population, **values, **_per_10k(values, population)})
    any_data = [bool(p["regencies_with_data"]) for p in province]
    return {
        "generated_at": now().isoformat(), "filters": _filters(first, last, regency, category), "months": months,
        "population_source": reference.POPULATION_SOURCE,
        "province": {"population": sum(reference.POPULATION[c] for c in regencies), "months": province},
        "regencies": rows,
        "by_stage": [{"stage": s["code"], "name": s["name_id"],
                      "months": [{"month": month, "active": counts["by_stage"].get((s["code"], month), 0) if ok else None}
                                 for month, ok in zip(months, any_data)]} for s in reference.REHAB_STAGES],
        "by_category": [{"category": code, "name": c.name_id, "group": c.group,
                         "months": [{"month": month,
                                     **(counts["by_category"].get((code, month), {"new": 0, "active": 0}) if ok
                                        else {"new": None, "active": None})}
                                    for month, ok in zip(months, any_data)]}
                        for code, c in reference.PPKS_CATEGORIES.items() if category in (None, code)],
    }


def _change(now_value: int | None, before: int | None) -> tuple[int | None, float | None]:
    """Against the same month a year earlier: (absolute, percent); unknown when either month has
    no data, and no percent from a base of 0."""
    if now_value is None or before is None:
        return None, None
    return now_value - before, (round(100 * (now_value - before) / before, 1) if before else None)


def _trend_values(new, active, new_before, active_before, population) -> dict:
    new_change, new_change_percent = _change(new, new_before)
    active_change, active_change_percent = _change(active, active_before)
    return {"new": new, "active": active, "new_per_10k": _rate(new, population),
            "active_per_10k": _rate(active, population), "new_year_before": new_before,
            "active_year_before": active_before, "new_change": new_change, "new_change_percent": new_change_percent,
            "active_change": active_change, "active_change_percent": active_change_percent}


def tuna_sosial_trend(session, first: str, last: str, regency: str | None = None, category: str | None = None) -> dict:
    """Monthly new and active cases of the tuna sosial categories per regency, against the same
    month a year earlier: is the number falling?"""
    months, regencies = months_between(first, last), regencies_in(regency)
    reach = months_between(add_months(first, -12), last)
    categories = _categories(category, TUNA_SOSIAL)
    sent = activity(session, reach, regencies)
    counts = case_counts(session, reach, regencies, categories, persons=False, sent=sent) if categories else {"cells": {}}

    def value(code, month, key):
        if (code, month) not in sent:
            return None
        return counts["cells"].get((code, month), {}).get(key, 0)

    rows = []
    for code in regencies:
        population = reference.POPULATION[code]
        rows.append({"regency": code, "name": reference.region_name(code), "population": population, "months": [
            {"month": month, "has_data": (code, month) in sent,
             **_trend_values(value(code, month, "new"), value(code, month, "active"),
                             value(code, add_months(month, -12), "new"), value(code, add_months(month, -12), "active"),
                             population)} for month in months]})
    province = []
    for month in months:
        before = add_months(month, -12)
        with_data = [c for c in regencies if (c, month) in sent]
        # The change is over the regencies known in both months: a regency silent in one of them
        # would otherwise count as a rise or a fall.
        both = [c for c in with_data if (c, before) in sent]

        def total(codes, at, key):
            return sum(value(c, at, key) for c in codes) if codes else None

        entry = _trend_values(total(with_data, month, "new"), total(with_data, month, "active"),
                              total(both, before, "new"), total(both, before, "active"),
                              sum(reference.POPULATION[c] for c in with_data))
        for key in ("new", "active"):
            entry[f"{key}_change"], entry[f"{key}_change_percent"] = _change(total(both, month, key),
                                                                             entry[f"{key}_year_before"])
        province.append({"month": month, "regencies_with_data": with_data,
                         "regencies_without_data": [c for c in regencies if c not in with_data],
                         "regencies_compared": both, **entry})
    return {"generated_at": now().isoformat(), "filters": _filters(first, last, regency, category), "months": months,
            "categories": list(categories or ()), "population_source": reference.POPULATION_SOURCE,
            "province": {"population": sum(reference.POPULATION[c] for c in regencies), "months": province},
            "regencies": rows}


def _disability_counts(session, months: list[str], regencies: list[str], category: str | None) -> dict:
    """Unique persons registered with each disability type by the end of each month, and those of
    them with a case open at that month's end, per regency and (unique across regencies) in all:
    from the person tally; those with a case of one category, and the province in a month some
    regency was silent in, from the facts."""
    if category:
        return _disability_counts_from_facts(session, months, regencies, category)
    t, measures = PersonTally, ("registered", "with_active_case")
    scopes = [*regencies, PROVINCE]
    keys = (t.region, t.disability, t.measure)
    before = (sa.select(*keys, sa.literal(None, sa.String(7)), sa.func.sum(t.n))
              .where(t.region.in_(scopes), t.measure.in_(measures), t.month < months[0]).group_by(*keys))
    within = sa.select(*keys, t.month, t.n).where(t.region.in_(scopes), t.measure.in_(measures), t.month.in_(months))
    counted: Counter = Counter()
    changes: dict[str, Counter] = {month: Counter() for month in months}
    for region, disability, measure, month, n in session.execute(before.union_all(within)):
        (counted if month is None else changes[month])[(region, disability, measure)] += n
    sent = activity(session, months, regencies)
    whole = set(regencies) == set(reference.REGENCIES)
    result = {}
    partial = []
    for month in months:
        counted.update(changes[month])
        with_data = [region for region in regencies if (region, month) in sent]
        for (region, disability, measure), n in counted.items():
            if n and region in with_data:
                result[(measure, month, region, disability)] = n
        if not with_data:
            continue
        if not whole or len(with_data) == len(regencies):  # one regency is the province's whole
            scope = PROVINCE if whole else regencies[0]
            result.update({(measure, month, disability): n for (region, disability, measure), n in counted.items()
                           if n and region == scope})
        else:
            partial.append(month)
    if partial:  # months in which some regencies sent nothing: from the facts, in one query
        result.update({key: n for key, n in _disability_counts_from_facts(session, partial, regencies, None).items()
                       if len(key) == 3})
    return result


def _disability_counts_from_facts(session, months: list[str], regencies: list[str], category: str | None) -> dict:
    """Unique persons registered with each disability type by the end of each month, and those of
    them with a case open at that month's end, per regency and (unique across regencies) in all."""
    month = _month_table(months)
    registered = (sa.select(month.c.month, PersonFact.region, PersonDisabilityFact.disability,
                            PersonIdentity.resolved.label("person"))
                  .select_from(PersonFact)
                  .join(month, PersonFact.month <= month.c.month)
                  .join(PersonDisabilityFact, sa.and_(PersonDisabilityFact.node == PersonFact.node,
                                                      PersonDisabilityFact.person_key == PersonFact.person_key))
                  .join(PersonIdentity, sa.and_(PersonIdentity.node == PersonFact.node,
                                                PersonIdentity.person_key == PersonFact.person_key))
                  .where(PersonFact.region.in_(regencies)))
    registered = _with_data(registered, PersonFact.region, month.c.month)
    case_identity = aliased(PersonIdentity)
    open_case = (sa.select(CaseSpan.case_id)
                 .join(case_identity, sa.and_(case_identity.node == CaseSpan.node,
                                              case_identity.person_key == CaseSpan.person_key))
                 .where(case_identity.resolved == PersonIdentity.resolved, CaseSpan.from_month <= month.c.month,
                        sa.or_(CaseSpan.to_month.is_(None), CaseSpan.to_month > month.c.month)))
    if category:
        open_case = open_case.where(CaseSpan.category == category)
    with_case = registered.where(open_case.exists())
    result = {}
    for name, query in (("registered", registered), ("with_active_case", with_case)):
        rows = query.subquery()
        for keys in ((rows.c.month, rows.c.region, rows.c.disability), (rows.c.month, rows.c.disability)):
            for row in session.execute(sa.select(*keys, sa.func.count(sa.distinct(rows.c.person))).group_by(*keys)):
                result[(name, *row[:-1])] = row[-1]
    return result


def disability_coverage(session, first: str, last: str, regency: str | None = None,
                        category: str | None = None) -> dict:
    """Per disability type: unique persons registered (by the month's end) and those with an
    active case, per regency (where the person was registered) and in all, also per 10,000."""
    months, regencies = months_between(first, last), regencies_in(regency)
    counts = _disability_counts(session, months, regencies, category)
    sent = activity(session, months, regencies)

    def types(key, has_data, population):
        out = []
        for code, kind in reference.DISABILITY_TYPES.items():
            registered = counts.get(("registered", *key, code), 0) if has_data else None
            covered = counts.get(("with_active_case", *key, code), 0) if has_data else None
            out.append({"disability": code, "name": kind["name_id"], "registered": registered,
                        "with_active_case": covered, "registered_per_10k": _rate(registered, population),
                        "with_active_case_per_10k": _rate(covered, population)})
        return out

    rows = [{"regency": code, "name": reference.region_name(code), "population": reference.POPULATION[code],
             "months": [{"month": month, "has_data": (code, month) in sent,
                         "types": types((month, code), (code, month) in sent, reference.POPULATION[code])}
                        for month in months]} for code in regencies]
    province = []
    for month in months:
        with_data = [c for c in regencies if (c, month) in sent]
        population = sum(reference.POPULATION[c] for c in with_data)
        province.append({"month": month, "regencies_with_data": with_data,
                         "regencies_without_data": [c for c in regencies if c not in with_data],
                         "population_with_data": population, "types": types((month,), bool(with_data), population)})
    return {"generated_at": now().isoformat(), "filters": _filters(first, last, regency, category), "months": months,
            "population_source": reference.POPULATION_SOURCE,
            "province": {"population": sum(reference.POPULATION[c] for c in regencies), "months": province},
            "regencies": rows}


# -- laporan bulanan -----------------------------------------------------------------------------------
def monthly_report(session, month: str, regency: str | None = None) -> list[dict]:
    """The rows of the monthly report (*laporan bulanan*) for one month: one per regency (or the
    one asked for). A regency whose node sent nothing that month has ``has_data`` False and None
    for every figure."""
    cases = case_figures(session, month, month, regency)
    trend = tuna_sosial_trend(session, month, month, regency)
    rows = []
    for case_row, trend_row in zip(cases["regencies"], trend["regencies"]):
        c, t = case_row["months"][0], trend_row["months"][0]
        rows.append({
            "month": month, "regency": case_row["regency"], "name": case_row["name"],
            "population": case_row["population"], "has_data": c["has_data"],
            "new": c["new"], "new_per_10k": c["new_per_10k"], "active": c["active"],
            "active_per_10k": c["active_per_10k"],
            **{f"closed_{o}": c["closed"][o] for o in OUTCOMES},
            **{f"closed_{o}_per_10k": c["closed_per_10k"][o] for o in OUTCOMES},
            "reopened": c["reopened"], "reopened_per_10k": c["reopened_per_10k"],
            "persons": c["persons"], "persons_per_10k": c["persons_per_10k"],
            "new_persons": c["new_persons"], "new_persons_per_10k": c["new_persons_per_10k"],
            **{f"tuna_sosial_{k}": t[k] for k in ("new", "new_per_10k", "active", "active_per_10k",
                                                   "new_year_before", "active_year_before", "new_change",
                                                   "new_change_percent", "active_change", "active_change_percent")},
        })
    return rows
