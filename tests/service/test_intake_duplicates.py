"""Likely duplicates at a node: found for the operator, dismissed or merged with history kept."""
import pytest
import requests

from rehsos import auth
from tests.support import case_body

NODE = "6371"


@pytest.fixture
def node(make_province):
    return make_province([NODE], start_hub=False)


def register(node, **overrides):
    resp = node.register(NODE, case_body(**{"nik": None, **overrides}))
    assert resp.status_code == 201, resp.text
    return resp.json()


def duplicates(node, person_id):
    resp = requests.get(node.url(NODE, f"/api/v1/persons/{person_id}/duplicates"),
                        headers=node.headers(NODE, auth.OPERATOR), timeout=5)
    assert resp.status_code == 200
    return resp.json()


def decide(node, person_id, other_id, decision):
    return requests.post(node.url(NODE, f"/api/v1/persons/{person_id}/duplicates/{other_id}"),
                         json={"decision": decision}, headers=node.headers(NODE, auth.OPERATOR), timeout=5)


def test_spelling_variants_of_one_name_with_a_close_birth_year_are_likely_duplicates(node):
    first = register(node, name="Muhammad Noor Hidayat", birth_date="1980-04-02", kecamatan="637103")
    second = register(node, name="M. Nur Hidayat", birth_date="1981-01-20", kecamatan="637103")
    register(node, name="Siti Aisyah", sex="female", birth_date="1980-04-02")  # someone else
    register(node, name="Muhammad Noor Hidayat", birth_date="1950-01-01", kecamatan="637102",
             sex="female")  # same name, other sex: not a candidate
    [candidate] = duplicates(node, first["person"]["id"])
    assert candidate["person_id"] == second["person"]["id"]
    assert candidate["score"] >= 0.75
    assert set(candidate["reasons"]) == {"nama mirip", "tahun lahir dekat", "kecamatan sama"}


def test_a_dismissed_pair_is_not_proposed_again(node):
    first = register(node, name="Ahmad Fauzi")
    second = register(node, name="Akhmad Fauzi")
    assert [c["person_id"] for c in duplicates(node, first["person"]["id"])] == [second["person"]["id"]]
    assert decide(node, first["person"]["id"], second["person"]["id"], "dismiss").status_code == 200
    assert duplicates(node, first["person"]["id"]) == []
    assert duplicates(node, second["person"]["id"]) == []


def test_merging_moves_cases_and_nik_to_the_survivor_and_keeps_the_merged_record(node):
    survivor = register(node, name="Rahmat Hidayat")
    merged = register(node, name="Rahmad Hidayat", nik="6371051203850001", category="pengemis")
    resp = decide(node, survivor["person"]["id"], merged["person"]["id"], "merge")
    assert resp.status_code == 200, resp.text
    person = resp.json()
    assert person["nik"] == "6371051203850001"
    assert person["categories"] == ["gelandangan", "pengemis"]
    moved = requests.get(node.url(NODE, f"/api/v1/cases/{merged['id']}"), headers=node.headers(NODE, auth.OPERATOR),
                         timeout=5).json()
    assert moved["person"]["id"] == survivor["person"]["id"]
    old = requests.get(node.url(NODE, f"/api/v1/persons/{merged['person']['id']}"),
                       headers=node.headers(NODE, auth.OPERATOR), timeout=5).json()
    assert old["merged_into"] == survivor["person"]["id"] and old["nik"] is None
    timeline = requests.get(node.url(NODE, f"/api/v1/cases/{merged['id']}/timeline"),
                            headers=node.headers(NODE, auth.OPERATOR), timeout=5).json()
    assert timeline[-1]["kind"] == "person_merged"
    # Merged twice is refused; and two people with different NIKs are never merged.
    assert decide(node, survivor["person"]["id"], merged["person"]["id"], "merge").status_code == 409
    other = register(node, name="Rahmat Hidayat", nik="6371051203850002")
    assert decide(node, survivor["person"]["id"], other["person"]["id"], "merge").status_code == 409


def test_the_same_nik_twice_is_refused_naming_the_existing_person(node):
    first = register(node, nik="6371051203850001")
    resp = node.register(NODE, case_body(name="Orang Lain", nik="6371051203850001"))
    assert resp.status_code == 409
    assert resp.json()["error"]["fields"]["person_id"] == first["person"]["id"]
