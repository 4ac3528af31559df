"""Bad input on every POST/PATCH endpoint and every query of facilities, on a real node (RabbitMQ
vhost + SQLite): 422 with a message per field, 400 for unreadable bodies, and nothing written.

One node serves the whole module: each check compares row counts before and after its own requests."""
import itertools
import uuid
from datetime import datetime, timezone

import pytest
import requests
import sqlalchemy as sa

from rehsos import auth
from tests.bad_input import Endpoint, problems_with, row_counts, well_formed, write_endpoints

NODE = "63"
# Not capacity_directory: the node's own snapshots reach it by message, whatever a request does.
TABLES = ("facility", "facility_unit", "referral_request", "centre_plan", "outbox")
_serials = itertools.count(1)


@pytest.fixture
def node(shared_province):
    return shared_province([NODE], start_hub=False)


def call(node, method, path, body=None, params=None):
    return requests.request(method, node.url(NODE, path), json=body, params=params,
                            headers=node.headers(NODE, auth.FACILITY_MANAGER), timeout=10)


def ok(resp):
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


def counts(node) -> dict:
    return row_counts(node, NODE, "facilities", TABLES)


# -- the state each endpoint needs -----------------------------------------------------------------
def facility_body() -> dict:
    return {"code": f"panti-uji-{next(_serials)}", "name": "Panti Uji (DEMO)", "kind": "panti", "owner": "province",
            "owner_name": "Dinas Sosial Provinsi Kalimantan Selatan", "regency": "6372", "address": "Banjarbaru",
            "categories": ["gelandangan"], "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 5}]}


def a_facility(node) -> dict:
    return {"code": ok(call(node, "POST", "/api/v1/facilities", facility_body()))["code"]}


def a_referral(*steps):
    """A referral from 6371 waiting at a new facility, taken through ``steps`` (accept, admission)."""
    def prepare(node) -> dict:
        code = a_facility(node)["code"]
        rid = str(uuid.uuid4())
        engine = node.engine(NODE, "facilities")
        with engine.begin() as conn:  # as the downlink consumer stores it (the uplink path is tested elsewhere)
            conn.execute(sa.text(
                "INSERT INTO referral_request (referral_id, case_id, referring_node, facility_code, person_key,"
                " category, sex, age_band, consent_override, status, received_at) VALUES (:id, :case, '6371', :fac,"
                " :key, 'gelandangan', 'male', '30-34', false, 'requested', :at)"),
                {"id": rid, "case": str(uuid.uuid4()), "fac": code, "key": "ab" * 32, "at": datetime.now(timezone.utc)})
        engine.dispose()
        for step in steps:
            ok(call(node, "POST", f"/api/v1/referrals/{rid}/{step}", STEP_BODIES[step]))
        return {"referral_id": rid}
    return prepare


def a_plan(node) -> dict:
    return {"plan_id": ok(call(node, "POST", "/api/v1/plans", PLAN))["id"]}


def nothing(node) -> dict:
    return {}


PLAN = {"regency": "6309", "name": "Sentra Rehabilitasi Tabalong", "kind": "sentra", "categories": ["gelandangan"],
        "planned_capacity": 40, "target_year": 2028}
STEP_BODIES = {"accept": {"unit": "Wisma Laki-laki"}, "admission": {"admitted_on": "2026-11-20"}}
FACILITY = facility_body()

ENDPOINTS = [
    Endpoint("register facility", "POST", "/api/v1/facilities", nothing, facility_body, [
        ("missing required fields", {}, {"code", "name", "kind", "owner", "owner_name", "regency", "address",
                                         "categories", "units"}),
        ("wrong types", {**FACILITY, "name": 5, "categories": "gelandangan", "units": {"name": "A"}, "demo": "ya"},
         {"name", "categories", "units", "demo"}),
        ("unknown field", {**FACILITY, "beds_free": 3}, {"beds_free"}),
        ("invalid enum values", {**FACILITY, "kind": "hotel", "owner": "swasta", "regency": "9999",
                                 "categories": ["preman"], "status": "full"},
         {"kind", "owner", "regency", "categories", "status"}),
        ("bad code, phone and e-mail", {**FACILITY, "code": "Panti Uji!", "contact_phone": "0812-abc",
                                        "contact_email": "bukan-email"}, {"code", "contact_phone", "contact_email"}),
        ("no units", {**FACILITY, "units": []}, {"units"}),
        ("units repeated", {**FACILITY, "units": [{"name": "A", "sex": "male", "capacity": 1}] * 2}, {"units"}),
        ("unit fields", {**FACILITY, "units": [{"name": "", "sex": "laki-laki", "capacity": -1}]}, {"units"}),
    ], role=auth.FACILITY_MANAGER),
    Endpoint("change facility", "PATCH", "/api/v1/facilities/{code}", a_facility, {"status": "temporarily_closed"}, [
        ("nothing to change", {}, {"_body"}),
        ("wrong types", {"name": 5, "units": "banyak"}, {"name", "units"}),
        ("unknown field", {"code": "baru"}, {"code"}),
        ("occupancy is not typed in", {"status": "full"}, {"status"}),
        ("capacity not a whole number", {"units": [{"name": "A", "sex": "male", "capacity": "10"}]}, {"units"}),
    ], role=auth.FACILITY_MANAGER),
    Endpoint("accept referral", "POST", "/api/v1/referrals/{referral_id}/accept", a_referral(),
             {"unit": "Wisma Laki-laki"}, [
        ("missing required fields", {}, {"unit"}),
        ("wrong types", {"unit": 5, "reserved_days": "3"}, {"unit", "reserved_days"}),
        ("unknown field", {"unit": "Wisma Laki-laki", "bed": 4}, {"bed"}),
        ("reservation too long", {"unit": "Wisma Laki-laki", "reserved_days": 90}, {"reserved_days"}),
        ("a unit the facility does not have", {"unit": "Wisma Anak"}, {"unit"}),
    ], role=auth.FACILITY_MANAGER),
    Endpoint("reject referral", "POST", "/api/v1/referrals/{referral_id}/reject", a_referral(),
             {"reason_code": "outside_criteria", "note": "Kategori tidak sesuai"}, [
        ("missing required fields", {}, {"reason_code"}),
        ("wrong types", {"reason_code": 5, "note": 5}, {"reason_code", "note"}),
        ("unknown field", {"reason_code": "no_bed", "until": "2027-01-01"}, {"until"}),
        ("free text instead of a code", {"reason": "Penuh sekali"}, {"reason", "reason_code"}),
        ("a code only the node itself gives", {"reason_code": "reservation_expired"}, {"reason_code"}),
        ("note too short", {"reason_code": "other", "note": "x"}, {"note"}),
    ], role=auth.FACILITY_MANAGER),
    Endpoint("waitlist referral", "POST", "/api/v1/referrals/{referral_id}/waitlist", a_referral(), {}, [
        ("wrong types", {"note": 5}, {"note"}),
        ("unknown field", {"position": 1}, {"position"}),
    ], role=auth.FACILITY_MANAGER),
    Endpoint("record walk-in admission", "POST", "/api/v1/referrals/{referral_id}/admission", a_referral(),
             {"admitted_on": "2026-11-20", "unit": "Wisma Laki-laki"}, [
        ("no unit and no reservation", {"admitted_on": "2026-11-20"}, {"unit"}),
        ("a unit the facility does not have", {"admitted_on": "2026-11-20", "unit": "Wisma Anak"}, {"unit"}),
    ], role=auth.FACILITY_MANAGER),
    Endpoint("record admission", "POST", "/api/v1/referrals/{referral_id}/admission", a_referral("accept"),
             {"admitted_on": "2026-11-20"}, [
        ("missing required fields", {}, {"admitted_on"}),
        ("wrong types", {"admitted_on": 20261120, "unit": 5}, {"admitted_on", "unit"}),
        ("unknown field", {"admitted_on": "2026-11-20", "bed": 2}, {"bed"}),
        ("not a date", {"admitted_on": "kemarin"}, {"admitted_on"}),
        ("in the future", {"admitted_on": "2999-01-01"}, {"admitted_on"}),
        ("another unit than the reserved one", {"admitted_on": "2026-11-20", "unit": "Wisma Lain"}, {"unit"}),
    ], role=auth.FACILITY_MANAGER),
    Endpoint("record discharge", "POST", "/api/v1/referrals/{referral_id}/discharge",
             a_referral("accept", "admission"),
             {"discharged_on": "2026-11-24", "outcome": "positive"}, [
        ("missing required fields", {}, {"discharged_on", "outcome"}),
        ("wrong types", {"discharged_on": 1, "outcome": True}, {"discharged_on", "outcome"}),
        ("unknown field", {"discharged_on": "2026-11-24", "outcome": "positive", "to": "keluarga"}, {"to"}),
        ("invalid enum values", {"discharged_on": "2026-13-01", "outcome": "baik"}, {"discharged_on", "outcome"}),
        ("in the future", {"discharged_on": "2999-01-01", "outcome": "positive"}, {"discharged_on"}),
        ("before the admission", {"discharged_on": "2026-11-19", "outcome": "positive"}, {"discharged_on"}),
    ], role=auth.FACILITY_MANAGER),
    Endpoint("propose plan", "POST", "/api/v1/plans", nothing, PLAN, [
        ("missing required fields", {}, {"regency", "name", "kind", "categories", "planned_capacity", "target_year"}),
        ("wrong types", {**PLAN, "planned_capacity": "40", "target_year": 2028.5, "categories": "gelandangan"},
         {"planned_capacity", "target_year", "categories"}),
        ("unknown field", {**PLAN, "status": "disetujui"}, {"status"}),
        ("invalid enum values", {**PLAN, "regency": "9999", "kind": "hotel", "categories": ["preman"]},
         {"regency", "kind", "categories"}),
        ("out of range", {**PLAN, "planned_capacity": 0, "target_year": 1990}, {"planned_capacity", "target_year"}),
    ], role=auth.FACILITY_MANAGER),
    Endpoint("change plan", "PATCH", "/api/v1/plans/{plan_id}", a_plan, {"status": "disetujui"}, [
        ("nothing to change", {}, {"_body"}),
        ("wrong types", {"planned_capacity": "50", "note": 5}, {"planned_capacity", "note"}),
        ("unknown field", {"regency": "6371"}, {"regency"}),
        ("invalid enum values", {"status": "selesai"}, {"status"}),
    ], role=auth.FACILITY_MANAGER),
]


def test_the_table_covers_every_post_put_and_patch_endpoint_of_facilities(node):
    spec = ok(requests.get(node.url(NODE, "/api/v1/openapi.json"), timeout=10))
    assert write_endpoints(spec, "facilities") == {(e.method, e.path) for e in ENDPOINTS}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_bad_input_gets_per_field_messages_and_writes_nothing(node, endpoint):
    path = endpoint.path.format(**endpoint.prepare(node))
    problems = problems_with(endpoint, node.url(NODE, path), node.headers(NODE, endpoint.role), lambda: counts(node))
    assert not problems, "\n".join(problems)
    valid = endpoint.valid() if callable(endpoint.valid) else endpoint.valid
    resp = call(node, endpoint.method, path, valid)
    assert resp.status_code in (200, 201), resp.text


@pytest.mark.parametrize("path,params,expected", [
    ("/api/v1/facilities", {"regency": "9999", "kind": "hotel", "category": "preman"}, {"regency", "kind", "category"}),
    ("/api/v1/directory", {"category": "preman", "sex": "x", "regency": "1"}, {"category", "sex", "regency"}),
    ("/api/v1/directory", {}, {"category", "sex"}),
    ("/api/v1/referrals", {"status": "selesai", "facility": "x" * 65}, {"status", "facility"}),
    ("/api/v1/facilities", {"page": "2"}, {"page"}),
], ids=["facilities", "directory", "directory-empty", "referrals", "unknown-parameter"])
def test_bad_query_parameters_are_422_naming_each_parameter(node, path, params, expected):
    resp = call(node, "GET", path, params=params)
    assert resp.status_code == 422, resp.text
    fields = resp.json()["error"]["fields"]
    assert set(fields) == expected and all(well_formed(m) for m in fields.values()), fields


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/v1/facilities/tidak-ada", None), ("GET", "/api/v1/facilities/tidak-ada/occupancy", None),
    ("PATCH", "/api/v1/facilities/tidak-ada", {"status": "temporarily_closed"}),
    ("POST", "/api/v1/referrals/{uuid}/accept", {"unit": "A"}),
    ("POST", "/api/v1/referrals/{uuid}/discharge", {"discharged_on": "2026-11-24", "outcome": "positive"}),
    ("PATCH", "/api/v1/plans/{uuid}", {"status": "disetujui"}),
])
def test_what_does_not_exist_is_404_and_writes_nothing(node, method, path, body):
    before = counts(node)
    resp = call(node, method, path.format(uuid=uuid.uuid4()), body)
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["message"] and counts(node) == before
