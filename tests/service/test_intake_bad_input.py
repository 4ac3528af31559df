"""Bad input on every POST/PUT/PATCH endpoint of intake, on a real node (RabbitMQ vhost + SQLite): each
answer is 4xx with a message per field (or per body), and nothing is written. Then the audit log
as an admin reads it.

One node serves the whole module: every check compares row counts before and after its own
request, and the audit checks filter on records they created themselves."""
import itertools
import uuid
from datetime import date

import pytest
import requests

from rehsos import auth
from tests.bad_input import Endpoint, problems_with, row_counts, well_formed, write_endpoints
from tests.support import case_body

NODE = "6371"
TABLES = ("person", "case", "consent", "case_history", "assessment", "intervention_plan", "service_delivery",
          "referral", "outbox", "duplicate_review")
_serials = itertools.count(1)


@pytest.fixture
def node(shared_province):
    return shared_province([NODE], start_hub=False)


# -- helpers ---------------------------------------------------------------------------------------
def call(node, method, path, body=None, role=auth.OPERATOR, data=None, params=None):
    headers = node.headers(NODE, role)
    if data is not None:
        return requests.request(method, node.url(NODE, path), data=data, params=params,
                                headers={**headers, "Content-Type": "application/json"}, timeout=10)
    return requests.request(method, node.url(NODE, path), json=body, params=params, headers=headers, timeout=10)


def ok(resp, status=(200, 201)):
    assert resp.status_code in status, resp.text
    return resp.json()


def fresh_nik() -> str:
    return f"637105120385{next(_serials):04d}"


def counts(node) -> dict:
    return row_counts(node, NODE, "intake", TABLES)


# -- the state each endpoint needs -----------------------------------------------------------------
PERSON = {"name": "Ahmad Fauzi", "sex": "male", "estimated_age": 40, "regency": NODE,
          "kecamatan": "637105"}
ASSESSMENT = {"needs": {"terapi": "Konseling"}, "risk_level": "low", "recommendation": "Layanan di luar panti"}
PLAN = {"components": ["terapi"], "responsible_worker": "Rahmawati", "target_dates": {"terapi": "2030-01-31"}}
SERVICE = {"component": "terapi", "delivered_on": date.today().isoformat(), "description": "Sesi konseling",
           "worker": "Rahmawati"}
CLOSURE = {"reason": "Sudah kembali ke keluarga", "outcome": "positive"}
REFERRAL = {"facility_id": "prsts-barakat-cangkal-bacari", "facility_node": "63"}
CONSENT = {"purpose": "referral", "legal_basis": "consent", "given_by": "person"}


def a_person(node) -> dict:
    return {"person_id": ok(call(node, "POST", "/api/v1/persons", PERSON))["id"]}


def two_persons(node) -> dict:
    other = ok(call(node, "POST", "/api/v1/persons", {**PERSON, "name": "Ahmad Fauzy"}))
    return {**a_person(node), "other_id": other["id"]}


def a_consenting_person(node) -> dict:
    ids = a_person(node)
    ok(call(node, "POST", f"/api/v1/persons/{ids['person_id']}/consents", CONSENT))
    return ids


def case_at(*stages, assessed=False, consent=False, closure=None):
    def prepare(node) -> dict:
        case = ok(node.register(NODE, case_body(nik=None)))
        cid = case["id"]
        if consent:
            ok(call(node, "POST", f"/api/v1/persons/{case['person']['id']}/consents", CONSENT))
        for stage in stages:
            ok(call(node, "POST", f"/api/v1/cases/{cid}/stage", {"stage": stage}))
            if stage == "asesmen" and assessed:
                ok(call(node, "POST", f"/api/v1/cases/{cid}/assessments", ASSESSMENT))
        if closure is not None:
            ok(call(node, "POST", f"/api/v1/cases/{cid}/closure", CLOSURE))
            if closure == "approved":
                ok(call(node, "POST", f"/api/v1/cases/{cid}/closure/decision", {"approve": True},
                        role=auth.SUPERVISOR))
        return {"case_id": cid}
    return prepare


def nothing(node) -> dict:
    return {}


def _person_bad(valid):
    return [
        ("missing required fields", {}, {"name", "sex", "regency", "kecamatan"}),
        ("wrong types", {**valid, "name": 42, "sex": True, "estimated_age": "40", "categories": "gelandangan"},
         {"name", "sex", "estimated_age", "categories"}),
        ("unknown field", {**valid, "religion": "Islam"}, {"religion"}),
        ("invalid enum values", {**valid, "sex": "laki-laki", "regency": "9999", "categories": ["preman"],
                                 "disabilities": ["buta"]}, {"sex", "regency", "categories", "disabilities"}),
        ("both birth date and estimated age", {**valid, "birth_date": "1985-03-12"}, {"estimated_age"}),
        ("implausible NIK", {**valid, "nik": "6371053213850001"}, {"nik"}),
        ("regency of another node", {**valid, "regency": "6303", "kecamatan": "630305"}, {"regency"}),
    ]


