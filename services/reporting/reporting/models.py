"""Reporting's tables: pseudonymous facts only (no name, NIK, address or birth date ever arrive)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from rehsos.outbox import messaging_tables
from rehsos.sqltypes import UtcDateTime


class Base(DeclarativeBase):
    metadata = sa.MetaData()


messaging = messaging_tables(Base.metadata)


class RegisteredCase(Base):
    """One case registered at a node, as the hub knows it."""
    __tablename__ = "registered_case"

    case_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    node: Mapped[str] = mapped_column(sa.String(8), index=True)
    region: Mapped[str] = mapped_column(sa.String(4), index=True)
    category: Mapped[str] = mapped_column(sa.String(64), index=True)
    sex: Mapped[str] = mapped_column(sa.String(8))
    age_band: Mapped[str] = mapped_column(sa.String(8))
    person_key: Mapped[str] = mapped_column(sa.String(64), index=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    closed: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # The sequence of the node's event that last changed the case: an older one arriving later
    # (consumers run concurrently, retries come back late) changes nothing.
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")


class RegisteredTally(Base):
    """The registered cases summed per regency and category: ``cases`` all of them, ``open`` those
    not closed; and (regency and category "") ``persons``, the person keys with a case. Kept with
    :class:`RegisteredCase`, so the summary and the capacity plan count rows, not a million cases."""
    __tablename__ = "registered_tally"
    __table_args__ = {"info": {"summary": True}}

    region: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    n: Mapped[int] = mapped_column(sa.Integer)


class RegisteredPerson(Base):
    """How many registered cases carry each person key (a renaming moves them to the new key): the
    key counts in ``persons`` while it has one."""
    __tablename__ = "registered_person"
    __table_args__ = {"info": {"summary": True}}

    person_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    cases: Mapped[int] = mapped_column(sa.Integer)


class PersonPresence(Base):
    """Which nodes have registered a person (by NIK-based key): how the hub spots one person
    registered in two regencies without seeing the NIK."""
    __tablename__ = "person_presence"

    person_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    node: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)


class FacilityCapacity(Base):
    """The newest ``capacity.changed`` snapshot of a facility (beds, not people)."""
    __tablename__ = "facility_capacity"

    facility_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    node: Mapped[str] = mapped_column(sa.String(8))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    regency: Mapped[str] = mapped_column(sa.String(4), index=True)
    categories: Mapped[list] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(24))
    units: Mapped[list] = mapped_column(sa.JSON)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)


class CentrePlan(Base):
    """The newest state of a planned rehabilitation centre (``plan.proposed`` / ``plan.updated``)."""
    __tablename__ = "centre_plan"

    plan_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    node: Mapped[str] = mapped_column(sa.String(8))
    regency: Mapped[str] = mapped_column(sa.String(4), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    categories: Mapped[list] = mapped_column(sa.JSON)
    planned_capacity: Mapped[int] = mapped_column(sa.Integer)
    target_year: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16))
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)


class ReferralStatus(Base):
    """Where a referral stands (requested, accepted, waitlisted, rejected, admitted, discharged)."""
    __tablename__ = "referral_status"

    referral_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    node: Mapped[str] = mapped_column(sa.String(8))
    facility_id: Mapped[str] = mapped_column(sa.String(64))
    facility_node: Mapped[str] = mapped_column(sa.String(8))
    category: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StreamRepair(Base):
    """The gaps last seen in a node's stream, and when the hub last asked the node to resend."""
    __tablename__ = "stream_repair"
    # The hub's own bookkeeping of the streams, not a figure made from events: a rebuild keeps it.
    __table_args__ = {"info": {"read_model": False}}

    node: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    service: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    seen_ranges: Mapped[list] = mapped_column(sa.JSON)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    requested_ranges: Mapped[list | None] = mapped_column(sa.JSON)
    requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    requests: Mapped[int] = mapped_column(sa.Integer, default=0)


class TrainingRecord(Base):
    """A training event as its organiser last announced it, and its newest counts (no names)."""
    __tablename__ = "training_record"

    event_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    node: Mapped[str] = mapped_column(sa.String(8))
    kind: Mapped[str | None] = mapped_column(sa.String(16))
    title: Mapped[str | None] = mapped_column(sa.String(300))
    theme: Mapped[str | None] = mapped_column(sa.String(300))
    start_date: Mapped[date | None] = mapped_column(sa.Date)
    end_date: Mapped[date | None] = mapped_column(sa.Date)
    quota: Mapped[int | None] = mapped_column(sa.Integer)
    topics: Mapped[list | None] = mapped_column(sa.JSON)
    demo: Mapped[bool | None] = mapped_column(sa.Boolean)
    status: Mapped[str] = mapped_column(sa.String(16))
    announced_as_of: Mapped[datetime | None] = mapped_column(UtcDateTime)
    days: Mapped[int | None] = mapped_column(sa.Integer)
    cells: Mapped[list | None] = mapped_column(sa.JSON)  # by regency and role: registered, attended, completed...
    counted_as_of: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StoredEvent(Base):
    """Every event the hub accepted, append-only, as it was accepted (the pseudonymous envelope:
    no name, NIK, address or birth date ever reaches the hub). ``rehsos hub rebuild`` replays it."""
    __tablename__ = "event_store"
    __table_args__ = (
        sa.Index("ix_event_store_stream", "node", "service", "sequence"),
        sa.Index("ix_event_store_node_received", "node", "received_at"),
        sa.Index("ix_event_store_node_type", "node", "event_type", "schema_version"),
        {"info": {"read_model": False}},
    )

    # Insertion order; SQLite only auto-numbers a plain INTEGER primary key.
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    node: Mapped[str] = mapped_column(sa.String(8))
    service: Mapped[str] = mapped_column(sa.String(32))
    sequence: Mapped[int] = mapped_column(sa.BigInteger)
    event_type: Mapped[str] = mapped_column(sa.String(64))
    schema_version: Mapped[int] = mapped_column(sa.Integer)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    envelope: Mapped[str] = mapped_column(sa.Text)  # the event as JSON (rehsos.contracts.Event.to_json)


