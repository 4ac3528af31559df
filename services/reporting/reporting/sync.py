"""Sync health: is every office's data reaching the hub, late, or not at all?

Per node: what arrived last and when, its heartbeat, the lag between an event happening at the
node and the hub receiving it, the events received per service with their gaps and the hub's
requests to resend them, the messages quarantined or dead-lettered from it, and the event schema
versions it sends. Built from the inbox, the event store and the quarantine table; the only read
model here is the newest heartbeat per node service.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from rehsos import reference, registry
from rehsos.clock import now
from rehsos.contracts import Event
from rehsos.outbox import MessagingTables
from reporting import domain
from reporting.models import NodeHeartbeat, StoredEvent, StreamRepair

# Status of a node, and its label on the pages.
OK, LATE, SILENT = "ok", "late", "silent"
STATUS_LABELS = {OK: "lancar", LATE: "terlambat", SILENT: "tidak ada data"}
# A node is late when nothing (event or heartbeat) came for this many heartbeat intervals.
LATE_AFTER_INTERVALS = 2
# The lag is measured on this many of a node's most recent events.
LAG_SAMPLE = 100


def apply_heartbeat(uow, event: Event) -> None:
    """Keep each node service's newest heartbeat (one arriving late changes nothing)."""
    as_of = datetime.fromisoformat(event.payload["as_of"])
    # Locked, so two heartbeats applied at once cannot leave the older one standing.
    row = uow.session.get(NodeHeartbeat, (event.node, event.service), with_for_update=True)
    if row is None:
        uow.session.add(NodeHeartbeat(node=event.node, service=event.service, as_of=as_of,
                                      outbox_waiting=event.payload["outbox_waiting"]))
    elif row.as_of < as_of:
        row.as_of, row.outbox_waiting = as_of, event.payload["outbox_waiting"]


HANDLERS = {registry.HEARTBEAT: apply_heartbeat}


def _age(at: datetime | None, at_now: datetime) -> float | None:
    return None if at is None else round((at_now - at).total_seconds(), 1)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _stored(session, node: str, *where) -> StoredEvent | None:
    return session.scalars(sa.select(StoredEvent).where(StoredEvent.node == node, *where)
                           .order_by(StoredEvent.received_at.desc(), StoredEvent.id.desc()).limit(1)).first()


def _lag(session, node: str) -> dict:
    rows = session.execute(sa.select(StoredEvent.occurred_at, StoredEvent.received_at)
                           .where(StoredEvent.node == node)
                           .order_by(StoredEvent.received_at.desc(), StoredEvent.id.desc()).limit(LAG_SAMPLE)).all()
    seconds = [(received - occurred).total_seconds() for occurred, received in rows]
    return {"events": len(seconds),
            "median_seconds": round(statistics.median(seconds), 1) if seconds else None,
            "max_seconds": round(max(seconds), 1) if seconds else None}


def _services(node: str, streams: dict, gaps: dict, repairs: dict) -> list[dict]:
    names = [s.name for s in registry.at(registry.NODE)]
    names += sorted({service for n, service in streams if n == node} - set(names))
    result = []
    for service in names:
        stream = streams.get((node, service))
        repair = repairs.get((node, service))
        requested = (repair.requested_ranges or []) if repair else []
        result.append({
            "service": service,
            "received": stream["received"] if stream else 0,
            "last_sequence": stream["last_sequence"] if stream else None,
            "last_received_at": stream["last_received_at"] if stream else None,
            "missing": stream["missing"] if stream else 0,
            "missing_ranges": [{"first": lo, "last": hi,
                                "repair": "requested" if any(r[0] <= lo and hi <= r[1] for r in requested)
                                else "waiting"} for lo, hi in gaps.get((node, service), [])],
            "resend_requested_at": _iso(repair.requested_at) if repair else None,
            "resend_requests": repair.requests if repair else 0,
        })
    return result


