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


PANTI = {"code": "prsts-barakat-cangkal-bacari", "name": "PRSTS Barakat Cangkal Bacari", "kind": "panti",
         "owner": "province", "owner_name": "Dinas Sosial Provinsi Kalimantan Selatan", "regency": "6372",
         "address": "Banjarbaru", "categories": ["gelandangan"],
         "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 1}]}


def test_a_referral_from_6371_is_accepted_at_node_63_and_the_case_moves_through_the_hub(province):
    manager = province.headers("63", auth.FACILITY_MANAGER)
    assert requests.post(province.url("63", "/api/v1/facilities"), json=PANTI, headers=manager,
                         timeout=5).status_code == 201
    ops = province.headers("6371", auth.OPERATOR)
    case = province.register("6371", case_body()).json()
    requests.post(province.url("6371", f"/api/v1/persons/{case['person']['id']}/consents"), headers=ops, timeout=5,
                  json={"purpose": "referral", "legal_basis": "consent", "given_by": "person"}).raise_for_status()
    requests.post(province.url("6371", f"/api/v1/cases/{case['id']}/stage"), json={"stage": "asesmen"},
                  headers=ops, timeout=5).raise_for_status()
    resp = requests.post(province.url("6371", f"/api/v1/cases/{case['id']}/referrals"), headers=ops, timeout=5,
                         json={"facility_id": PANTI["code"], "facility_node": "63"})
    assert resp.status_code == 201, resp.text
    referral_id = resp.json()["id"]

    def received():
        rows = requests.get(province.url("63", "/api/v1/referrals?status=requested"), headers=manager, timeout=5).json()
        return rows and rows[0]
    seen = wait_until(received, timeout=20, message="referral at node 63")
    assert (seen["referral_id"], seen["referring_node"], seen["category"]) == (referral_id, "6371", "gelandangan")
    assert "name" not in seen and "nik" not in seen

    base = province.url("63", f"/api/v1/referrals/{referral_id}")
    assert requests.post(base + "/accept", json={"unit": "Wisma Laki-laki"}, headers=manager, timeout=5).status_code == 200
    occupancy = requests.get(province.url("63", f"/api/v1/facilities/{PANTI['code']}/occupancy"), headers=manager,
                             timeout=5).json()
    assert occupancy == [{"unit": "Wisma Laki-laki", "sex": "male", "capacity": 1, "occupied": 1, "free": 0}]
    assert requests.post(base + "/admission", json={"admitted_on": date.today().isoformat()}, headers=manager,
                         timeout=5).status_code == 200
    wait_until(lambda: get_case(province, case["id"])["stage"] == "intervensi", timeout=20, message="admitted")
    assert timeline_kinds(province, case["id"])[-3:] == ["referral_accepted", "admission_recorded", "stage_changed"]

    assert requests.post(base + "/discharge", json={"discharged_on": date.today().isoformat(), "outcome": "positive"},
                         headers=manager, timeout=5).status_code == 200
    wait_until(lambda: get_case(province, case["id"])["stage"] == "resosialisasi", timeout=20, message="discharged")
    occupancy = requests.get(province.url("63", f"/api/v1/facilities/{PANTI['code']}/occupancy"), headers=manager,
                             timeout=5).json()
    assert occupancy[0]["free"] == 1
    # The hub followed the referral too: nobody from Banjarmasin is waiting for a panti any more.
    wait_until(lambda: province.count("hub", "reporting", "referral_status") == 1, message="referral at the hub")
    plan = requests.get(province.url("hub", "/api/v1/capacity-plan"), timeout=5,
                        headers=province.headers("hub", auth.ANALYST)).json()
    assert next(r for r in plan["regencies"] if r["regency"] == "6371")["waiting"] == 0


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
    assert "referral_accepted" not in timeline_kinds(province, case["id"])


def _quarantine_reason(province):
    engine = province.engine("6371", "intake")
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT reason FROM quarantine").scalar_one()
    finally:
        engine.dispose()


def test_a_referral_to_a_facility_the_node_does_not_have_is_rejected_at_once(province):
    ops = province.headers("6371", auth.SUPERVISOR)
    case = province.register("6371", case_body(nik=None)).json()
    requests.post(province.url("6371", f"/api/v1/cases/{case['id']}/referrals"), headers=ops, timeout=5,
                  json={"facility_id": "tidak-ada", "facility_node": "63",
                        "consent_override": "Keadaan darurat, orang tidak sadar (kepentingan vital)."}).raise_for_status()
    wait_until(lambda: "referral_rejected" in timeline_kinds(province, case["id"]), timeout=20, message="rejected")
    entry = next(e for e in requests.get(province.url("6371", f"/api/v1/cases/{case['id']}/timeline"),
                                         headers=ops, timeout=5).json() if e["kind"] == "referral_rejected")
    assert entry["detail"]["reason_code"] == "unknown_facility" and "reason" not in entry["detail"]
