"""Bounded input everywhere, over HTTP on a real node and hub: what used to end in a 500 (an offset
or a time that overflows, JSON nested too deep, text the database cannot store, an id beyond an
INTEGER) is a 4xx naming the problem, nothing is written, forms have a size limit, silent
connections are dropped, and undeclared methods get 405 with Allow.

The OpenAPI document carries the limits the validation applies, and links from what a POST
creates to the operations on it."""
from __future__ import annotations

import socket
import time

import pytest
import requests

from rehsos import auth
from tests.bad_input import row_counts, well_formed
from tests.support import case_body

NODE = "6371"
UNSTORABLE = "Teks berisi karakter yang tidak diizinkan (NUL atau kode Unicode yang tidak valid)."


@pytest.fixture
def province(shared_province):
    return shared_province([NODE])


def get(province, path, role=auth.ADMIN, name=NODE, **params):
    return requests.get(province.url(name, path), params=params, headers=province.headers(name, role), timeout=10)


def refused(resp, status, field):
    assert resp.status_code == status, resp.text
    fields = resp.json()["error"].get("fields") or {}
    assert field in fields and well_formed(fields[field]), fields
    return fields[field]


@pytest.mark.parametrize("path,role", [("/api/v1/cases", auth.OPERATOR), ("/api/v1/audit", auth.ADMIN)])
@pytest.mark.parametrize("page", ["9" * 30, str(2**31), "99999999999999999"])
def test_a_page_too_large_for_an_offset_is_422_not_500(province, path, role, page):
    refused(get(province, path, role, page=page), 422, "page")


@pytest.mark.parametrize("path,role", [("/api/v1/cases", auth.OPERATOR), ("/api/v1/audit", auth.ADMIN)])
def test_the_last_page_an_integer_allows_is_an_empty_page(province, path, role):
    resp = get(province, path, role, page=str(2**31 - 1), per_page="100")
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("since", ["0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00"])
def test_a_time_that_overflows_utc_is_422_not_500(province, since):
    assert refused(get(province, "/api/v1/audit", since=since), 422, "since") == [
        "Waktu di luar rentang yang dapat disimpan."]


def test_json_nested_deeper_than_the_bound_is_400_not_500(province):
    resp = requests.post(province.url(NODE, "/api/v1/cases"), data=b"[" * 30_000 + b"]" * 30_000,
                         headers={**province.headers(NODE, auth.OPERATOR), "Content-Type": "application/json"},
                         timeout=10)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "too_deep"


@pytest.mark.parametrize("name", ["Siti\x00Aminah", "Siti \ud800 Aminah"])
def test_nul_or_a_lone_surrogate_in_text_is_422_and_nothing_is_written(province, name):
    before = row_counts(province, NODE, "intake", ("person", "case", "outbox"))
    body = case_body(nik=None, name=name).copy()
    # requests would refuse to encode a lone surrogate; JSON escapes carry it as a client could.
    data = requests.models.complexjson.dumps(body, ensure_ascii=True).encode()
    resp = requests.post(province.url(NODE, "/api/v1/cases"), data=data,
                         headers={**province.headers(NODE, auth.OPERATOR), "Content-Type": "application/json"},
                         timeout=10)
    assert refused(resp, 422, "name") == [UNSTORABLE]
    assert row_counts(province, NODE, "intake", ("person", "case", "outbox")) == before


def test_an_id_in_the_path_with_nul_or_beyond_an_integer_is_404(province):
    assert get(province, "/api/v1/cases/" + "a" * 35 + "%00", auth.OPERATOR).status_code == 404
    event = "0" * 36
    for session in ("2147483648", "9" * 40):
        resp = get(province, f"/api/v1/trainings/{event}/sessions/{session}/materials")
        assert resp.status_code == 404, (session, resp.status_code, resp.text)


def test_a_facility_code_longer_than_its_column_is_422(province):
    body = {"code": "a" * 65, "name": "Panti Uji", "kind": "panti", "owner": "province",
            "owner_name": "Dinas Sosial Provinsi", "regency": "6371", "address": "Jl. Uji 1",
            "categories": ["lansia_telantar"], "units": [{"name": "Wisma", "sex": "mixed", "capacity": 10}],
            "contact_email": "a@" + ".".join(["b" * 60] * 4) + ".id"}  # a valid address of 248 characters
    resp = requests.post(province.url(NODE, "/api/v1/facilities"), json=body,
                         headers=province.headers(NODE, auth.FACILITY_MANAGER), timeout=10)
    assert resp.status_code == 422, resp.text
    assert set(resp.json()["error"]["fields"]) == {"code", "contact_email"}


def test_the_sign_in_form_has_a_size_limit(province):
    resp = requests.post(province.url("hub", "/masuk"), data={"token": "x" * 3_000_000}, timeout=30)
    assert resp.status_code == 400, resp.text[:300]
    # A page's refusal is a page: the browser shows it in words.
    assert resp.headers["Content-Type"].startswith("text/html") and "melebihi batas" in resp.text


@pytest.mark.parametrize("name,path", [(NODE, "/api/v1/health"), (NODE, "/api/v1/openapi.json"),
                                       (NODE, "/api/v1/audit/denials"), (NODE, "/api/v1/cases"),
                                       ("hub", "/api/v1/summary")])
@pytest.mark.parametrize("method", ["TRACE", "DELETE", "PUT"])
def test_an_undeclared_method_is_405_with_the_allowed_ones(province, name, path, method):
    resp = requests.request(method, province.url(name, path), headers=province.headers(name, auth.ADMIN), timeout=10)
    assert resp.status_code == 405, resp.text
    spec = requests.get(province.url(name, "/api/v1/openapi.json"), timeout=10).json()
    declared = {m.upper() for m in spec["paths"].get(path, {"get": {}})}
    assert declared <= {m.strip() for m in resp.headers["Allow"].split(",")}
    assert method not in resp.headers["Allow"]


