"""Hostile messages published straight onto the hub's broker with a node's own credentials.

Each must end in the hub's quarantine (``GET /api/v1/quarantine``), and the hub's consumers must
keep going: a case the node registers after it is counted. The forgeries start from a real
event of the node (the newest ``case.opened`` in its outbox), so each breaks one rule only.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from rehsos_tools.reliability.faults import counted_at_hub
from rehsos_tools.reliability.people import Person, Register
from rehsos_tools.reliability.province import Province
from rehsos_tools.waiting import wait_until
from rehsos_tools.reliability.report import Section

log = logging.getLogger("rehsos.reliability")

# Set on every message the run forges, so the privacy scan of the wire tells them from the
# platform's own messages (one of them carries personal data on purpose).
FORGED_HEADER = "x-rehsos-reliability-forged"
NESTING = 100_000
OVERSIZED_BYTES = 2 * 1024 * 1024


def newest_event(province: Province, node: str, event_type: str = "case.opened") -> tuple[dict, str]:
    outbox = sa.table("outbox", sa.column("event_type"), sa.column("sequence"), sa.column("body"),
                      sa.column("routing_key"))
    with province.engine(node, "intake").connect() as conn:
        row = conn.execute(sa.select(outbox.c.body, outbox.c.routing_key).where(outbox.c.event_type == event_type)
                           .order_by(outbox.c.sequence.desc()).limit(1)).one()
    return json.loads(row.body), row.routing_key


def _forged(base: dict, **changes) -> dict:
    return {**base, "event_id": str(uuid.uuid4()), **changes}


def _body(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def forgeries(base: dict, other_node: str, person: Person) -> list[tuple[str, bytes, str | None]]:
    """(name, body, the event id the quarantine should show or None when the body has none)."""
    payload = base["payload"]
    hours_ago = datetime.fromisoformat(base["occurred_at"]) - timedelta(hours=6)
    cases = {
        "unknown_type": _forged(base, event_type="case.teleported"),
        "unknown_version": _forged(base, schema_version=99),
        "wrong_types": _forged(base, sequence="satu", payload={**payload, "region": 6371, "sex": ["male"]}),
        "oversized": _forged(base, payload={**payload, "category": "x" * OVERSIZED_BYTES}),
        # The same event sent again hours later under a new id: its sequence and case are taken.
        # (Under its own id it is a duplicate, which the inbox skips by design.)
        "replayed_hours_later": _forged(base, occurred_at=hours_ago.isoformat()),
        "claiming_another_node": _forged(base, node=other_node, payload={**payload, "region": other_node}),
        # A node that leaks: the quarantine must not keep the values it refused.
        "personal_data_in_payload": _forged(base, payload={**payload, "name": person.name, "nik": person.nik,
                                                            "address": person.address}),
    }
    forged = [(name, _body(event), event["event_id"]) for name, event in cases.items()]
    text = _body(_forged(base)).decode()
    nested = _body(_forged(base, payload={})).decode()
    nested = nested.replace('"payload":{}', '"payload":{"x":' + "[" * NESTING + "]" * NESTING + "}")
    return [("malformed_json", text[: len(text) // 2].encode(), None),
            *forged,
            ("deeply_nested", nested.encode(), None)]


def run(province: Province, people: Register, timeout: float = 30.0) -> Section:
    section = Section("hostile_messages")
    node, other = province.nodes[0], province.nodes[1]

    def register_one() -> str:
        resp = province.register(node, people.new(node).case_body(people.category()))
        resp.raise_for_status()
        return resp.json()["id"]

    try:
        first = register_one()
        wait_until(lambda: counted_at_hub(province, [first]), timeout=60, message="a first case counted")
        base, routing_key = newest_event(province, node)
    except Exception as exc:  # noqa: BLE001 - reported; the other sections still run
        section.error = f"no valid event to start from: {type(exc).__name__}: {exc}"
        return section
    for name, body, event_id in forgeries(base, other, people.new(node)):
        log.info("hostile: %s (%d bytes)", name, len(body))
        case = {"message": name, "bytes": len(body)}
        try:
            seen = max((e["id"] for e in province.quarantine()), default=0)
            dead_letters = province.quarantine_queue_depth()
            province.publish_as(node, body, routing_key, properties={"headers": {FORGED_HEADER: name}})
            valid_case = register_one()
            entry, kept_going = None, False
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not (entry and kept_going):
                new = [e for e in province.quarantine() if e["id"] > seen]
                # A body that fails validation is recorded without its (unread) event id.
                entry = next((e for e in new if e.get("event_id") in (event_id, None)), None)
                kept_going = kept_going or bool(counted_at_hub(province, [valid_case]))
                time.sleep(0.5)
            case.update(quarantined=entry is not None, consumers_kept_going=kept_going)
            if entry:
                case["reason"] = (entry.get("reason") or "")[:200]
            else:
                case["dead_lettered_without_record"] = province.quarantine_queue_depth() > dead_letters
            ok = entry is not None and kept_going
        except Exception as exc:  # noqa: BLE001 - one message breaking the harness must not stop the rest
            log.exception("hostile message %s broke down", name)
            case["error"] = f"{type(exc).__name__}: {exc}"
            ok = False
        section.add(ok, **case)
    section.figures["quarantined_at_hub"] = province.summary()["quarantined"]
    return section