class StreamRange(Base):
    """A run of consecutive sequences of a node's stream in the hub's inbox, with how many and when
    the last of them arrived: what the stream figures sum instead of the whole inbox (millions of
    rows). Each batch appends the runs of its own events (no row two batches write), and the
    repair check merges the runs that meet. The hub's bookkeeping of its inbox: a rebuild keeps it."""
    __tablename__ = "stream_range"
    __table_args__ = {"info": {"read_model": False}}

    node: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    service: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    first_sequence: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(sa.BigInteger)
    received: Mapped[int] = mapped_column(sa.Integer)
    last_received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NodeHeartbeat(Base):
    """The newest ``node.heartbeat`` of each service of each node."""
    __tablename__ = "node_heartbeat"

    node: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    service: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)
    outbox_waiting: Mapped[int] = mapped_column(sa.Integer)


# -- case figures over time (reporting.caseload) ------------------------------------------------------
class CaseFact(Base):
    """A case as opened (``case.opened``): where it counts, never who it is beyond a person key."""
    __tablename__ = "case_fact"
    # A person's cases, for their months in the person tally (reporting.caseload._person_months).
    __table_args__ = (sa.Index("ix_case_fact_person", "node", "person_key"),)

    case_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    node: Mapped[str] = mapped_column(sa.String(8))
    region: Mapped[str] = mapped_column(sa.String(4), index=True)
    category: Mapped[str] = mapped_column(sa.String(64), index=True)
    person_key: Mapped[str] = mapped_column(sa.String(64))


class CaseStep(Base):
    """One event in a case's history (opened, stage changed, closed, reopened), keyed by the
    node's sequence so that the case's state at any month's end does not depend on arrival order."""
    __tablename__ = "case_step"

    case_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    sequence: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    node: Mapped[str] = mapped_column(sa.String(8))
    kind: Mapped[str] = mapped_column(sa.String(16))  # opened, stage_changed, closed, reopened
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    month: Mapped[str] = mapped_column(sa.String(7), index=True)  # WITA, "YYYY-MM"
    stage: Mapped[str] = mapped_column(sa.String(32))
    outcome: Mapped[str | None] = mapped_column(sa.String(16))  # of a closure
    # In the case tally already: a step of a case not opened yet (or redelivered) is counted once,
    # when its case's spans are derived with it.
    counted: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())


class CaseSpan(Base):
    """Months at whose end a case was open in one stage: from ``from_month`` up to, not including,
    ``to_month`` (None: still open). Derived from the case's steps, recomputed at each of them."""
    __tablename__ = "case_span"
    __table_args__ = (sa.Index("ix_case_span_person", "node", "person_key"),)

    case_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    from_month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    to_month: Mapped[str | None] = mapped_column(sa.String(7))
    stage: Mapped[str] = mapped_column(sa.String(32))
    node: Mapped[str] = mapped_column(sa.String(8))
    region: Mapped[str] = mapped_column(sa.String(4), index=True)
    category: Mapped[str] = mapped_column(sa.String(64))
    person_key: Mapped[str] = mapped_column(sa.String(64))


class CaseTally(Base):
    """The case facts summed per regency, category, month (WITA) and stage, kept with them in the
    same unit of work: ``new``, ``reopened`` and ``closed_<outcome>`` count the steps of that month;
    ``active`` is a change (+1 where a span starts, -1 where it ends), so the cases open at a month's
    end are the sum of ``active`` up to that month. The figures sum a few thousand of these rows
    instead of joining a million cases with the months."""
    __tablename__ = "case_tally"
    __table_args__ = {"info": {"summary": True}}

    region: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    stage: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    n: Mapped[int] = mapped_column(sa.Integer)


