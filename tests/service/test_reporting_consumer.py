"""The hub's consumer on a real hub vhost: trust from user_id, duplicates, quarantine.

The module shares one hub: each test counts from the state it found (:func:`hub_state`) and waits
until its own messages are applied or dead-lettered, so the next test starts from a settled hub."""
import dataclasses
import itertools
import json
import subprocess
import sys
import uuid
from datetime import datetime, timezone

import kombu
import pytest
import requests
from eventlet import sleep as eventlet_sleep
from sqlalchemy import text as sa_text
from amqp.exceptions import AccessRefused, PreconditionFailed

from rehsos import auth, contracts, registry, topology
from tests.support import wait_until

NODES = ["6371", "6303", "63"]
# The module shares one hub, and a sequence is used once per node and service (the hub refuses
# the same number under another event id as a replay): every made-up event takes the next one.
_SEQUENCES = itertools.count(1)


def next_sequence() -> int:
    return next(_SEQUENCES)


@pytest.fixture
def hub(shared_province):
    return shared_province(NODES, start_nodes=False)


def case_event(node="6371", region=None, **payload):
    event = contracts.make_event("case.opened", {
        "case_id": str(uuid.uuid4()), "person_key": "ab" * 32, "stage": "pendekatan_awal", "age_band": "30-34",
        "sex": "male", "category": "gelandangan", "region": region or node, **payload}, node=node, service="intake")
    return event.with_sequence(next_sequence())


def publish_as(hub, node, body, **kwargs):
    hub.publish_as(node, body, **kwargs)


def quarantine_rows(hub, since=0):
    """The hub's quarantine table, newest first; only the rows after id ``since``."""
    resp = requests.get(hub.url("hub", "/api/v1/quarantine"), headers=hub.headers("hub", auth.ANALYST), timeout=5)
    return [row for row in resp.json() if row["id"] > since]


def queue_depth(hub, queue):
    """Messages ready in a hub queue, straight from the broker (the management API lags)."""
    with kombu.Connection(hub.hub_amqp()) as conn:
        return conn.channel().queue_declare(queue, passive=True).message_count


def dead_lettered(hub):
    return queue_depth(hub, topology.QUARANTINE_QUEUE)


def regency_cases(hub, regency):
    return next(r for r in hub.summary()["by_regency"] if r["regency"] == regency)["cases"]


@dataclasses.dataclass
class HubState:
    cases: int
    inbox: int
    last_quarantined: int
    dead_lettered: int


def hub_state(hub) -> HubState:
    rows = quarantine_rows(hub)
    return HubState(hub.hub_cases(), hub.count("hub", "reporting", "inbox"), rows[0]["id"] if rows else 0,
                    dead_lettered(hub))


def test_a_valid_event_is_counted_under_its_region(hub):
    start, in_6371 = hub_state(hub), regency_cases(hub, "6371")
    publish_as(hub, "6371", case_event().to_json())
    wait_until(lambda: hub.hub_cases() == start.cases + 1, message="counted")
    assert regency_cases(hub, "6371") == in_6371 + 1


def test_the_same_event_delivered_twice_is_counted_once(hub):
    start = hub_state(hub)
    body = case_event().to_json()
    publish_as(hub, "6371", body)
    publish_as(hub, "6371", body)
    publish_as(hub, "6371", case_event().to_json())  # a different event after the duplicate
    wait_until(lambda: hub.count("hub", "reporting", "inbox") == start.inbox + 2 and hub.hub_cases() == start.cases + 2,
               message="two events")
    wait_until(lambda: queue_depth(hub, registry.get("reporting").queue) == 0, message="queue drained")
    assert hub.hub_cases() == start.cases + 2
    assert quarantine_rows(hub, start.last_quarantined) == []


def test_an_event_whose_payload_claims_another_node_is_quarantined(hub):
    start = hub_state(hub)
    publish_as(hub, "6371", case_event(node="6303").to_json())  # sent by 6371, claims 6303
    wait_until(lambda: quarantine_rows(hub, start.last_quarantined), message="quarantine row")
    [row] = quarantine_rows(hub, start.last_quarantined)
    assert "claims node 6303" in row["reason"] and row["sender"] == hub.names.node_user("6371")
    wait_until(lambda: dead_lettered(hub) == start.dead_lettered + 1, message="dead-lettered to the quarantine queue")
    assert hub.hub_cases() == start.cases