ENDPOINTS = [
    Endpoint("register person", "POST", "/api/v1/persons", nothing, PERSON, _person_bad(PERSON)),
    Endpoint("update person", "PATCH", "/api/v1/persons/{person_id}", a_person, {"phone": "081234567890"}, [
        ("nothing to change", {}, {"_body"}),
        ("wrong types", {"name": 42, "estimated_age": "empat puluh"}, {"name", "estimated_age"}),
        ("unknown field", {"nik": "6371051203850001"}, {"nik"}),
        ("invalid enum values", {"sex": "x", "categories": ["preman"]}, {"sex", "categories"}),
        ("birth date and estimate together", {"birth_date": "1980-01-01", "estimated_age": 40}, {"estimated_age"}),
        ("future birth date", {"birth_date": "2999-01-01"}, {"birth_date"}),
    ]),
    Endpoint("attach NIK", "PUT", "/api/v1/persons/{person_id}/nik", a_person, lambda: {"nik": fresh_nik()}, [
        ("missing required fields", {}, {"nik"}),
        ("wrong types", {"nik": 6371051203850099}, {"nik"}),
        ("unknown field", {"nik": "6371051203859999", "issued_in": "Banjarmasin"}, {"issued_in"}),
        ("too short", {"nik": "12345"}, {"nik"}),
        ("impossible birth date in NIK", {"nik": "6371053213850001"}, {"nik"}),
    ]),
    Endpoint("review duplicate", "POST", "/api/v1/persons/{person_id}/duplicates/{other_id}", two_persons,
             {"decision": "dismiss"}, [
        ("missing required fields", {}, {"decision"}),
        ("wrong types", {"decision": True}, {"decision"}),
        ("unknown field", {"decision": "dismiss", "note": "Orang berbeda"}, {"note"}),
        ("invalid enum values", {"decision": "delete"}, {"decision"}),
    ]),
    Endpoint("open further case", "POST", "/api/v1/persons/{person_id}/cases", a_person, {"category": "pengemis"}, [
        ("missing required fields", {}, {"category"}),
        ("wrong types", {"category": 5, "worker": 7}, {"category", "worker"}),
        ("unknown field", {"category": "pengemis", "stage": "asesmen"}, {"stage"}),
        ("invalid enum values", {"category": "preman"}, {"category"}),
    ]),
    Endpoint("give consent", "POST", "/api/v1/persons/{person_id}/consents", a_person, CONSENT, [
        ("missing required fields", {}, {"purpose", "legal_basis", "given_by"}),
        ("wrong types", {**CONSENT, "purpose": 1, "recorded_on": 20240101, "note": 5},
         {"purpose", "recorded_on", "note"}),
        ("unknown field", {**CONSENT, "signed": True}, {"signed"}),
        ("invalid enum values", {"purpose": "marketing", "legal_basis": "because", "given_by": "neighbour"},
         {"purpose", "legal_basis", "given_by"}),
        ("guardian when none is recorded", {**CONSENT, "given_by": "guardian"}, {"given_by"}),
        ("dated in the future", {**CONSENT, "recorded_on": "2999-01-01"}, {"recorded_on"}),
    ]),
    Endpoint("withdraw consent", "POST", "/api/v1/persons/{person_id}/consents/withdrawal", a_consenting_person,
             {"purpose": "referral", "given_by": "person"}, [
        ("missing required fields", {}, {"purpose", "given_by"}),
        ("wrong types", {"purpose": 1, "given_by": True, "note": 5}, {"purpose", "given_by", "note"}),
        ("unknown field", {"purpose": "referral", "given_by": "person", "legal_basis": "consent"}, {"legal_basis"}),
        ("invalid enum values", {"purpose": "marketing", "given_by": "neighbour"}, {"purpose", "given_by"}),
    ]),
    Endpoint("register case", "POST", "/api/v1/cases", nothing, case_body(nik=None), [
        ("missing required fields", {}, {"name", "sex", "regency", "kecamatan", "category"}),
        ("wrong types", {**case_body(nik=None), "worker": 5, "birth_date": 19850312}, {"worker", "birth_date"}),
        ("unknown field", {**case_body(nik=None), "religion": "Islam"}, {"religion"}),
        ("invalid enum values", {**case_body(nik=None), "category": "preman", "sex": "L"}, {"category", "sex"}),
        ("regency of another node", {**case_body(nik=None), "regency": "6303"}, {"regency"}),
    ]),
    Endpoint("change stage", "POST", "/api/v1/cases/{case_id}/stage", case_at(), {"stage": "asesmen"}, [
        ("missing required fields", {}, {"stage"}),
        ("wrong types", {"stage": 2, "note": 5}, {"stage", "note"}),
        ("unknown field", {"stage": "asesmen", "by": "Rahmawati"}, {"by"}),
        ("invalid enum values", {"stage": "selesai"}, {"stage"}),
    ]),
    Endpoint("record assessment", "POST", "/api/v1/cases/{case_id}/assessments", case_at("asesmen"), ASSESSMENT, [
        ("missing required fields", {}, {"needs", "risk_level", "recommendation"}),
        ("wrong types", {"needs": ["terapi"], "risk_level": 3, "recommendation": 5},
         {"needs", "risk_level", "recommendation"}),
        ("unknown field", {**ASSESSMENT, "score": 7}, {"score"}),
        ("invalid enum values", {**ASSESSMENT, "needs": {"makan": "x"}, "risk_level": "extreme"},
         {"needs", "risk_level"}),
        ("no needs", {**ASSESSMENT, "needs": {}}, {"needs"}),
    ]),
    Endpoint("record plan", "POST", "/api/v1/cases/{case_id}/plans", case_at("asesmen", "rencana_intervensi",
                                                                            assessed=True), PLAN, [
        ("missing required fields", {}, {"components", "responsible_worker"}),
        ("wrong types", {"components": "terapi", "responsible_worker": 5, "target_dates": {"terapi": "soon"}},
         {"components", "responsible_worker", "target_dates"}),
        ("unknown field", {**PLAN, "budget": 1000}, {"budget"}),
        ("invalid enum values", {**PLAN, "components": ["makan"], "target_dates": {}}, {"components"}),
        ("target for an unplanned component", {**PLAN, "target_dates": {"bantuan_sosial": "2030-01-01"}},
         {"target_dates"}),
        ("no components", {**PLAN, "components": [], "target_dates": {}}, {"components"}),
    ]),
    Endpoint("record service", "POST", "/api/v1/cases/{case_id}/services",
             case_at("asesmen", "rencana_intervensi", "intervensi"), SERVICE, [
        ("missing required fields", {}, {"component", "delivered_on", "description", "worker"}),
        ("wrong types", {**SERVICE, "delivered_on": "kemarin", "description": 5}, {"delivered_on", "description"}),
        ("unknown field", {**SERVICE, "hours": 2}, {"hours"}),
        ("invalid enum values", {**SERVICE, "component": "makan"}, {"component"}),
        ("delivered in the future", {**SERVICE, "delivered_on": "2999-01-01"}, {"delivered_on"}),
    ]),
    Endpoint("request closure", "POST", "/api/v1/cases/{case_id}/closure", case_at(), CLOSURE, [
        ("missing required fields", {}, {"reason", "outcome"}),
        ("wrong types", {"reason": 5, "outcome": True}, {"reason", "outcome"}),
        ("unknown field", {**CLOSURE, "approve": True}, {"approve"}),
        ("invalid enum values", {**CLOSURE, "outcome": "great"}, {"outcome"}),
    ]),
    Endpoint("decide closure", "POST", "/api/v1/cases/{case_id}/closure/decision", case_at(closure="requested"),
             {"approve": False}, [
        ("missing required fields", {}, {"approve"}),
        ("wrong types", {"approve": "mungkin", "note": 5}, {"approve", "note"}),
        ("unknown field", {"approve": True, "reason": "Setuju"}, {"reason"}),
        ("invalid enum values", {"approve": "ya"}, {"approve"}),
    ], role=auth.SUPERVISOR),
    Endpoint("reopen", "POST", "/api/v1/cases/{case_id}/reopen", case_at(closure="approved"),
             {"reason": "Kembali ke jalan"}, [
        ("missing required fields", {}, {"reason"}),
        ("wrong types", {"reason": 5}, {"reason"}),
        ("unknown field", {"reason": "Kembali ke jalan", "stage": "asesmen"}, {"stage"}),
        ("too short", {"reason": "x"}, {"reason"}),
    ]),
    Endpoint("request referral", "POST", "/api/v1/cases/{case_id}/referrals", case_at(consent=True), REFERRAL, [
        ("missing required fields", {}, {"facility_id", "facility_node"}),
        ("wrong types", {"facility_id": 5, "facility_node": 63}, {"facility_id", "facility_node"}),
        ("unknown field", {**REFERRAL, "priority": "tinggi"}, {"priority"}),
        ("invalid enum values", {**REFERRAL, "facility_node": "9999"}, {"facility_node"}),
        ("override reason too short", {**REFERRAL, "consent_override": "x"}, {"consent_override"}),
    ]),
]


