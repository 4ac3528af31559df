"""Events across nodes. The organiser announces an event to every node (``training.event_changed``);
a regency's trainer nominates participants at their own node; the nomination goes to the
organiser's node only (``training.nominated``, direct), is registered or waitlisted there, and the
answer comes back (``training.nomination_answered``, direct). A node offline when the event
opened finds the announcement waiting in its downlink when it reconnects."""
from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa

from rehsos import jurisdiction
from rehsos.clock import now
from rehsos.contracts import make_event
from rehsos.errors import Invalid, NotFound, Refused, RefusedEvent
from training.domain import participants
from training.domain.common import SERVICE, Organiser
from training.domain.events import get_event
from training.models import AnnouncedEvent, Nomination, Participant

NOMINATING = ("open", "ongoing")


# -- at every node: the events of others ------------------------------------------------------------
def apply_event_changed(uow, event, node: str) -> None:
    """Keep the newest announcement of another node's event; a late older one changes nothing."""
    if event.node == node:
        return  # our own announcement, back from the hub
    payload = event.payload
    as_of = datetime.fromisoformat(payload["as_of"])
    row = uow.session.get(AnnouncedEvent, str(payload["event_id"]))
    if row is not None and row.organiser_node != event.node:
        raise RefusedEvent(f"node {event.node} announced event {payload['event_id']} of node {row.organiser_node}")
    if row is not None and row.as_of >= as_of:
        return
    if row is None:
        row = AnnouncedEvent(event_id=str(payload["event_id"]), organiser_node=event.node)
        uow.session.add(row)
    row.snapshot, row.status, row.as_of = dict(payload), payload["status"], as_of


def invitations(session, query: dict) -> list[AnnouncedEvent]:
    q = sa.select(AnnouncedEvent).order_by(AnnouncedEvent.as_of.desc())
    if query.get("status"):
        q = q.where(AnnouncedEvent.status == query["status"])
    return list(session.scalars(q))


def invitation_view(row: AnnouncedEvent, node: str) -> dict:
    snap = row.snapshot
    quota = next((q["quota"] for q in snap["regency_quotas"] if q["regency"] == node), None)
    return {**snap, "start_date": date.fromisoformat(snap["start_date"]), "end_date": date.fromisoformat(snap["end_date"]),
            "organiser_node": row.organiser_node, "quota_for_this_node": quota,
            "invited": not snap["regency_quotas"] or quota is not None}


# -- at the nominating node ---------------------------------------------------------------------------
def nominate(uow, event_id: str, data: dict, *, organiser: Organiser) -> dict:
    """Nominate a participant for an event: registered here if it is this node's own event,
    otherwise sent to the organiser's node (the answer arrives later). Returns the nomination."""
    jurisdiction.require_for_request(organiser.node, data["regency"], "peserta")
    announced = uow.session.get(AnnouncedEvent, event_id)
    if announced is None:
        try:
            get_event(uow.session, event_id)  # this node's own event, then
        except NotFound:
            raise NotFound(f"Kegiatan {event_id} belum diumumkan ke node ini.") from None
        participant = participants.register(uow, event_id, data, organiser=organiser)
        return {**nomination_fields(participant), "id": participant.id, "organiser_node": organiser.node,
                "status": participant.status, "nominated_at": participant.applied_at, "answered_at": participant.applied_at,
                "position_on_waitlist": participants.waitlist_position(uow.session, participant), "reason": None,
                "checkin_code": participant.checkin_code if participant.status == "registered" else None}
    if announced.status not in NOMINATING:
        raise Refused("not_open", "Pendaftaran kegiatan ini tidak dibuka.", {"status": ["Kegiatan tidak dibuka."]})
    view = invitation_view(announced, organiser.node)
    if not view["invited"]:
        raise Invalid({"regency": ["Wilayah ini tidak diundang ke kegiatan ini."]})
    nomination = Nomination(id=str(uuid.uuid4()), event_id=event_id, organiser_node=announced.organiser_node,
                            status="sent", nominated_by=organiser.actor, nominated_at=now(),
                            **{f: data.get(f) for f in ("name", "position", "office", "regency", "role", "phone",
                                                        "email")})
    uow.session.add(nomination)
    uow.session.flush()
    uow.emit(make_event("training.nominated", {
        "nomination_id": nomination.id, "event_id": event_id,
        **{f: data.get(f) for f in ("name", "position", "office", "regency", "role", "phone", "email")}},
        node=organiser.node, service=SERVICE), target=announced.organiser_node)
    return nomination_view(nomination)


def nomination_fields(record) -> dict:
    return {f: getattr(record, f) for f in ("event_id", "name", "position", "office", "regency", "role")}


def nomination_view(nomination: Nomination) -> dict:
    return {**nomination_fields(nomination), **{f: getattr(nomination, f) for f in (
        "id", "organiser_node", "status", "position_on_waitlist", "reason", "checkin_code", "nominated_at",
        "answered_at")}}


def nominations(session, query: dict) -> list[Nomination]:
    q = sa.select(Nomination).order_by(Nomination.nominated_at)
    if query.get("event_id"):
        q = q.where(Nomination.event_id == query["event_id"])
    return list(session.scalars(q))


def apply_nomination_answered(uow, event, node: str) -> None:
    payload = event.payload
    nomination = uow.session.get(Nomination, str(payload["nomination_id"]))
    if nomination is None or nomination.organiser_node != event.node:
        raise RefusedEvent(f"answer from node {event.node} about nomination {payload['nomination_id']}, "
                           "which this node did not send it")
    nomination.status, nomination.position_on_waitlist = payload["status"], payload.get("position")
    nomination.reason, nomination.checkin_code = payload.get("reason"), payload.get("checkin_code")
    nomination.answered_at = now()


# -- at the organiser's node ---------------------------------------------------------------------------
def apply_nominated(uow, event, organiser: Organiser) -> None:
    """A nominee from another node: registered, waitlisted or rejected with the reason, answered."""
    payload = event.payload
    if not jurisdiction.serves(event.node, payload["regency"]):
        raise RefusedEvent(f"node {event.node} nominated a participant of region {payload['regency']}")
    nomination_id = str(payload["nomination_id"])
    if uow.session.scalars(sa.select(Participant.id).where(Participant.nomination_id == nomination_id)).first():
        return  # the same nomination again (a resend): answered already
    data = {f: payload[f] for f in ("name", "position", "office", "regency", "role", "phone", "email")}
    try:
        with uow.session.begin_nested():
            participants.register(uow, str(payload["event_id"]), data, organiser=organiser,
                                  nominating_node=event.node, nomination_id=nomination_id)
    except (NotFound, Refused, Invalid) as refusal:
        uow.emit(make_event("training.nomination_answered", {
            "nomination_id": nomination_id, "event_id": payload["event_id"], "status": "rejected", "position": None,
            "reason": _reason(refusal), "checkin_code": None}, node=organiser.node, service=SERVICE),
            target=event.node)


def _reason(refusal: Exception) -> str:
    if isinstance(refusal, Refused):
        return refusal.message[:500]
    if isinstance(refusal, Invalid):
        return "; ".join(str(m) for messages in refusal.fields.values() for m in
                         (messages if isinstance(messages, list) else [messages]))[:500]
    return str(refusal)[:500]
