"""The facility registry of a node: register, list, change, planned centres (bad input: test_facilities_bad_input).

The module shares one province: each test registers its panti under a code of its own and counts
from what was there before it."""
import itertools

import pytest
import requests

from rehsos import auth

PANTI = {
    "code": "prsts-barakat-cangkal-bacari", "name": "PRSTS Barakat Cangkal Bacari", "kind": "panti",
    "owner": "province", "owner_name": "Dinas Sosial Provinsi Kalimantan Selatan", "regency": "6372",
    "address": "Banjarbaru (DEMO)", "categories": ["gelandangan", "pengemis", "pemulung"],
    "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 40},
              {"name": "Wisma Perempuan", "sex": "female", "capacity": 20}],
}
_serials = itertools.count(1)


@pytest.fixture
def node(shared_province):
    return shared_province(["63", "6371"], start_hub=False)


def call(node, method, path, body=None, role=auth.FACILITY_MANAGER, at="63"):
    return requests.request(method, node.url(at, path), json=body, headers=node.headers(at, role), timeout=5)


def a_panti() -> dict:
    return {**PANTI, "code": f"{PANTI['code']}-{next(_serials)}"}


def listed_codes(node, category) -> set[str]:
    listed = call(node, "GET", f"/api/v1/facilities?category={category}", role=auth.OPERATOR).json()
    return {f["code"] for f in listed}


def test_a_manager_registers_a_panti_with_its_wards_and_everyone_on_the_node_can_read_it(node):
    panti, events, known = a_panti(), node.count("63", "facilities", "outbox"), listed_codes(node, "gelandangan")
    resp = call(node, "POST", "/api/v1/facilities", panti)
    assert resp.status_code == 201, resp.text
    assert resp.json()["capacity"] == 60 and resp.json()["status"] == "operational"
    assert listed_codes(node, "gelandangan") - known == {panti["code"]}
    assert call(node, "GET", "/api/v1/facilities?category=odha", role=auth.OPERATOR).json() == []
    assert call(node, "GET", f"/api/v1/facilities/{panti['code']}", role=auth.TRAINER).json()["regency_name"] == "Banjarbaru"
    assert node.count("63", "facilities", "outbox") == events + 2  # facility.registered, capacity.changed


def test_changes_to_a_facility_are_saved_and_announced(node):
    panti, events = a_panti(), node.count("63", "facilities", "outbox")
    call(node, "POST", "/api/v1/facilities", panti)
    resp = call(node, "PATCH", f"/api/v1/facilities/{panti['code']}", {
        "status": "temporarily_closed", "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 45}]})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["status"], resp.json()["capacity"]) == ("temporarily_closed", 45)
    assert node.count("63", "facilities", "outbox") == events + 4  # each change: facility.updated and a capacity snapshot


def test_registry_refusals(node):
    panti, facilities = a_panti(), node.count("63", "facilities", "facility")
    assert call(node, "POST", "/api/v1/facilities", panti).status_code == 201
    again = call(node, "POST", "/api/v1/facilities", panti)
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_code"
    elsewhere = call(node, "POST", "/api/v1/facilities", {**PANTI, "code": "rumah-singgah-x", "regency": "6303"},
                     at="6371")
    assert elsewhere.status_code == 422 and "regency" in elsewhere.json()["error"]["fields"]
    assert call(node, "POST", "/api/v1/facilities", {**PANTI, "code": "x"}, role=auth.OPERATOR).status_code == 403
    assert call(node, "GET", "/api/v1/facilities/nope").status_code == 404
    assert node.count("63", "facilities", "facility") == facilities + 1


def test_a_planned_centre_is_proposed_and_moves_forward_only(node):
    events = node.count("63", "facilities", "outbox")
    plan = {"regency": "6309", "name": "Sentra Rehabilitasi Tabalong", "kind": "sentra",
            "categories": ["gelandangan", "penyandang_disabilitas"], "planned_capacity": 50, "target_year": 2027}
    created = call(node, "POST", "/api/v1/plans", plan)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "usulan"
    url = f"/api/v1/plans/{created.json()['id']}"
    assert call(node, "PATCH", url, {"status": "disetujui"}).json()["status"] == "disetujui"
    back = call(node, "PATCH", url, {"status": "usulan"})
    assert back.status_code == 409 and back.json()["error"]["code"] == "status_backwards"
    assert [p["regency_name"] for p in call(node, "GET", "/api/v1/plans", role=auth.OPERATOR).json()] == ["Tabalong"]
    bad = call(node, "POST", "/api/v1/plans", {**plan, "planned_capacity": 0, "target_year": "2027", "status": "x"})
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"planned_capacity", "target_year", "status"}
    elsewhere = call(node, "POST", "/api/v1/plans", plan, at="6371")
    assert elsewhere.status_code == 422 and "regency" in elsewhere.json()["error"]["fields"]
    with_events = node.engine("63", "facilities")
    with with_events.connect() as conn:
        kinds = conn.exec_driver_sql("SELECT event_type FROM outbox ORDER BY sequence").scalars().all()
    with_events.dispose()
    assert kinds[events:] == ["plan.proposed", "plan.updated"]
