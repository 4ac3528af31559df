"""Events of a small province for the hub's tests (event store, rebuild, sync health)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import kombu

from rehsos import contracts, topology

KEY = "ab" * 32


class Streams:
    """Numbers each node service's events in order, as their outboxes do."""

    def __init__(self):
        self.last: dict[tuple[str, str], int] = {}

    def __call__(self, event_type, payload, node, service):
        key = (node, service)
        self.last[key] = self.last.get(key, 0) + 1
        return contracts.make_event(event_type, payload, node=node, service=service).with_sequence(self.last[key])


def province_events() -> list:
    """A small province: cases opened, closed and reopened, one person at two nodes, a referral
    answered by another node (its answer comes first in stream order), beds, plans, a heartbeat."""
    ev = Streams()
    c1, c2, c3, referral, plan = (str(uuid.uuid4()) for _ in range(5))
    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    case = dict(age_band="30-34", sex="male", category="gelandangan", stage="pendekatan_awal")
    person = dict(person_key_kind="nik", age_band="30-34", sex="male", categories=["gelandangan"], disabilities=[])
    beds = dict(facility_id="prsts", name="PRSTS", kind="panti", regency="6303", categories=["gelandangan"],
                disability_types=[], status="operational")
    answer = dict(referral_id=referral, case_id=c2, referring_node="6371", facility_id="prsts")
    return [
        ev("person.registered", {**person, "person_key": KEY, "region": "6371"}, "6371", "intake"),
        ev("case.opened", {**case, "case_id": c1, "person_key": KEY, "region": "6371"}, "6371", "intake"),
        ev("case.opened", {**case, "case_id": c2, "person_key": "cd" * 32, "region": "6371"}, "6371", "intake"),
        ev("case.closed", {"case_id": c1, "outcome": "positive", "stage_before": "resosialisasi"}, "6371", "intake"),
        ev("referral.requested", {"referral_id": referral, "case_id": c2, "facility_id": "prsts", "facility_node": "63",
                                  "person_key": "cd" * 32, "category": "gelandangan", "sex": "male",
                                  "age_band": "30-34", "consent_override": False}, "6371", "intake"),
        ev("person.registered", {**person, "person_key": KEY, "region": "6303"}, "6303", "intake"),
        ev("case.opened", {**case, "case_id": c3, "person_key": KEY, "region": "6303"}, "6303", "intake"),
        ev("case.reopened", {"case_id": c1, "stage": "asesmen"}, "6371", "intake"),
        ev("capacity.changed", {**beds, "units": [{"name": "A", "sex": "male", "capacity": 4, "occupied": 3,
                                                   "free": 1}], "as_of": t0 + timedelta(hours=1)}, "63", "facilities"),
        ev("capacity.changed", {**beds, "units": [{"name": "A", "sex": "male", "capacity": 4, "occupied": 1,
                                                   "free": 3}], "as_of": t0}, "63", "facilities"),
        ev("plan.proposed", {"plan_id": plan, "regency": "6371", "name": "Sentra", "kind": "sentra",
                             "categories": ["gelandangan"], "planned_capacity": 30, "target_year": 2028,
                             "status": "usulan"}, "63", "facilities"),
        ev("referral.accepted", {**answer, "reserved_until": t0 + timedelta(days=3)}, "63", "facilities"),
        ev("admission.recorded", {**answer, "admitted_on": t0.date()}, "63", "facilities"),
        ev("node.heartbeat", {"as_of": t0, "outbox_waiting": 2}, "6303", "facilities"),
        ev("node.heartbeat", {"as_of": t0 + timedelta(hours=1), "outbox_waiting": 0}, "6303", "facilities"),
        ev("assessment.completed", {"case_id": c3, "risk_level": "low", "needs": []}, "6303", "intake"),
    ]


def routing_key(event) -> str:
    return f"{event.node}.{event.service}.{event.event_type}"


class Uplink:
    """Publishes onto the hub as a node's shovel does (its user, user_id stamped), over one
    connection: for many events."""

    def __init__(self, province, node: str):
        self.user = province.names.node_user(node)
        self.conn = kombu.Connection(province.hub_amqp(self.user, province.node_password(node)),
                                     transport_options={"confirm_publish": True})
        self.producer = self.conn.Producer()
        self.exchange = topology.uplink_exchange(node)

    def publish(self, event) -> None:
        self.producer.publish(event.to_json(), exchange=self.exchange, routing_key=routing_key(event),
                              user_id=self.user, content_type="application/json", content_encoding="utf-8",
                              retry=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.release()
