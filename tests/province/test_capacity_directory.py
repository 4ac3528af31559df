"""The province-wide bed directory at every node: fed by capacity snapshots node → hub → all
nodes, right after admissions elsewhere, and still answering while the hub is unreachable."""
import uuid
from datetime import datetime, timezone

import pytest
import requests
import sqlalchemy as sa

from rehsos import auth, contracts
from tests.support import case_body, wait_until

PANTI = {"code": "prsts-barakat-cangkal-bacari", "name": "PRSTS Barakat Cangkal Bacari", "kind": "panti",
         "owner": "province", "owner_name": "Dinas Sosial Provinsi Kalimantan Selatan", "regency": "6372",
         "address": "Banjarbaru", "categories": ["gelandangan", "pengemis"],
         "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 3},
                   {"name": "Wisma Perempuan", "sex": "female", "capacity": 2}]}
SINGGAH = {"code": "rumah-singgah-banjarmasin", "name": "Rumah Singgah Banjarmasin", "kind": "rumah_singgah",
           "owner": "regency", "owner_name": "Dinas Sosial Kota Banjarmasin", "regency": "6371",
           "address": "Banjarmasin", "categories": ["gelandangan"],
           "units": [{"name": "Ruang Laki-laki", "sex": "male", "capacity": 1}]}


@pytest.fixture
def province(make_province):
    return make_province(["63", "6371"])


def directory(province, node, **query):
    resp = requests.get(province.url(node, "/api/v1/directory"), params=query,
                        headers=province.headers(node, auth.OPERATOR), timeout=5)
    assert resp.status_code == 200, resp.text
    return [(a["facility_id"], a["free_beds"], a["same_regency"]) for a in resp.json()], resp.json()


def accept_one(province):
    """A referral waiting at node 63 is accepted: a male bed is reserved."""
    engine = province.engine("63", "facilities")
    rid = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO referral_request (referral_id, case_id, referring_node, facility_code, person_key, category,"
            " sex, age_band, consent_override, status, received_at) VALUES (:id, :case, '6371', :fac, :key,"
            " 'gelandangan', 'male', '30-34', false, 'requested', :at)"),
            {"id": rid, "case": str(uuid.uuid4()), "fac": PANTI["code"], "key": "ab" * 32, "at": datetime.now(timezone.utc)})
    engine.dispose()
    resp = requests.post(province.url("63", f"/api/v1/referrals/{rid}/accept"), json={"unit": "Wisma Laki-laki"},
                         headers=province.headers("63", auth.FACILITY_MANAGER), timeout=5)
    assert resp.status_code == 200, resp.text
    return rid


def move(province, rid, action, body):
    resp = requests.post(province.url("63", f"/api/v1/referrals/{rid}/{action}"), json=body,
                         headers=province.headers("63", auth.FACILITY_MANAGER), timeout=5)
    assert resp.status_code == 200, resp.text


def test_every_node_knows_every_facilitys_free_beds_and_answers_while_the_hub_is_away(province):
    assert requests.post(province.url("63", "/api/v1/facilities"), json=PANTI, timeout=5,
                         headers=province.headers("63", auth.FACILITY_MANAGER)).status_code == 201
    assert requests.post(province.url("6371", "/api/v1/facilities"), json=SINGGAH, timeout=5,
                         headers=province.headers("6371", auth.FACILITY_MANAGER)).status_code == 201

    expected = [("rumah-singgah-banjarmasin", 1, True), ("prsts-barakat-cangkal-bacari", 3, False)]
    wait_until(lambda: directory(province, "6371", category="gelandangan", sex="male")[0] == expected,
               timeout=20, message="directory at 6371")
    assert directory(province, "6371", category="gelandangan", sex="female")[0] == [
        ("prsts-barakat-cangkal-bacari", 2, False)]
    assert directory(province, "6371", category="pengemis", sex="male")[0] == [("prsts-barakat-cangkal-bacari", 3, False)]

    accept_one(province)  # an admission elsewhere: node 63 books a bed
    wait_until(lambda: ("prsts-barakat-cangkal-bacari", 2, False) in directory(
        province, "6371", category="gelandangan", sex="male")[0], timeout=20, message="snapshot after the booking")

    province.block_hub()
    try:
        offline = accept_one(province)
        answers, raw = directory(province, "6371", category="gelandangan", sex="male")
        assert ("prsts-barakat-cangkal-bacari", 2, False) in answers  # last known state
        assert all(a["age_seconds"] >= 0 and a["as_of"] for a in raw)
    finally:
        province.unblock_hub()
    wait_until(lambda: ("prsts-barakat-cangkal-bacari", 1, False) in directory(
        province, "6371", category="gelandangan", sex="male")[0], timeout=40, message="caught up after recovery")

    # Admission keeps the bed taken; discharge frees it, and 6371 sees that too.
    move(province, offline, "admission", {"admitted_on": "2026-11-20"})
    move(province, offline, "discharge", {"discharged_on": "2026-11-24", "outcome": "positive"})
    wait_until(lambda: ("prsts-barakat-cangkal-bacari", 2, False) in directory(
        province, "6371", category="gelandangan", sex="male")[0], timeout=20, message="bed free after discharge")