class PersonMonths(Base):
    """The months a person (a resolved key) counts in a regency, or in the province (region ""):
    ``persons``, with a case open at the month's end, from ``from_month`` up to, not including,
    ``to_month`` (None: still); ``new_persons``, with a case opened in ``from_month``; per
    disability type, ``registered`` with it by the month's end and ``with_active_case`` too, a
    case of theirs (anywhere) open at its end. Several cases of one person make one run of
    months: the person counts once. Kept so that a change of
    the person's cases or keys changes the person tally by the difference only."""
    __tablename__ = "person_months"
    __table_args__ = {"info": {"summary": True}}

    person: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    region: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    disability: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # "" but for the two below
    measure: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    from_month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    to_month: Mapped[str | None] = mapped_column(sa.String(7))


class PersonTally(Base):
    """Unique persons per regency (or the province, region ""), disability type and month:
    ``new_persons`` counts them; the other measures are changes (+1 where a run of
    :class:`PersonMonths` starts, -1 where it ends), summed up to a month for the persons counted
    at its end."""
    __tablename__ = "person_tally"
    __table_args__ = {"info": {"summary": True}}

    region: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    disability: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    n: Mapped[int] = mapped_column(sa.Integer)


class PersonFact(Base):
    """A person as registered at a node (``person.registered``): region, month, no identity."""
    __tablename__ = "person_fact"

    node: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    person_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    region: Mapped[str] = mapped_column(sa.String(4), index=True)
    month: Mapped[str] = mapped_column(sa.String(7))
    sequence: Mapped[int] = mapped_column(sa.BigInteger)


class PersonDisabilityFact(Base):
    """A disability type a registered person has (several per person are common)."""
    __tablename__ = "person_disability_fact"

    node: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    person_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    disability: Mapped[str] = mapped_column(sa.String(32), primary_key=True)


class PersonAlias(Base):
    """``person.identified`` at a node: its key ``previous_key`` became ``person_key`` (a NIK
    attached, two records merged, the key secret renewed); the newest (by sequence) wins."""
    __tablename__ = "person_alias"

    node: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    previous_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    person_key: Mapped[str] = mapped_column(sa.String(64))
    sequence: Mapped[int] = mapped_column(sa.BigInteger)


class PersonIdentity(Base):
    """Every person key a node used, with the key it ends at after all known aliases: unique
    persons are counted by ``resolved``, whatever order the aliases arrived in."""
    __tablename__ = "person_identity"

    node: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    person_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    resolved: Mapped[str] = mapped_column(sa.String(64), index=True)


class NodeActivity(Base):
    """The months (WITA) in which a node sent something the hub accepted: a month without a row
    is a month the node sent nothing for, shown as "tidak ada data", never as 0."""
    __tablename__ = "node_activity"

    node: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)


class ReferralTimeline(Base):
    """A referral's timeline: when it was requested and when each kind of answer first came
    (earliest wins, so redelivered and reordered answers leave the same timeline)."""
    __tablename__ = "referral_timeline"
    __table_args__ = (sa.Index("ix_referral_timeline_person", "person"),
                      sa.Index("ix_referral_timeline_counts_until", "counts_until"))

    referral_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    node: Mapped[str] = mapped_column(sa.String(8))  # the referring node
    facility_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    facility_node: Mapped[str | None] = mapped_column(sa.String(8))
    category: Mapped[str | None] = mapped_column(sa.String(64))  # known from the request
    person_key: Mapped[str | None] = mapped_column(sa.String(64))
    requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    waitlisted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    admitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    discharged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Where the referral counts in the demand for beds, as reporting.flows.timelines places it
    # (its case's regency and person key, else the referring node and its own key, else its id):
    # kept as its case arrives and its key is renamed, so the demand reads no join.
    region: Mapped[str | None] = mapped_column(sa.String(8))
    person: Mapped[str | None] = mapped_column(sa.String(64))
    # Past this moment the referral's person is neither waiting for a bed through it nor in one
    # (its latest step); None while it may still be (waiting unanswered, or admitted and not
    # discharged): the people waiting and in a bed now are read from these few rows, not from all.
    counts_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DemandMonths(Base):
    """The months at whose end a person (the key of the referral's case, else the referral's, else
    the referral's id) waits for a bed or is in one through a referral of a regency (of the case,
    as :func:`reporting.flows.timelines` places it) and a category ("": any), from ``from_month``
    up to, not including, ``to_month`` (None: still): ``demand``, the person's spells merged into
    runs, so that they count once; ``requested``, from the month of their first request there
    (the first month the regency's history starts with). Kept so that a change of the person's
    referrals, cases or keys changes the demand tally by the difference only."""
    __tablename__ = "demand_months"
    __table_args__ = {"info": {"summary": True}}

    person: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    region: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    from_month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    to_month: Mapped[str | None] = mapped_column(sa.String(7))


class DemandTally(Base):
    """Persons waiting for a bed or in one per regency, category ("": any) and month: changes
    (+1 where a run of :class:`DemandMonths` starts, -1 where it ends), summed up to a month for
    the people counted at its end; ``requested`` counts those whose first request was that month."""
    __tablename__ = "demand_tally"
    __table_args__ = {"info": {"summary": True}}

    region: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    measure: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    n: Mapped[int] = mapped_column(sa.Integer)
