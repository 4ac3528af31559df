"""Intake's tables. Personal data (name, NIK, birth date, address, phone, guardian) lives here
and nowhere else."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from rehsos import reference
from rehsos.outbox import messaging_tables
from rehsos.sqltypes import UtcDateTime


class Base(DeclarativeBase):
    metadata = sa.MetaData()


messaging = messaging_tables(Base.metadata)


class Person(Base):
    """A person registered at this node (*penerima manfaat*).

    People found without papers get a ``registration_no`` and no NIK; the NIK is attached later.
    Either ``birth_date`` or ``birth_year_estimated`` is known.
    """
    __tablename__ = "person"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    registration_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Normalised, for matching; folding lengthens ("M." is "muhammad"): 4.5 times the longest name.
    # Indexed with the id on PostgreSQL (ix_person_name_key, intake migration 0010): the search
    # sorted by name tests names in the index alone.
    name_key: Mapped[str] = mapped_column(sa.String(900))
    nik: Mapped[str | None] = mapped_column(sa.String(16), unique=True)
    sex: Mapped[str] = mapped_column(sa.String(8))
    birth_date: Mapped[date | None] = mapped_column(sa.Date)
    birth_year_estimated: Mapped[int | None] = mapped_column(sa.Integer)
    regency: Mapped[str] = mapped_column(sa.String(4))
    # A code of rehsos/data/kecamatan.csv in the person's regency. Text written before the list
    # existed that names none of them stays in kecamatan_legacy, the code NULL (migration 0007).
    kecamatan: Mapped[str | None] = mapped_column(sa.String(6), index=True)
    kecamatan_legacy: Mapped[str | None] = mapped_column(sa.String(100))
    desa: Mapped[str | None] = mapped_column(sa.String(100))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    guardian_name: Mapped[str | None] = mapped_column(sa.String(200))
    guardian_relationship: Mapped[str | None] = mapped_column(sa.String(50))
    guardian_phone: Mapped[str | None] = mapped_column(sa.String(20))
    person_key: Mapped[str] = mapped_column(sa.String(64), index=True)
    merged_into: Mapped[str | None] = mapped_column(sa.String(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    cases: Mapped[list["Case"]] = relationship(back_populates="person")
    categories: Mapped[list["PersonCategory"]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    disabilities: Mapped[list["PersonDisability"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    __table_args__ = (sa.Index("ix_person_name_key", "name_key", postgresql_include=["id"]),)

    @property
    def birth_year(self) -> int | None:
        return self.birth_date.year if self.birth_date else self.birth_year_estimated


class PersonCategory(Base):
    """A PPKS category a person falls under (several are possible)."""
    __tablename__ = "person_category"

    person_id: Mapped[str] = mapped_column(sa.ForeignKey("person.id"), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    reference_version: Mapped[int] = mapped_column(sa.Integer)


class PersonDisability(Base):
    """A disability type (*ragam disabilitas*), with sensory subtypes (netra, rungu, wicara)."""
    __tablename__ = "person_disability"

    person_id: Mapped[str] = mapped_column(sa.ForeignKey("person.id"), primary_key=True)
    disability: Mapped[str] = mapped_column(sa.String(32), primary_key=True)


class Consent(Base):
    """A dated consent record for one purpose (*persetujuan*), by the person or their guardian."""
    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(sa.ForeignKey("person.id"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(32))
    legal_basis: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))  # given, withdrawn
    given_by: Mapped[str] = mapped_column(sa.String(16))  # person, guardian
    recorded_on: Mapped[date] = mapped_column(sa.Date)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(sa.String(255))
    note: Mapped[str | None] = mapped_column(sa.String(500))


class Case(Base):
    """A case (*kasus*): one episode of service for a person, in one PPKS category."""
    __tablename__ = "case"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.ForeignKey("person.id"), index=True)
    category: Mapped[str] = mapped_column(sa.String(64), index=True)
    regency: Mapped[str] = mapped_column(sa.String(4), index=True)
    kecamatan: Mapped[str | None] = mapped_column(sa.String(6), index=True)  # the person's, when it opened
    kecamatan_legacy: Mapped[str | None] = mapped_column(sa.String(100))
    stage: Mapped[str] = mapped_column(sa.String(32), index=True)
    status: Mapped[str] = mapped_column(sa.String(24), index=True)  # open, closure_requested, closed
    worker: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    registered_by: Mapped[str] = mapped_column(sa.String(255))
    closure_reason: Mapped[str | None] = mapped_column(sa.String(500))
    closure_outcome: Mapped[str | None] = mapped_column(sa.String(16))
    closure_requested_by: Mapped[str | None] = mapped_column(sa.String(255))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reopen_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # The stage's place in the order of rehabilitation, generated by the database (migration 0009):
    # the search sorted by stage walks its indexes.
    stage_rank: Mapped[int | None] = mapped_column(sa.Integer, sa.Computed(
        "CASE stage " + " ".join(f"WHEN '{code}' THEN {i}" for i, code in enumerate(reference.STAGES)) + " END"))

    person: Mapped[Person] = relationship(back_populates="cases", lazy="joined")

    __table_args__ = (sa.Index("ix_case_stage_rank", "stage_rank", "id"),
                      sa.Index("ix_case_stage_rank_desc", sa.text("stage_rank DESC"), "id"))


class CaseHistory(Base):
    """The case timeline: every step, in order, with who did it."""
    __tablename__ = "case_history"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[dict] = mapped_column(sa.JSON)
    # Only so that a flush writes a new case before its first entry (the ORM orders inserts by
    # relationships, not by foreign keys): one flush for a whole registration.
    case: Mapped["Case"] = relationship(lazy="raise")


class Assessment(Base):
    """*Asesmen*: needs per ATENSI component, risk level and recommendation."""
    __tablename__ = "assessment"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"), index=True)
    needs: Mapped[dict] = mapped_column(sa.JSON)
    risk_level: Mapped[str] = mapped_column(sa.String(16))
    recommendation: Mapped[str] = mapped_column(sa.String(2000))
    assessed_by: Mapped[str] = mapped_column(sa.String(255))
    assessed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InterventionPlan(Base):
    """*Rencana intervensi*: planned ATENSI components, responsible worker, target dates."""
    __tablename__ = "intervention_plan"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"), index=True)
    components: Mapped[list] = mapped_column(sa.JSON)
    responsible_worker: Mapped[str] = mapped_column(sa.String(200))
    target_dates: Mapped[dict] = mapped_column(sa.JSON)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ServiceDelivery(Base):
    """A service delivered to the person (*layanan*), for one ATENSI component."""
    __tablename__ = "service_delivery"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"), index=True)
    component: Mapped[str] = mapped_column(sa.String(32))
    delivered_on: Mapped[date] = mapped_column(sa.Date)
    description: Mapped[str] = mapped_column(sa.String(1000))
    worker: Mapped[str] = mapped_column(sa.String(200))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Referral(Base):
    """*Rujukan* to a facility of any node; the facility's node answers through the hub."""
    __tablename__ = "referral"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("case.id"), index=True)
    facility_id: Mapped[str] = mapped_column(sa.String(64))
    facility_node: Mapped[str] = mapped_column(sa.String(8))
    status: Mapped[str] = mapped_column(sa.String(16))  # requested, accepted, rejected, admitted, discharged
    consent_override: Mapped[str | None] = mapped_column(sa.String(500))
    requested_by: Mapped[str] = mapped_column(sa.String(255))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answer_note: Mapped[str | None] = mapped_column(sa.String(500))


class AuditEntry(Base):
    """Who read or wrote which personal record, when and why (UU 27/2022)."""
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(sa.String(255), index=True)
    role: Mapped[str] = mapped_column(sa.String(32))
    action: Mapped[str] = mapped_column(sa.String(64))
    record_type: Mapped[str] = mapped_column(sa.String(32))
    record_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(255))
    outcome: Mapped[str] = mapped_column(sa.String(16))


class DuplicateReview(Base):
    """An operator's decision on a pair of likely duplicates: dismissed, or merged."""
    __tablename__ = "duplicate_review"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(sa.ForeignKey("person.id"), index=True)
    other_id: Mapped[str] = mapped_column(sa.ForeignKey("person.id"), index=True)
    decision: Mapped[str] = mapped_column(sa.String(16))
    decided_by: Mapped[str] = mapped_column(sa.String(255))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CrossNodeMatch(Base):
    """The hub found this person (by NIK-based key) registered at other nodes too."""
    __tablename__ = "cross_node_match"

    person_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    nodes: Mapped[list] = mapped_column(sa.JSON)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime)
