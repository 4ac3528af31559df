"""Intake's tables. Personal data (name, NIK, birth date, kecamatan) lives here and nowhere else."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from rehsos.outbox import messaging_tables
from rehsos.sqltypes import UtcDateTime


class Base(DeclarativeBase):
    metadata = sa.MetaData()


messaging = messaging_tables(Base.metadata)


class Person(Base):
    """A person registered at this node (*penerima manfaat*)."""
    __tablename__ = "person"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    nik: Mapped[str | None] = mapped_column(sa.String(16), unique=True)
    sex: Mapped[str] = mapped_column(sa.String(8))
    birth_date: Mapped[date] = mapped_column(sa.Date)
    regency: Mapped[str] = mapped_column(sa.String(4))
    kecamatan: Mapped[str] = mapped_column(sa.String(100))
    person_key: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    cases: Mapped[list["Case"]] = relationship(back_populates="person")


class Case(Base):
    """A case (*kasus*): one episode of service for a person, in one PPKS category."""
    __tablename__ = "case"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.ForeignKey("person.id"), index=True)
    category: Mapped[str] = mapped_column(sa.String(64), index=True)
    regency: Mapped[str] = mapped_column(sa.String(4), index=True)
    stage: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    registered_by: Mapped[str] = mapped_column(sa.String(255))

    person: Mapped[Person] = relationship(back_populates="cases", lazy="joined")


class AuditEntry(Base):
    """Who read or wrote which personal record, when and why (UU 27/2022)."""
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(32))
    action: Mapped[str] = mapped_column(sa.String(64))
    record_type: Mapped[str] = mapped_column(sa.String(32))
    record_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(255))
    outcome: Mapped[str] = mapped_column(sa.String(16))
