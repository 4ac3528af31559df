"""``GET /api/v1/sync`` on a real hub: every office listed, silent ones too; a gap shown until the
hub's repair fills it; quarantined messages counted for their sender; heartbeats of running nodes,
and a node that stops is late."""
from __future__ import annotations

import json
import uuid

import pytest
import requests

from rehsos import auth, reference
from tests.hub_support import Streams, Uplink
from tests.support import wait_until

NODES = ["6371", "6303", "63"]
STREAMS = Streams()  # one hub per module: its streams go on from test to test


@pytest.fixture
def hub(shared_province):
    return shared_province(NODES, start_nodes=False)


def sync(province, role=auth.ANALYST) -> requests.Response:
    return requests.get(province.url("hub", "/api/v1/sync"), headers=province.headers("hub", role), timeout=10)


def node_health(province, node: str) -> dict:
    resp = sync(province)
    assert resp.status_code == 200, resp.text
    return next(n for n in resp.json()["nodes"] if n["node"] == node)


def service_health(province, node: str, service: str) -> dict:
    return next(s for s in node_health(province, node)["services"] if s["service"] == service)


def opened(node: str = "6371"):
    return STREAMS("case.opened", {"case_id": str(uuid.uuid4()), "person_key": uuid.uuid4().hex * 2,
                                   "age_band": "30-34", "sex": "male", "category": "gelandangan",
                                   "stage": "pendekatan_awal", "region": "6371" if node == "63" else node},
                   node, "intake")


def test_every_office_is_listed_and_one_never_heard_from_is_silent(hub):
    with Uplink(hub, "6371") as uplink:
        uplink.publish(opened())
    wait_until(lambda: node_health(hub, "6371")["status"] == "ok", message="6371 heard")
    body = sync(hub).json()
    assert [n["node"] for n in body["nodes"]] == list(reference.NODES)
    silent = next(n for n in body["nodes"] if n["node"] == "6372")  # not even in this province
    assert (silent["status"], silent["status_label"]) == ("silent", "tidak ada data")
    assert silent["last_event"] is None and silent["last_heartbeat"] is None and silent["lag"]["events"] == 0
    assert {s["service"]: s["received"] for s in silent["services"]} == {"intake": 0, "facilities": 0, "training": 0}
    heard = next(n for n in body["nodes"] if n["node"] == "6371")
    assert heard["status_label"] == "lancar" and heard["last_event"]["event_type"] == "case.opened"
    assert heard["lag"]["events"] >= 1 and heard["lag"]["median_seconds"] is not None
    assert {"event_type": "case.opened", "schema_version": 1} in [
        {k: v[k] for k in ("event_type", "schema_version")} for v in heard["schema_versions"]]
    assert sync(hub, auth.ADMIN).status_code == 200
    assert requests.get(hub.url("hub", "/api/v1/sync"), timeout=10).status_code == 401


def test_a_gap_is_shown_and_disappears_after_the_hub_s_repair(hub):
    first, lost, third = opened("6303"), opened("6303"), opened("6303")
    with Uplink(hub, "6303") as uplink:
        uplink.publish(first)
        uplink.publish(third)  # `lost` went missing on the way
        gap = {"first": lost.sequence, "last": lost.sequence}

        def gap_state():
            ranges = service_health(hub, "6303", "intake")["missing_ranges"]
            return [{k: r[k] for k in ("first", "last")} for r in ranges], [r["repair"] for r in ranges]

        wait_until(lambda: gap_state()[0] == [gap], message="the gap shown")
        # Still open at the hub's next check: it asks the node to send it again.
        wait_until(lambda: gap_state()[1] == ["requested"], timeout=20, message="the repair requested")
        intake = service_health(hub, "6303", "intake")
        assert intake["missing"] == 1 and intake["resend_requests"] >= 1 and intake["resend_requested_at"]
        uplink.publish(lost)  # what the node's outbox sends again
    wait_until(lambda: gap_state()[0] == [], message="the gap closed")
    assert service_health(hub, "6303", "intake")["missing"] == 0


def test_quarantined_and_dead_lettered_messages_are_counted_for_their_sender(hub):
    before = {n: node_health(hub, n)["quarantine"] for n in NODES}
    with Uplink(hub, "63") as uplink:
        bad = json.loads(opened("63").to_json())
        bad["payload"]["name"] = "Budi"  # not in the contract: refused
        uplink.producer.publish(json.dumps(bad), exchange=uplink.exchange, routing_key="63.intake.case.opened",
                                user_id=uplink.user, content_type="application/json", retry=False)
    with Uplink(hub, "6303") as uplink:  # the closure of a case the hub never hears of: retried, then dead
        uplink.publish(STREAMS("case.closed", {"case_id": str(uuid.uuid4()), "outcome": "positive",
                                               "stage_before": "asesmen"}, "6303", "intake"))
    wait_until(lambda: node_health(hub, "63")["quarantine"]["refused"] == before["63"]["refused"] + 1,
               message="counted for 63")
    wait_until(lambda: node_health(hub, "6303")["quarantine"]["dead_letters"] == before["6303"]["dead_letters"] + 1,
               timeout=30, message="dead-lettered after its retries, counted for 6303")
    after = {n: node_health(hub, n)["quarantine"] for n in NODES}
    assert after["63"]["dead_letters"] == before["63"]["dead_letters"] and after["63"]["last_at"]
    assert after["6303"]["dead_letters_waiting"] == before["6303"]["dead_letters_waiting"] + 1
    assert after["6303"]["refused"] == before["6303"]["refused"]
    assert after["6371"] == before["6371"]


def test_running_nodes_send_heartbeats_and_a_node_that_stops_is_late(make_province):
    province = make_province(["6371"], heartbeat_interval=0.5)

    def health():
        return node_health(province, "6371")

    def beats():
        return (health()["last_heartbeat"] or {}).get("services", [])

    wait_until(lambda: len(beats()) == 3, timeout=30, message="a heartbeat from each service")
    beat = health()["last_heartbeat"]
    assert {s["service"] for s in beat["services"]} == {"intake", "facilities", "training"}
    assert all(s["outbox_waiting"] >= 0 for s in beat["services"])
    node = health()
    assert node["status"] == "ok" and node["last_event"] is None  # quiet, but connected
    assert {"event_type": "node.heartbeat", "schema_version": 1} in [
        {k: v[k] for k in ("event_type", "schema_version")} for v in node["schema_versions"]]
    assert all(s["missing"] == 0 for s in node["services"])
    province.stop_runner("6371")
    wait_until(lambda: health()["status"] == "late", timeout=30, message="late after two intervals of silence")
    assert health()["status_label"] == "terlambat"