def test_a_directory_question_needs_a_category_and_a_sex(province):
    resp = requests.get(province.url("6371", "/api/v1/directory"), params={"category": "preman"},
                        headers=province.headers("6371", auth.OPERATOR), timeout=5)
    assert resp.status_code == 422 and set(resp.json()["error"]["fields"]) == {"category", "sex"}


def test_the_hub_sets_beds_and_planned_centres_beside_demand(province):
    assert requests.post(province.url("63", "/api/v1/facilities"), json=PANTI, timeout=5,
                         headers=province.headers("63", auth.FACILITY_MANAGER)).status_code == 201
    plan = {"regency": "6309", "name": "Sentra Rehabilitasi Tabalong", "kind": "sentra",
            "categories": ["gelandangan"], "planned_capacity": 40, "target_year": 2028}
    assert requests.post(province.url("63", "/api/v1/plans"), json=plan, timeout=5,
                         headers=province.headers("63", auth.FACILITY_MANAGER)).status_code == 201
    assert province.register("6371", case_body()).status_code == 201

    def regencies():
        resp = requests.get(province.url("hub", "/api/v1/capacity-plan"), params={"category": "gelandangan"},
                            headers=province.headers("hub", auth.ANALYST), timeout=5)
        return {r["regency"]: (r["open_cases"], r["beds"], r["planned_beds"]) for r in resp.json()["regencies"]}

    wait_until(lambda: (regencies()["6371"], regencies()["6372"], regencies()["6309"]) == (
        (1, 0, 0), (0, 5, 0), (0, 0, 40)), timeout=20, message="demand, beds and plans at the hub")
    page = requests.get(province.url("hub", "/"), headers=province.headers("hub", auth.ANALYST), timeout=5).text
    assert "Sentra Rehabilitasi Tabalong" in page and "Kekurangan" in page and "Usulan" in page


def test_no_node_may_speak_for_another_nodes_facility(province):
    assert requests.post(province.url("6371", "/api/v1/facilities"), json=SINGGAH, timeout=5,
                         headers=province.headers("6371", auth.FACILITY_MANAGER)).status_code == 201
    wait_until(lambda: directory(province, "63", category="gelandangan", sex="male")[0] == [
        ("rumah-singgah-banjarmasin", 1, False)], timeout=20, message="directory at 63")

    # The province's node claims Banjarmasin's rumah singgah is full: every node refuses it.
    forged = contracts.make_event("capacity.changed", {
        "facility_id": SINGGAH["code"], "name": SINGGAH["name"], "kind": "rumah_singgah", "regency": "6371",
        "categories": ["gelandangan"], "disability_types": [], "status": "operational",
        "units": [{"name": "Ruang Laki-laki", "sex": "male", "capacity": 1, "occupied": 1, "free": 0}],
        "as_of": datetime.now(timezone.utc)}, node="63", service="facilities").with_sequence(99)
    province.publish_as("63", forged.to_json(), routing_key="63.facilities.capacity.changed.to.all")
    for node in ("63", "6371"):
        wait_until(lambda: province.count(node, "facilities", "quarantine") == 1, timeout=20,
                   message=f"quarantined at {node}")
    assert directory(province, "6371", category="gelandangan", sex="male")[0] == [
        ("rumah-singgah-banjarmasin", 1, True)]
    # The hub's view keeps the owner's figures too.
    plan = requests.get(province.url("hub", "/api/v1/capacity-plan"), timeout=5,
                        headers=province.headers("hub", auth.ANALYST)).json()
    assert next(r for r in plan["regencies"] if r["regency"] == "6371")["free"] == 1
    assert any("belongs to node 6371" in row["reason"] for row in requests.get(
        province.url("hub", "/api/v1/quarantine"), headers=province.headers("hub", auth.ANALYST), timeout=5).json())