def test_the_table_covers_every_post_put_and_patch_endpoint_of_intake(node):
    spec = requests.get(node.url(NODE, "/api/v1/openapi.json"), timeout=10)
    assert spec.status_code == 200, spec.text
    declared = write_endpoints(spec.json(), "intake")
    assert len(declared) >= 15
    assert declared == {(e.method, e.path) for e in ENDPOINTS}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_bad_input_gets_per_field_messages_and_writes_nothing(node, endpoint):
    path = endpoint.path.format(**endpoint.prepare(node))
    problems = problems_with(endpoint, node.url(NODE, path), node.headers(NODE, endpoint.role), lambda: counts(node))
    assert not problems, "\n".join(problems)
    # The same request with a valid body goes through: the refusals above were about the input.
    valid = endpoint.valid() if callable(endpoint.valid) else endpoint.valid
    resp = call(node, endpoint.method, path, valid, role=endpoint.role)
    assert resp.status_code in (200, 201), resp.text


# -- the audit log ---------------------------------------------------------------------------------
def audit(node, role=auth.ADMIN, **params):
    return call(node, "GET", "/api/v1/audit", params=params, role=role)


def test_an_admin_sees_reads_writes_refused_attempts_and_misses_on_a_record(node):
    case = ok(node.register(NODE, case_body(nik=None)))
    cid = case["id"]
    read = requests.get(node.url(NODE, f"/api/v1/cases/{cid}"),
                        headers={**node.headers(NODE, auth.SUPERVISOR), "X-Purpose": "verifikasi"}, timeout=10)
    assert read.status_code == 200
    refused = call(node, "POST", f"/api/v1/cases/{cid}/stage", {"stage": "intervensi"})
    assert refused.status_code == 409

    resp = audit(node, record_id=cid)
    assert resp.status_code == 200, resp.text
    entries = resp.json()
    assert [(e["action"], e["role"], e["outcome"]) for e in entries] == [
        ("case.stage", "operator", "refused"), ("case.read", "supervisor", "ok"), ("case.open", "operator", "ok")]
    assert entries[1]["purpose"] == "verifikasi"
    assert entries[0]["purpose"] == "tahap kasus"
    assert {e["record_type"] for e in entries} == {"case"} and {e["record_id"] for e in entries} == {cid}
    only_stage = audit(node, record_id=cid, action="case.stage").json()
    assert [e["outcome"] for e in only_stage] == ["refused"]

    missing = str(uuid.uuid4())
    assert call(node, "GET", f"/api/v1/cases/{missing}").status_code == 404
    entries = audit(node, record_id=missing).json()
    assert [(e["action"], e["outcome"]) for e in entries] == [("case.read", "not_found")]