def _quarantine(session, tables: MessagingTables, sender_node: Callable[[str | None], str | None]) -> dict:
    q = tables.quarantine
    waiting = sa.and_(q.c.kind == "dead_letter", q.c.redriven_at.is_(None))
    counts: dict[str, dict] = {}
    for sender, kind, n, pending, last in session.execute(
            sa.select(q.c.sender, q.c.kind, sa.func.count(), sa.func.sum(sa.case((waiting, 1), else_=0)),
                      sa.func.max(q.c.received_at)).group_by(q.c.sender, q.c.kind)):
        node = sender_node(sender)
        if node is None:
            continue  # no node identity: shown in the quarantine list, not under a node
        entry = counts.setdefault(node, {"refused": 0, "dead_letters": 0, "dead_letters_waiting": 0,
                                         "last_at": None})
        entry["dead_letters" if kind == "dead_letter" else "refused"] += n
        entry["dead_letters_waiting"] += int(pending or 0)
        entry["last_at"] = max(filter(None, (entry["last_at"], last)), default=None)
    return counts


def sync_health(session, tables: MessagingTables, *, heartbeat_interval: float,
                sender_node: Callable[[str | None], str | None]) -> dict:
    """The state of every node's link to the hub (all 14 offices, heard from or not).

    ``sender_node`` maps a quarantined message's broker ``user_id`` to its node code."""
    at_now = now()
    streams = {(s["node"], s["service"]): s for s in domain.streams(session, tables)}
    gaps = domain.missing_ranges(session, tables)
    repairs = {(r.node, r.service): r for r in session.scalars(sa.select(StreamRepair))}
    quarantined = _quarantine(session, tables, sender_node)
    versions: dict[str, list] = {}
    for node, event_type, version, n, last in session.execute(
            sa.select(StoredEvent.node, StoredEvent.event_type, StoredEvent.schema_version, sa.func.count(),
                      sa.func.max(StoredEvent.received_at))
            .group_by(StoredEvent.node, StoredEvent.event_type, StoredEvent.schema_version)
            .order_by(StoredEvent.node, StoredEvent.event_type, StoredEvent.schema_version)):
        versions.setdefault(node, []).append({"event_type": event_type, "schema_version": version, "events": n,
                                              "last_received_at": _iso(last)})
    beats: dict[str, list] = {}
    for beat in session.scalars(sa.select(NodeHeartbeat).order_by(NodeHeartbeat.node, NodeHeartbeat.service)):
        beats.setdefault(beat.node, []).append({"service": beat.service, "as_of": _iso(beat.as_of),
                                                "outbox_waiting": beat.outbox_waiting})
    nodes = []
    for node in reference.NODES:
        last = _stored(session, node, StoredEvent.event_type != registry.HEARTBEAT)
        last_beat = _stored(session, node, StoredEvent.event_type == registry.HEARTBEAT)
        heard = [datetime.fromisoformat(s["last_received_at"]) for (n, _), s in streams.items()
                 if n == node and s["last_received_at"]]
        heard_at = max(heard, default=None)
        if heard_at is None:
            status = SILENT
        elif (at_now - heard_at).total_seconds() > LATE_AFTER_INTERVALS * heartbeat_interval:
            status = LATE
        else:
            status = OK
        nodes.append({
            "node": node, "name": reference.region_name(node), "status": status, "status_label": STATUS_LABELS[status],
            "last_heard_at": _iso(heard_at), "last_heard_age_seconds": _age(heard_at, at_now),
            "last_event": None if last is None else {
                "event_type": last.event_type, "service": last.service, "occurred_at": _iso(last.occurred_at),
                "received_at": _iso(last.received_at), "age_seconds": _age(last.received_at, at_now)},
            "last_heartbeat": None if last_beat is None else {
                "received_at": _iso(last_beat.received_at), "age_seconds": _age(last_beat.received_at, at_now),
                "services": beats.get(node, [])},
            "lag": _lag(session, node),
            "services": _services(node, streams, gaps, repairs),
            "quarantine": quarantined.get(node, {"refused": 0, "dead_letters": 0, "dead_letters_waiting": 0,
                                                 "last_at": None}),
            "schema_versions": versions.get(node, []),
        })
    for entry in nodes:
        entry["quarantine"]["last_at"] = _iso(entry["quarantine"]["last_at"])
    return {"generated_at": at_now.isoformat(), "heartbeat_interval_seconds": heartbeat_interval,
            "late_after_seconds": LATE_AFTER_INTERVALS * heartbeat_interval, "nodes": nodes}