def test_a_connection_that_stays_silent_is_dropped(make_province, monkeypatch):
    monkeypatch.setenv("REHSOS_HTTP__SOCKET_TIMEOUT", "1")
    province = make_province([NODE], start_hub=False)
    host, port = province.settings[NODE].http_address.split(":")
    for started in (b"", b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"):  # nothing, or half a request
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(started)
            began = time.monotonic()
            assert conn.recv(1024) == b""  # closed by the server
            assert time.monotonic() - began < 5


# -- the document -----------------------------------------------------------------------------------
@pytest.fixture
def spec(province):
    return requests.get(province.url(NODE, "/api/v1/openapi.json"), timeout=10).json()


def component(spec, operation, status=None):
    content = (operation["requestBody"] if status is None else operation["responses"][status])["content"]
    return spec["components"]["schemas"][content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]


def test_the_document_carries_the_limits_of_the_validation(spec):
    facility = component(spec, spec["paths"]["/api/v1/facilities"]["post"])["properties"]
    assert (facility["code"]["maxLength"], facility["code"]["pattern"]) == (64, "^[a-z0-9]+(-[a-z0-9]+)*$")
    assert facility["contact_email"]["maxLength"] == 200
    assert facility["units"]["maxItems"] == 50 and facility["categories"]["maxItems"] == 26
    assert facility["demo"] == {"type": "boolean", "default": False,
                                "description": "made-up figures for demonstration and training"}
    person = component(spec, spec["paths"]["/api/v1/persons"]["post"])
    assert person["additionalProperties"] is False
    # Trimmed before it is checked: the pattern says two characters must be left once it is.
    assert person["properties"]["name"] == {"type": "string", "minLength": 2, "maxLength": 200, "pattern": (
        "^[ \\t\\n\\r\\f\\v]*[^ \\t\\n\\r\\f\\v\\u0000][^\\u0000]{0,}[^ \\t\\n\\r\\f\\v\\u0000][ \\t\\n\\r\\f\\v]*$")}
    assert person["properties"]["sex"]["enum"] == ["male", "female"]
    assert person["properties"]["estimated_age"]["maximum"] == 120
    assert person["properties"]["nik"]["maxLength"] == 16 and person["properties"]["nik"]["pattern"].startswith("^")
    needs = component(spec, spec["paths"]["/api/v1/cases/{case_id}/assessments"]["post"])["properties"]["needs"]
    assert needs["additionalProperties"] is False and (needs["minProperties"], needs["maxProperties"]) == (1, 7)
    update = component(spec, spec["paths"]["/api/v1/persons/{person_id}"]["patch"])
    assert update["minProperties"] == 1
    query = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/cases"]["get"]["parameters"]}
    assert (query["page"]["minimum"], query["page"]["maximum"]) == (1, 2**31 - 1)
    assert query["q"]["pattern"] == "^(?:[^A-Za-z]*[A-Za-z])"
    path = {p["name"]: p["schema"] for p in
            spec["paths"]["/api/v1/trainings/{event_id}/sessions/{session_id}/materials"]["get"]["parameters"]}
    assert path["event_id"] == {"type": "string", "minLength": 36, "maxLength": 36}
    assert path["session_id"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


@pytest.mark.parametrize("post,get_operation,param,value", [
    ("/api/v1/cases", "intake.get_case", "case_id", "$response.body#/id"),
    ("/api/v1/cases", "intake.get_person", "person_id", "$response.body#/person/id"),
    ("/api/v1/facilities", "facilities.get_facility", "code", "$response.body#/code"),
    ("/api/v1/trainings", "training.get_event", "event_id", "$response.body#/id"),
])
def test_what_a_post_creates_links_to_the_operations_on_it(spec, post, get_operation, param, value):
    links = spec["paths"][post]["post"]["responses"]["201"]["links"]
    assert links[get_operation] == {"operationId": get_operation, "parameters": {param: value}}


def test_a_link_follows_to_the_created_case(province, spec):
    link = spec["paths"]["/api/v1/cases"]["post"]["responses"]["201"]["links"]["intake.get_case"]
    created = province.register(NODE, case_body(nik=None)).json()
    case_id = created[link["parameters"]["case_id"].rsplit("/", 1)[1]]
    assert get(province, f"/api/v1/cases/{case_id}", auth.OPERATOR).json()["id"] == created["id"]


# -- PostgreSQL, where NUL and overlong values used to fail at insert ----------------------------------
def test_on_postgresql_unstorable_text_is_refused_and_the_longest_name_is_stored(make_province):
    province = make_province([NODE], database="postgresql", start_hub=False)
    headers = province.headers(NODE, auth.OPERATOR)
    resp = province.register(NODE, case_body(nik=None, name="Siti\x00Aminah"))
    assert refused(resp, 422, "name") == [UNSTORABLE]
    resp = requests.get(province.url(NODE, "/api/v1/cases"), params={"kecamatan": "Banjar\x00"}, headers=headers,
                        timeout=10)
    assert refused(resp, 422, "kecamatan") == [UNSTORABLE]
    assert requests.get(province.url(NODE, "/api/v1/cases/" + "a" * 35 + "%00"), headers=headers,
                        timeout=10).status_code == 404
    # "M." folds to "muhammad": the name key is four and a half times the name.
    longest = ("M. " * 67)[:200].strip()
    resp = province.register(NODE, case_body(nik=None, name=longest))
    assert resp.status_code == 201, resp.text
    found = requests.get(province.url(NODE, "/api/v1/cases"), params={"q": "Muhammad Muhammad"}, headers=headers,
                         timeout=10).json()
    assert found["total"] == 1
