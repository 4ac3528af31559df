"""A referral from a regency to a provincial panti travels up and down through the hub, and
the facility node's answers move the case at the referring node."""
from datetime import date, datetime, timedelta, timezone

import kombu
import pytest
import requests

from rehsos import auth, contracts, topology
from tests.support import case_body, wait_until


@pytest.fixture
def province(make_province):
    return make_province(["6371", "63", "6303"])


def answer(province, from_node, event_type, referral, sequence, **payload):
    """Publish as the facility service of ``from_node`` would: on its node, addressed to 6371."""
    event = contracts.make_event(event_type, {
        "referral_id": referral["id"], "case_id": referral["case_id"], "referring_node": "6371",
        "facility_id": referral["facility_id"], **payload}, node=from_node, service="facilities").with_sequence(sequence)
    with kombu.Connection(province.node_amqp(from_node), transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(event.to_json(), exchange=topology.EVENTS_EXCHANGE,
                                routing_key=contracts.routing_key(event, target="6371"),
                                content_type="application/json", retry=False)


def get_case(province, case_id):
    return requests.get(province.url("6371", f"/api/v1/cases/{case_id}"),
                        headers=province.headers("6371", auth.OPERATOR), timeout=5).json()


def timeline_kinds(province, case_id):
    return [e["kind"] for e in requests.get(province.url("6371", f"/api/v1/cases/{case_id}/timeline"),
                                            headers=province.headers("6371", auth.OPERATOR), timeout=5).json()]


def test_a_referral_reaches_the_facility_node_and_its_answers_move_the_case(province):
    ops = province.headers("6371", auth.OPERATOR)
    case = province.register("6371", case_body()).json()
    requests.post(province.url("6371", f"/api/v1/persons/{case['person']['id']}/consents"), headers=ops, timeout=5,
                  json={"purpose": "referral", "legal_basis": "consent", "given_by": "person"}).raise_for_status()
    for stage in ("asesmen",):
        requests.post(province.url("6371", f"/api/v1/cases/{case['id']}/stage"), json={"stage": stage},
                      headers=ops, timeout=5).raise_for_status()
    resp = requests.post(province.url("6371", f"/api/v1/cases/{case['id']}/referrals"), headers=ops, timeout=5,
                         json={"facility_id": "prsts-barakat-cangkal-bacari", "facility_node": "63"})
    assert resp.status_code == 201, resp.text
    referral = resp.json()

    # Down at node 63: no facility service consumes yet, so it waits in the node's unrouted queue.
    def at_node_63():
        with kombu.Connection(province.node_amqp("63")) as conn:
            message = kombu.Queue(topology.NODE_UNROUTED_QUEUE, no_declare=True)(conn.channel()).get(no_ack=True)
            return message and contracts.parse_event(message.body)
    event = wait_until(at_node_63, timeout=20, message="referral.requested at node 63")
    assert (event.event_type, event.node, event.payload["referral_id"]) == ("referral.requested", "6371", referral["id"])
    assert "name" not in event.payload and "nik" not in event.payload

    answer(province, "63", "referral.accepted", referral, 1,
           reserved_until=datetime.now(timezone.utc) + timedelta(days=3))
    answer(province, "63", "admission.recorded", referral, 2, admitted_on=date.today())
    wait_until(lambda: get_case(province, case["id"])["stage"] == "intervensi", timeout=20, message="admitted")
    assert timeline_kinds(province, case["id"])[-3:] == ["referral_accepted", "admission_recorded", "stage_changed"]

    answer(province, "63", "discharge.recorded", referral, 3, discharged_on=date.today(),
           outcome="positive")
    wait_until(lambda: get_case(province, case["id"])["stage"] == "resosialisasi", timeout=20, message="discharged")


def test_an_answer_from_a_node_the_referral_did_not_go_to_is_quarantined(province):
    ops = province.headers("6371", auth.SUPERVISOR)
    case = province.register("6371", case_body(nik=None)).json()
    referral = requests.post(province.url("6371", f"/api/v1/cases/{case['id']}/referrals"), headers=ops, timeout=5,
                             json={"facility_id": "prspdnf-fajar-harapan", "facility_node": "63",
                                   "consent_override": "Keadaan darurat, orang tidak sadar (kepentingan vital)."}).json()
    answer(province, "6303", "referral.accepted", referral, 1,
           reserved_until=datetime.now(timezone.utc) + timedelta(days=3))
    wait_until(lambda: province.count("6371", "intake", "quarantine") == 1, timeout=20, message="quarantined")
    assert "referral went to 63" in _quarantine_reason(province)
    assert timeline_kinds(province, case["id"])[-1] == "referral_requested"


def _quarantine_reason(province):
    engine = province.engine("6371", "intake")
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT reason FROM quarantine").scalar_one()
    finally:
        engine.dispose()
