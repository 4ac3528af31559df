"""Facilities' tables: the registry of panti, sentra, LKS and rumah singgah of this node."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from rehsos.outbox import messaging_tables
from rehsos.sqltypes import UtcDateTime


class Base(DeclarativeBase):
    metadata = sa.MetaData()


messaging = messaging_tables(Base.metadata)


class Facility(Base):
    """A rehabilitation facility (*panti*, *sentra*, LKS, *rumah singgah*) registered at this node.

    ``code`` is the facility's identifier across the province (referrals name it).
    """
    __tablename__ = "facility"

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    owner: Mapped[str] = mapped_column(sa.String(16))
    owner_name: Mapped[str] = mapped_column(sa.String(200))
    regency: Mapped[str] = mapped_column(sa.String(4), index=True)
    address: Mapped[str] = mapped_column(sa.String(300))
    categories: Mapped[list] = mapped_column(sa.JSON)
    disability_types: Mapped[list] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(24))
    contact_person: Mapped[str | None] = mapped_column(sa.String(200))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(20))
    contact_email: Mapped[str | None] = mapped_column(sa.String(200))
    demo: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    units: Mapped[list["FacilityUnit"]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                      order_by="FacilityUnit.name")


class FacilityUnit(Base):
    """A ward or unit with its own bed capacity (e.g. male and female wards)."""
    __tablename__ = "facility_unit"

    facility_code: Mapped[str] = mapped_column(sa.ForeignKey("facility.code"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    sex: Mapped[str] = mapped_column(sa.String(8))  # male, female, mixed
    capacity: Mapped[int] = mapped_column(sa.Integer)


class ReferralRequest(Base):
    """A referral (*rujukan*) to one of this node's facilities, as the facility sees it:
    pseudonymous (the referring node keeps the person's identity)."""
    __tablename__ = "referral_request"

    referral_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36))
    referring_node: Mapped[str] = mapped_column(sa.String(8), index=True)
    facility_code: Mapped[str | None] = mapped_column(sa.ForeignKey("facility.code"), index=True)
    person_key: Mapped[str] = mapped_column(sa.String(64))
    category: Mapped[str] = mapped_column(sa.String(64))
    sex: Mapped[str] = mapped_column(sa.String(8))
    age_band: Mapped[str] = mapped_column(sa.String(8))
    consent_override: Mapped[bool] = mapped_column(sa.Boolean)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    unit_name: Mapped[str | None] = mapped_column(sa.String(100))
    reserved_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason_code: Mapped[str | None] = mapped_column(sa.String(32))  # reference.REJECTION_REASONS
    reason: Mapped[str | None] = mapped_column(sa.String(500))  # the panti's note: never sent
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(sa.String(255))
    admitted_on: Mapped[date | None] = mapped_column(sa.Date)
    discharged_on: Mapped[date | None] = mapped_column(sa.Date)
    outcome: Mapped[str | None] = mapped_column(sa.String(16))


class DirectoryEntry(Base):
    """The last known beds of a facility anywhere in the province (read-only, from snapshots)."""
    __tablename__ = "capacity_directory"

    facility_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    node: Mapped[str] = mapped_column(sa.String(8))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    regency: Mapped[str] = mapped_column(sa.String(4))
    categories: Mapped[list] = mapped_column(sa.JSON)
    disability_types: Mapped[list] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(24))
    units: Mapped[list] = mapped_column(sa.JSON)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CentrePlan(Base):
    """A planned rehabilitation centre in a regency (*rencana pembangunan sentra/panti*)."""
    __tablename__ = "centre_plan"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    regency: Mapped[str] = mapped_column(sa.String(4), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    categories: Mapped[list] = mapped_column(sa.JSON)
    planned_capacity: Mapped[int] = mapped_column(sa.Integer)
    target_year: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16))  # usulan, disetujui, dibangun, beroperasi
    note: Mapped[str | None] = mapped_column(sa.String(1000))
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReferralDossier(Base):
    """A referred person's dossier (name, NIK, birth date, guardian, assessment) as it arrived:
    still sealed for this node (``rehsos.sealing``), opened only when a manager reads it. Deleting
    it wipes ``sealed`` and keeps the row (when, why) beside its audit entries."""
    __tablename__ = "referral_dossier"

    referral_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    referring_node: Mapped[str] = mapped_column(sa.String(8))
    sealed: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    deleted_reason: Mapped[str | None] = mapped_column(sa.String(32))


class AuditEntry(Base):
    """Who read or deleted which dossier, when and why (UU 27/2022); never the values."""
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