def test_a_regency_reporting_a_case_in_another_regency_is_quarantined_but_the_province_may(hub):
    start, in_6303 = hub_state(hub), regency_cases(hub, "6303")
    publish_as(hub, "6371", case_event(node="6371", region="6303").to_json())
    publish_as(hub, "63", case_event(node="63", region="6303").to_json())
    wait_until(lambda: hub.hub_cases() == start.cases + 1 and quarantine_rows(hub, start.last_quarantined),
               message="one counted, one quarantined")
    assert "outside its jurisdiction" in quarantine_rows(hub, start.last_quarantined)[0]["reason"]
    assert regency_cases(hub, "6303") == in_6303 + 1
    wait_until(lambda: dead_lettered(hub) == start.dead_lettered + 1, message="dead-lettered")


@pytest.mark.parametrize("body,content_type", [
    ("{this is not json", "application/json"),
    (json.dumps({"event_type": "case.opened"}), "application/json"),
    (b"\x80\x04\x95 pickle-ish", "application/x-python-serialize"),
    (json.dumps([1, 2, 3]), "application/json"),
    ('{"payload": ' + "[" * 50_000 + "]" * 50_000 + "}", "application/json"),
], ids=["broken-json", "missing-envelope", "undecodable-content-type", "json-array", "nested-too-deep"])
def test_a_malformed_message_is_quarantined_and_the_consumer_keeps_going(hub, body, content_type):
    start = hub_state(hub)
    publish_as(hub, "6371", body, content_type=content_type)
    publish_as(hub, "6371", case_event().to_json())
    wait_until(lambda: hub.hub_cases() == start.cases + 1 and len(quarantine_rows(hub, start.last_quarantined)) == 1,
               message="1 counted, 1 quarantined")
    assert quarantine_rows(hub, start.last_quarantined)[0]["reason"].startswith("invalid event")
    wait_until(lambda: dead_lettered(hub) == start.dead_lettered + 1, message="dead-lettered")


def test_a_message_without_a_node_identity_is_quarantined(hub):
    start = hub_state(hub)
    with kombu.Connection(hub.hub_amqp()) as conn:  # guest, straight into the hub exchange
        conn.Producer().publish(case_event().to_json(), exchange=topology.HUB_EVENTS_EXCHANGE,
                                routing_key="6371.intake.case.opened", content_type="application/json")
    wait_until(lambda: quarantine_rows(hub, start.last_quarantined), message="quarantined")
    assert "no node identity" in quarantine_rows(hub, start.last_quarantined)[0]["reason"]
    assert hub.hub_cases() == start.cases
    wait_until(lambda: dead_lettered(hub) == start.dead_lettered + 1, message="dead-lettered")


def test_the_broker_refuses_a_node_that_impersonates_another(hub):
    with pytest.raises(PreconditionFailed):
        publish_as(hub, "6371", case_event(node="6303").to_json(), user_id=hub.names.node_user("6303"))


def test_a_node_user_may_write_only_to_its_own_uplink_exchange(hub):
    with pytest.raises(AccessRefused):
        publish_as(hub, "6371", case_event().to_json(), exchange=topology.uplink_exchange("6303"))
    with pytest.raises(AccessRefused):
        publish_as(hub, "6371", case_event().to_json(), exchange=topology.HUB_EVENTS_EXCHANGE)


@pytest.mark.own_province  # breaks the read model
def test_an_event_that_keeps_failing_is_retried_a_bounded_number_of_times_then_quarantined(hub):
    # Break the read model: every attempt to apply the event fails and is rolled back.
    engine = hub.engine("hub", "reporting")
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE registered_case")
    engine.dispose()
    publish_as(hub, "6371", case_event().to_json())
    wait_until(lambda: dead_lettered(hub), timeout=30, message="dead-lettered after the delivery limit")
    assert queue_depth(hub, registry.get("reporting").queue) == 0
    assert hub.count("hub", "reporting", "inbox") == 0  # never half-applied


