"""The kecamatan at a real node (RabbitMQ vhost + SQLite): a code from the reference list, of the
person's regency; refused by name otherwise, with the field named; answered with its name."""
import itertools

import pytest
import requests

from intake.domain.search import reference_lists
from rehsos import auth, reference
from tests.support import case_body

NODE = "6371"
_serials = itertools.count(1)


@pytest.fixture
def node(shared_province):
    return shared_province([NODE], start_hub=False)


def call(node, method, path, body=None, params=None):
    return requests.request(method, node.url(NODE, path), json=body, params=params,
                            headers=node.headers(NODE, auth.OPERATOR), timeout=10)


def register(node, **overrides):
    nik = f"637105120385{next(_serials):04d}"
    return call(node, "POST", "/api/v1/cases", case_body(nik=nik, **overrides))


def refused_on(resp) -> dict:
    assert resp.status_code == 422, resp.text
    return resp.json()["error"]["fields"]


def test_a_code_of_the_regency_is_taken_and_answered_with_its_name(node):
    resp = register(node, kecamatan="637104")
    assert resp.status_code == 201, resp.text
    case = resp.json()
    assert (case["kecamatan"], case["kecamatan_name"]) == ("637104", "Banjarmasin Utara")
    assert (case["person"]["kecamatan"], case["person"]["kecamatan_name"]) == ("637104", "Banjarmasin Utara")
    person = call(node, "GET", f"/api/v1/persons/{case['person']['id']}").json()
    assert (person["kecamatan"], person["kecamatan_name"]) == ("637104", "Banjarmasin Utara")


@pytest.mark.parametrize("kecamatan, message", [
    ("Banjarmasin Utara", "Kode kecamatan tidak dikenal"),  # the name: the code is asked for
    ("637199", "Kode kecamatan tidak dikenal"),
    ("630305", "Kecamatan Martapura (630305) tidak berada di Kota Banjarmasin."),  # of Kabupaten Banjar
])
def test_an_unknown_code_or_one_of_another_regency_is_refused_naming_the_field(node, kecamatan, message):
    before = node.count(NODE, "intake", "person")
    details = refused_on(register(node, kecamatan=kecamatan))
    assert list(details) == ["kecamatan"]
    assert details["kecamatan"][0].startswith(message)
    assert node.count(NODE, "intake", "person") == before


def test_a_regency_outside_the_office_is_refused_on_the_regency_first(node):
    assert list(refused_on(register(node, regency="6303", kecamatan="630305"))) == ["regency"]


def test_a_change_of_kecamatan_stays_in_the_persons_regency(node):
    person = register(node, kecamatan="637101").json()["person"]
    path = f"/api/v1/persons/{person['id']}"
    details = refused_on(call(node, "PATCH", path, {"kecamatan": "630303"}))  # Gambut, Kabupaten Banjar
    assert details == {"kecamatan": ["Kecamatan Gambut (630303) tidak berada di Kota Banjarmasin."]}
    assert list(refused_on(call(node, "PATCH", path, {"kecamatan": "Banjarmasin Timur"}))) == ["kecamatan"]
    changed = call(node, "PATCH", path, {"kecamatan": "637102"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["kecamatan"], changed.json()["kecamatan_name"]) == ("637102", "Banjarmasin Timur")


def test_the_caseload_is_filtered_by_the_code(node):
    register(node, name="Zainal Kecamatan Selatan", kecamatan="637101")
    found = call(node, "GET", "/api/v1/cases", params={"kecamatan": "637101", "q": "Zainal", "per_page": 100}).json()
    assert found["items"] and {(c["kecamatan"], c["kecamatan_name"]) for c in found["items"]} == {
        ("637101", "Banjarmasin Selatan")}
    assert list(refused_on(call(node, "GET", "/api/v1/cases", params={"kecamatan": "Banjarmasin Selatan"}))) == [
        "kecamatan"]


def test_the_openapi_document_lists_the_codes_and_states_the_regency_rule(node):
    document = requests.get(node.url(NODE, "/api/v1/openapi.json"), timeout=10).json()
    body = document["components"]["schemas"]["CaseRegistration"]["properties"]["kecamatan"]
    assert set(body["enum"]) == set(reference.KECAMATAN)
    operation = document["paths"]["/api/v1/cases"]["post"]
    assert "kecamatan" in {rule["field"] for rule in operation["x-rules"]}
    patch = document["paths"]["/api/v1/persons/{person_id}"]["patch"]
    assert "kecamatan" in {rule["field"] for rule in patch["x-rules"]}


def test_the_forms_get_the_offices_own_kecamatan(node):
    ref = requests.get(node.url(NODE, "/api/v1/reference"), headers=node.headers(NODE, auth.OPERATOR), timeout=5).json()
    assert [k["name"] for k in ref["kecamatan"]] == [
        "Banjarmasin Barat", "Banjarmasin Selatan", "Banjarmasin Tengah", "Banjarmasin Timur", "Banjarmasin Utara"]
    assert {k["regency"] for k in ref["kecamatan"]} == {NODE}
    province = reference_lists("63")["kecamatan"]
    assert len(province) == 156 and {k["regency"] for k in province} == set(reference.REGENCIES)
