"""Training's tables: events (*Bimtek*, *Rakor*, ...) this node organises with their agenda,
speakers, materials, participants, attendance and certificates; the events other nodes
announced (invitations); and the nominations this node sent to them.

Participants are officials, not PPKS, but still people: their names and contacts stay at the
organising node and the nominating node, never at the hub."""
from __future__ import annotations

from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from rehsos.outbox import messaging_tables
from rehsos.sqltypes import UtcDateTime


class Base(DeclarativeBase):
    metadata = sa.MetaData()


messaging = messaging_tables(Base.metadata)


class TrainingEvent(Base):
    """An event this node organises: one or several consecutive days, a quota overall and per
    regency, and a completion rule (share of days attended, minimum post-test score)."""
    __tablename__ = "training_event"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(300))
    theme: Mapped[str] = mapped_column(sa.String(300))
    venue: Mapped[str] = mapped_column(sa.String(300))
    start_date: Mapped[date] = mapped_column(sa.Date)
    end_date: Mapped[date] = mapped_column(sa.Date)
    quota: Mapped[int] = mapped_column(sa.Integer)
    target_roles: Mapped[list] = mapped_column(sa.JSON)
    min_attendance: Mapped[float] = mapped_column(sa.Float)  # share of the days, 0 < x <= 1
    min_post_score: Mapped[int | None] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(sa.String(500))
    demo: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    regency_quotas: Mapped[list["RegencyQuota"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="RegencyQuota.regency")
    speakers: Mapped[list["Speaker"]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                     order_by="Speaker.id")
    sessions: Mapped[list["AgendaSession"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by=lambda: [AgendaSession.day, AgendaSession.starts_at])

    @property
    def days(self) -> list[date]:
        return [date.fromordinal(d) for d in range(self.start_date.toordinal(), self.end_date.toordinal() + 1)]


class RegencyQuota(Base):
    """How many a regency (or the province office, ``63``) may send; a Rakor invites all 13."""
    __tablename__ = "regency_quota"

    event_id: Mapped[str] = mapped_column(sa.ForeignKey("training_event.id"), primary_key=True)
    regency: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    quota: Mapped[int] = mapped_column(sa.Integer)


class Speaker(Base):
    """*Narasumber*, with their institution (PRSTS Barakat Cangkal Bacari, HIMPSI Kalsel, ...)."""
    __tablename__ = "speaker"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.ForeignKey("training_event.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    institution: Mapped[str] = mapped_column(sa.String(300))


class AgendaSession(Base):
    """One session of the agenda: a day, a time, a topic and its speakers."""
    __tablename__ = "agenda_session"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.ForeignKey("training_event.id"), index=True)
    day: Mapped[date] = mapped_column(sa.Date)
    starts_at: Mapped[time] = mapped_column(sa.Time)
    ends_at: Mapped[time] = mapped_column(sa.Time)
    topic: Mapped[str] = mapped_column(sa.String(300))
    speaker_ids: Mapped[list] = mapped_column(sa.JSON)

    @property
    def minutes(self) -> int:
        return (self.ends_at.hour * 60 + self.ends_at.minute) - (self.starts_at.hour * 60 + self.starts_at.minute)


class Material(Base):
    """A file attached to a session; its type was read from its content, not its name."""
    __tablename__ = "material"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("agenda_session.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    media_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    uploaded_by: Mapped[str] = mapped_column(sa.String(255))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Participant(Base):
    """A registration for an event: ``registered`` within the quotas, ``waitlisted`` beyond them
    (promoted in order when a place frees), or ``cancelled``."""
    __tablename__ = "participant"
    __table_args__ = (sa.UniqueConstraint("event_id", "identity_key", name="uq_participant_identity"),
                      sa.UniqueConstraint("event_id", "checkin_code", name="uq_participant_code"))

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.ForeignKey("training_event.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Folded name + regency: the same person cannot register twice for one event. Folding lengthens
    # ("㎯" is "rad s"): five times the longest name, and the regency.
    identity_key: Mapped[str] = mapped_column(sa.String(1005))
    position: Mapped[str] = mapped_column(sa.String(200))
    office: Mapped[str] = mapped_column(sa.String(200))
    regency: Mapped[str] = mapped_column(sa.String(4), index=True)
    role: Mapped[str] = mapped_column(sa.String(32))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    email: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime)  # waitlist order
    checkin_code: Mapped[str] = mapped_column(sa.String(16))
    nominating_node: Mapped[str | None] = mapped_column(sa.String(8))
    nomination_id: Mapped[str | None] = mapped_column(sa.String(36), unique=True)
    pre_score: Mapped[int | None] = mapped_column(sa.Integer)
    post_score: Mapped[int | None] = mapped_column(sa.Integer)
    completed: Mapped[bool | None] = mapped_column(sa.Boolean)

    event: Mapped[TrainingEvent] = relationship(lazy="joined")


class Attendance(Base):
    """One participant present on one day: recorded once, however often they check in."""
    __tablename__ = "attendance"

    participant_id: Mapped[str] = mapped_column(sa.ForeignKey("participant.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    checked_in_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(sa.String(16))  # code, list, offline
    recorded_by: Mapped[str] = mapped_column(sa.String(255))


class Feedback(Base):
    """A participant's rating of a session, 1 to 5."""
    __tablename__ = "feedback"

    participant_id: Mapped[str] = mapped_column(sa.ForeignKey("participant.id"), primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("agenda_session.id"), primary_key=True)
    score: Mapped[int] = mapped_column(sa.Integer)


class Certificate(Base):
    """A certificate of completion. ``number`` is keyed (HMAC), not sequential: it cannot be
    guessed from another, and anyone can check it on the public page /verifikasi/<number>."""
    __tablename__ = "certificate"

    number: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    participant_id: Mapped[str] = mapped_column(sa.ForeignKey("participant.id"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(500))

    participant: Mapped[Participant] = relationship(lazy="joined")


class AnnouncedEvent(Base):
    """An event another node organises, as last announced (an invitation to nominate)."""
    __tablename__ = "announced_event"

    event_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    organiser_node: Mapped[str] = mapped_column(sa.String(8))
    snapshot: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(16))
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)


class Nomination(Base):
    """A nominee this node sent to another node's event, and the answer it got."""
    __tablename__ = "nomination"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    organiser_node: Mapped[str] = mapped_column(sa.String(8))
    name: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[str] = mapped_column(sa.String(200))
    office: Mapped[str] = mapped_column(sa.String(200))
    regency: Mapped[str] = mapped_column(sa.String(4))
    role: Mapped[str] = mapped_column(sa.String(32))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    email: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16))  # sent, registered, waitlisted, rejected, cancelled
    position_on_waitlist: Mapped[int | None] = mapped_column(sa.Integer)
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    checkin_code: Mapped[str | None] = mapped_column(sa.String(16))
    nominated_by: Mapped[str] = mapped_column(sa.String(255))
    nominated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