def capacity_plan(hub, **query):
    resp = requests.get(hub.url("hub", "/api/v1/capacity-plan"), params=query,
                        headers=hub.headers("hub", auth.ANALYST), timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()


def snapshot_event(node, free, as_of, sequence):
    return contracts.make_event("capacity.changed", {
        "facility_id": "rumah-singgah-banjarmasin", "name": "Rumah Singgah Banjarmasin", "kind": "rumah_singgah",
        "regency": node, "categories": ["gelandangan"], "disability_types": [], "status": "operational",
        "units": [{"name": "Ruang", "sex": "male", "capacity": 4, "occupied": 4 - free, "free": free}],
        "as_of": as_of}, node=node, service="facilities").with_sequence(sequence)


def plan_event(node, regency, sequence, status="usulan", plan_id=None):
    return contracts.make_event("plan.proposed" if status == "usulan" else "plan.updated", {
        "plan_id": plan_id or str(uuid.uuid4()), "regency": regency, "name": "Sentra Tabalong", "kind": "sentra",
        "categories": ["gelandangan"], "planned_capacity": 30, "target_year": 2028, "status": status},
        node=node, service="facilities").with_sequence(sequence)


@pytest.mark.own_province  # reads the whole capacity plan of 6371
def test_demand_is_set_beside_beds_and_planned_centres(hub):
    first, second = case_event(), case_event()
    for event in (first, second, case_event(category="anak_jalanan")):
        publish_as(hub, "6371", event.to_json())
    closed = contracts.make_event("case.closed", {"case_id": first.payload["case_id"], "outcome": "positive",
                                                  "stage_before": "resosialisasi"}, node="6371", service="intake")
    publish_as(hub, "6371", closed.with_sequence(next_sequence()).to_json())
    # A newer snapshot, then an older one arriving late: the newer one stands.
    publish_as(hub, "6371", snapshot_event("6371", 1, datetime(2026, 11, 24, 10, tzinfo=timezone.utc), next_sequence()).to_json())
    publish_as(hub, "6371", snapshot_event("6371", 3, datetime(2026, 11, 24, 9, tzinfo=timezone.utc), next_sequence()).to_json())
    plan = str(uuid.uuid4())
    publish_as(hub, "63", plan_event("63", "6371", next_sequence(), plan_id=plan).to_json())
    publish_as(hub, "63", plan_event("63", "6371", next_sequence(), status="disetujui", plan_id=plan).to_json())
    publish_as(hub, "6371", plan_event("6371", "6309", next_sequence()).to_json())  # a regency planning for another
    wait_until(lambda: hub.count("hub", "reporting", "inbox") == 8 and quarantine_rows(hub), message="all applied")

    row = next(r for r in capacity_plan(hub)["regencies"] if r["regency"] == "6371")
    assert (row["open_cases"], row["beds"], row["occupied"], row["free"], row["planned_beds"]) == (2, 4, 3, 1, 30)
    assert row["shortfall"] == 0
    street = next(r for r in capacity_plan(hub, category="anak_jalanan")["regencies"] if r["regency"] == "6371")
    assert (street["open_cases"], street["beds"], street["planned_beds"], street["shortfall"]) == (1, 0, 0, 1)
    assert [(p["plan_id"], p["status"]) for p in capacity_plan(hub)["plans"]] == [(plan, "disetujui")]
    assert "outside its jurisdiction" in quarantine_rows(hub)[0]["reason"]
    bad = requests.get(hub.url("hub", "/api/v1/capacity-plan"), params={"category": "x"},
                       headers=hub.headers("hub", auth.ANALYST), timeout=5)
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"category"}


def referral_answer(event_type, referral, node="63", sequence=None, **extra):
    return contracts.make_event(event_type, {
        "referral_id": referral["referral_id"], "case_id": referral["case_id"], "referring_node": "6371",
        "facility_id": "prsts-barakat-cangkal-bacari", **extra}, node=node,
        service="facilities").with_sequence(sequence or next_sequence())