def test_a_refused_consent_is_in_the_audit_log_of_the_person(node):
    child = ok(call(node, "POST", "/api/v1/persons", {**PERSON, "name": "Rina", "estimated_age": 9,
                                                      "guardian_name": "Hasanah"}))
    resp = call(node, "POST", f"/api/v1/persons/{child['id']}/consents", CONSENT)
    assert resp.status_code == 422
    entries = audit(node, record_id=child["id"]).json()
    assert [(e["action"], e["outcome"]) for e in entries] == [("consent.given", "refused"),
                                                              ("person.register", "ok")]


def test_only_admins_may_read_the_audit_log(node):
    for role in (auth.OPERATOR, auth.SUPERVISOR, auth.FACILITY_MANAGER, auth.TRAINER):
        resp = audit(node, role=role)
        assert resp.status_code == 403, (role, resp.text)
    assert audit(node).status_code == 200


def test_bad_audit_query_parameters_are_422_naming_the_parameter(node):
    for params, name in [({"since": "2024-01-01T00:00:00"}, "since"), ({"since": "kemarin"}, "since"),
                         ({"per_page": "501"}, "per_page"), ({"page": "0"}, "page"),
                         ({"person": "Ahmad"}, "person")]:
        resp = audit(node, **params)
        assert resp.status_code == 422, (params, resp.text)
        fields = resp.json()["error"]["fields"]
        assert set(fields) == {name} and well_formed(fields[name]), (params, fields)