def test_cases_waiting_for_a_panti_are_counted_until_admitted(hub):
    start = hub_state(hub)
    case = case_event()
    referral = {"referral_id": str(uuid.uuid4()), "case_id": case.payload["case_id"]}
    requested = contracts.make_event("referral.requested", {
        **referral, "facility_id": "prsts-barakat-cangkal-bacari", "facility_node": "63", "person_key": "ab" * 32,
        "category": "gelandangan", "sex": "male", "age_band": "30-34", "consent_override": False},
        node="6371", service="intake").with_sequence(next_sequence())
    publish_as(hub, "6371", case.to_json())
    publish_as(hub, "6371", requested.to_json())
    publish_as(hub, "63", referral_answer("referral.waitlisted", referral, position=1).to_json())

    def waiting(**query):
        return next(r for r in capacity_plan(hub, **query)["regencies"] if r["regency"] == "6371")["waiting"]

    wait_until(lambda: hub.count("hub", "reporting", "inbox") == start.inbox + 3, message="request and answer applied")
    assert waiting() == 1 and waiting(category="gelandangan") == 1 and waiting(category="pengemis") == 0
    # Only the node the referral went to may answer it.
    publish_as(hub, "6303", referral_answer("admission.recorded", referral, node="6303",
                                            admitted_on=datetime(2026, 11, 24).date()).to_json())
    wait_until(lambda: quarantine_rows(hub, start.last_quarantined), message="impostor quarantined")
    assert "the referral went from 6371 to 63" in quarantine_rows(hub, start.last_quarantined)[0]["reason"]
    assert waiting() == 1
    publish_as(hub, "63", referral_answer("admission.recorded", referral,
                                          admitted_on=datetime(2026, 11, 24).date()).to_json())
    wait_until(lambda: waiting() == 0, message="admitted: no longer waiting")
    wait_until(lambda: dead_lettered(hub) == start.dead_lettered + 1, message="impostor dead-lettered")


def referral_event(event_type, node, referral_id, **payload):
    return contracts.make_event(event_type, {"referral_id": referral_id, "case_id": referral_id,
                                             **payload}, node=node, service="intake" if event_type ==
                                "referral.requested" else "facilities").with_sequence(next_sequence())


def requested(referral_id):
    return referral_event("referral.requested", "6371", referral_id, facility_id="prsts", facility_node="63",
                          person_key="ab" * 32, category="gelandangan", sex="male", age_band="30-34",
                          consent_override=False)


def accepted(referral_id):
    return referral_event("referral.accepted", "63", referral_id, referring_node="6371", facility_id="prsts",
                          reserved_until=datetime(2030, 1, 1, tzinfo=timezone.utc))


def referral_status(hub, referral_id):
    engine = hub.engine("hub", "reporting")
    try:
        with engine.connect() as conn:
            return conn.execute(sa_text("SELECT status FROM referral_status WHERE referral_id = :r"),
                                {"r": referral_id}).scalar()
    finally:
        engine.dispose()


def test_an_answer_that_overtakes_its_request_is_retried_until_the_request_has_applied(hub):
    start = hub_state(hub)
    rid = str(uuid.uuid4())
    publish_as(hub, "63", accepted(rid).to_json(), routing_key="63.facilities.referral.accepted.to.6371")
    eventlet_sleep(0.5)  # retried a few times meanwhile, with growing delays
    publish_as(hub, "6371", requested(rid).to_json(), routing_key="6371.intake.referral.requested.to.63")
    wait_until(lambda: referral_status(hub, rid) == "accepted", message="the answer applied after its request")
    assert quarantine_rows(hub, start.last_quarantined) == []


def test_an_event_that_keeps_failing_becomes_a_dead_letter_and_is_redriven_once_it_can_apply(hub):
    start = hub_state(hub)
    rid = str(uuid.uuid4())
    publish_as(hub, "63", accepted(rid).to_json(), routing_key="63.facilities.referral.accepted.to.6371")
    # With the test's delays (0.05 s growing to 0.5 s) the queue's deliveries are spent in about 8 s.
    rows = wait_until(lambda: quarantine_rows(hub, start.last_quarantined), timeout=30, message="dead letter")
    [row] = rows
    assert row["kind"] == "dead_letter" and row["attempts"] == topology.DELIVERY_LIMIT - 1
    assert "ReferralNotYetKnown" in row["reason"]
    admin = hub.headers("hub", auth.ADMIN)
    early = requests.post(hub.url("hub", f"/api/v1/quarantine/{row['id']}/redrive"), headers=admin, timeout=10)
    assert early.json()["outcome"] == "failed"  # still no request: it stays a dead letter
    publish_as(hub, "6371", requested(rid).to_json(), routing_key="6371.intake.referral.requested.to.63")
    wait_until(lambda: referral_status(hub, rid) == "requested", message="request applied")
    # The operator's command: every waiting dead letter, through the running hub.
    done = subprocess.run([sys.executable, "-m", "rehsos_tools.cli", "redrive", "--config",
                           str(hub.paths.config / "hub.yaml")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {"id": row["id"], "outcome": "applied"} in [json.loads(line) for line in done.stdout.splitlines()]
    assert referral_status(hub, rid) == "accepted"
    again = requests.post(hub.url("hub", f"/api/v1/quarantine/{row['id']}/redrive"), headers=admin, timeout=10)
    assert again.status_code == 404  # a dead letter is redriven once
    assert requests.post(hub.url("hub", "/api/v1/quarantine/redrive"), headers=hub.headers("hub", auth.ANALYST),
                         timeout=10).status_code == 403
    assert requests.post(hub.url("hub", "/api/v1/quarantine/redrive"), headers=admin, timeout=10).json() == []
    wait_until(lambda: dead_lettered(hub) >= start.dead_lettered + 1, message="the broker's raw copy")


def test_a_refused_message_is_kept_as_a_digest_and_field_names_not_its_values(hub):
    start = hub_state(hub)
    body = json.loads(case_event().to_json())
    body["payload"]["name"] = "Budi Santoso Rahasia"
    publish_as(hub, "6371", json.dumps(body))
    [row] = wait_until(lambda: quarantine_rows(hub, start.last_quarantined), message="refused")
    assert row["kind"] == "refused" and "payload.name" in row["fields"]
    engine = hub.engine("hub", "reporting")
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa_text("SELECT body, digest, details FROM quarantine WHERE id = :i"),
                                  {"i": row["id"]}).one()
    finally:
        engine.dispose()
    assert stored.body is None and len(stored.digest) == 64
    assert "Rahasia" not in (stored.details or "")
    wait_until(lambda: dead_lettered(hub) == start.dead_lettered + 1, message="dead-lettered")


def case_closed(hub, case_id):
    engine = hub.engine("hub", "reporting")
    try:
        with engine.connect() as conn:
            value = conn.execute(sa_text("SELECT closed FROM registered_case WHERE case_id = :c"),
                                 {"c": case_id}).scalar()
            return None if value is None else bool(value)  # SQLite answers 0 or 1
    finally:
        engine.dispose()


def lifecycle(case_id, event_type, sequence, **payload):
    return contracts.make_event(event_type, {"case_id": case_id, **payload}, node="6371",
                                service="intake").with_sequence(sequence)


def test_a_closure_arriving_after_the_later_reopening_does_not_close_the_case_again(hub):
    opened = case_event()
    case_id = opened.payload["case_id"]
    publish_as(hub, "6371", opened.to_json())
    wait_until(lambda: case_closed(hub, case_id) is not None, message="opened")
    # The node closed it, then reopened it; the hub gets them the other way round.
    closed_at, reopened_at = next_sequence(), next_sequence()
    inbox = hub.count("hub", "reporting", "inbox")
    publish_as(hub, "6371", lifecycle(case_id, "case.reopened", reopened_at, stage="asesmen").to_json())
    wait_until(lambda: hub.count("hub", "reporting", "inbox") == inbox + 1, message="reopening applied")
    publish_as(hub, "6371", lifecycle(case_id, "case.closed", closed_at, outcome="positive",
                                      stage_before="resosialisasi").to_json())
    eventlet_sleep(1.0)
    assert case_closed(hub, case_id) is False  # the older closure changed nothing


def test_a_closure_that_overtakes_the_opening_waits_for_it(hub):
    opened = case_event()
    case_id = opened.payload["case_id"]
    publish_as(hub, "6371", lifecycle(case_id, "case.closed", next_sequence(), outcome="positive",
                                      stage_before="resosialisasi").to_json())
    eventlet_sleep(0.5)
    publish_as(hub, "6371", opened.to_json())
    wait_until(lambda: case_closed(hub, case_id) is True, message="closed once opened")


def test_an_old_event_replayed_under_a_new_id_is_quarantined_not_counted(hub):
    start = hub_state(hub)
    original = case_event()
    publish_as(hub, "6371", original.to_json())
    wait_until(lambda: hub.hub_cases() == start.cases + 1, message="counted")
    replay = dataclasses.replace(original, event_id=uuid.uuid4())  # same sequence, a new id
    publish_as(hub, "6371", replay.to_json())
    [row] = wait_until(lambda: quarantine_rows(hub, start.last_quarantined), message="replay quarantined")
    assert "a replay" in row["reason"]
    assert hub.hub_cases() == start.cases + 1
    wait_until(lambda: dead_lettered(hub) == start.dead_lettered + 1, message="dead-lettered")
