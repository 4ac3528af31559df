"""Persons and their consent on a real node (RabbitMQ vhost + SQLite): registration without a NIK,
the NIK attached later, duplicates by NIK, consent by the person or their guardian, withdrawal.

The module shares one node: each test registers its own NIKs and looks at the rows and events
added since it began."""
import itertools
import json
import re
from datetime import date, timedelta

import pytest
import requests
import sqlalchemy as sa

from rehsos import auth
from tests.support import case_body

NODE = "6371"
UNKNOWN = "00000000-0000-0000-0000-000000000000"
_serials = itertools.count(1)


@pytest.fixture
def node(shared_province):
    return shared_province([NODE], start_hub=False)


def fresh_nik() -> str:
    return f"637105120385{next(_serials):04d}"


def person_body(**overrides) -> dict:
    body = {"name": "Ahmad Fauzi", "sex": "male", "estimated_age": 40, "regency": NODE,
            "kecamatan": "637105", "categories": ["gelandangan"]}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def call(node, method, path, body=None, role=auth.OPERATOR):
    return requests.request(method, node.url(NODE, path), json=body, headers=node.headers(NODE, role), timeout=10)


def register(node, **overrides) -> dict:
    resp = call(node, "POST", "/api/v1/persons", person_body(**overrides))
    assert resp.status_code == 201, resp.text
    return resp.json()


def consent(node, person_id, given_by="person", purpose="referral", legal_basis="consent"):
    return call(node, "POST", f"/api/v1/persons/{person_id}/consents",
                {"purpose": purpose, "legal_basis": legal_basis, "given_by": given_by})


def withdraw(node, person_id, given_by="person", purpose="referral"):
    return call(node, "POST", f"/api/v1/persons/{person_id}/consents/withdrawal",
                {"purpose": purpose, "given_by": given_by})


def outbox(node) -> list[dict]:
    engine = node.engine(NODE, "intake")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT event_type, routing_key, body FROM outbox ORDER BY sequence")).all()
    finally:
        engine.dispose()
    return [{"type": r.event_type, "routing_key": r.routing_key, "body": r.body,
             "payload": json.loads(r.body)["payload"]} for r in rows]


def counts(node) -> dict:
    return {t: node.count(NODE, "intake", t) for t in ("person", "case", "consent", "outbox")}


def added(node, before) -> dict:
    return {t: n - before[t] for t, n in counts(node).items()}


def years_ago(years: int, today: date | None = None) -> date:
    today = today or date.today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


# -- registration and NIK --------------------------------------------------------------------------
def test_a_person_found_without_papers_is_registered_with_a_registration_number_and_no_nik(node):
    before = counts(node)
    person = register(node, name="Ahmad Fauzi", estimated_age=40)
    assert person["nik"] is None
    assert re.fullmatch(rf"{NODE}-{date.today().year}-[2-9A-HJ-NP-Z]{{6}}", person["registration_no"])
    assert person["birth_year_estimated"] == date.today().year - 40
    assert person["categories"] == ["gelandangan"]
    assert added(node, before) == {"person": 1, "case": 0, "consent": 0, "outbox": 1}
    event = outbox(node)[before["outbox"]]
    assert event["type"] == "person.registered"
    assert event["payload"]["person_key_kind"] == "local"
    assert event["payload"]["age_band"] == "40-44"
    assert "Ahmad" not in event["body"] and "Banjarmasin Tengah" not in event["body"]

    read = call(node, "GET", f"/api/v1/persons/{person['id']}")
    assert read.status_code == 200
    assert read.json() == person


def test_attaching_a_nik_later_identifies_the_person_under_a_new_key(node):
    nik, since = fresh_nik(), len(outbox(node))
    person = register(node)
    resp = call(node, "PUT", f"/api/v1/persons/{person['id']}/nik", {"nik": f" {nik} "})
    assert resp.status_code == 200, resp.text
    assert resp.json()["nik"] == nik
    assert resp.json()["registration_no"] == person["registration_no"]
    assert call(node, "GET", f"/api/v1/persons/{person['id']}").json()["nik"] == nik

    registered, identified = outbox(node)[since:]
    assert identified["type"] == "person.identified"
    assert identified["payload"]["previous_person_key"] == registered["payload"]["person_key"]
    assert identified["payload"]["person_key"] != registered["payload"]["person_key"]
    assert nik not in identified["body"]


def test_a_person_who_already_has_a_nik_cannot_get_another(node):
    nik, other_nik = fresh_nik(), fresh_nik()
    person = register(node, nik=nik)
    before = counts(node)
    resp = call(node, "PUT", f"/api/v1/persons/{person['id']}/nik", {"nik": other_nik})
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "nik_present"
    assert call(node, "GET", f"/api/v1/persons/{person['id']}").json()["nik"] == nik
    assert counts(node) == before


def test_registering_a_nik_already_registered_is_409_naming_the_existing_person(node):
    nik = fresh_nik()
    existing = register(node, nik=nik)
    before = counts(node)
    resp = call(node, "POST", "/api/v1/persons", person_body(name="Orang Lain", nik=f"{nik} "))
    assert resp.status_code == 409
    err = resp.json()["error"]
    assert err["code"] == "duplicate_nik"
    assert err["fields"]["person_id"] == existing["id"]
    assert err["fields"]["nik"]
    assert existing["id"] in err["message"]
    assert counts(node) == before


def test_attaching_a_nik_that_belongs_to_someone_else_is_409_naming_them_and_keeps_the_person_unidentified(node):
    nik = fresh_nik()
    existing = register(node, nik=nik)
    newcomer = register(node, name="Budi Santoso")
    before = counts(node)
    resp = call(node, "PUT", f"/api/v1/persons/{newcomer['id']}/nik", {"nik": nik})
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "duplicate_nik"
    assert resp.json()["error"]["fields"]["person_id"] == existing["id"]
    assert call(node, "GET", f"/api/v1/persons/{newcomer['id']}").json()["nik"] is None
    assert counts(node) == before


def test_unknown_persons_are_404_for_reads_nik_cases_and_consent(node):
    before = counts(node)
    for method, path, body in [("GET", f"/api/v1/persons/{UNKNOWN}", None),
                               ("PUT", f"/api/v1/persons/{UNKNOWN}/nik", {"nik": fresh_nik()}),
                               ("POST", f"/api/v1/persons/{UNKNOWN}/cases", {"category": "gelandangan"}),
                               ("GET", f"/api/v1/persons/{UNKNOWN}/consents", None),
                               ("POST", f"/api/v1/persons/{UNKNOWN}/consents",
                                {"purpose": "referral", "legal_basis": "consent", "given_by": "person"})]:
        resp = call(node, method, path, body)
        assert resp.status_code == 404, (method, path, resp.text)
        assert resp.json()["error"]["message"] == "Orang tidak ditemukan."
    assert counts(node) == before


def test_a_further_case_for_a_registered_person_adds_its_category_to_the_person(node):
    since = len(outbox(node))
    person = register(node)
    resp = call(node, "POST", f"/api/v1/persons/{person['id']}/cases",
                {"category": "pengemis", "worker": "Rahmawati"})
    assert resp.status_code == 201, resp.text
    case = resp.json()
    assert (case["category"], case["stage"], case["status"], case["worker"]) == (
        "pengemis", "pendekatan_awal", "open", "Rahmawati")
    assert case["person"]["id"] == person["id"]
    assert case["person"]["categories"] == ["gelandangan", "pengemis"]
    assert [e["type"] for e in outbox(node)[since:]] == ["person.registered", "case.opened"]


# -- consent ---------------------------------------------------------------------------------------
def test_an_adult_consents_themselves_and_records_are_listed_oldest_first(node):
    person = register(node)
    assert consent(node, person["id"], purpose="registration").status_code == 201
    resp = consent(node, person["id"], purpose="referral")
    assert resp.status_code == 201, resp.text
    record = resp.json()
    assert (record["purpose"], record["status"], record["given_by"], record["legal_basis"]) == (
        "referral", "given", "person", "consent")
    assert record["recorded_on"] == date.today().isoformat()
    assert "operator" in record["recorded_by"]

    listed = call(node, "GET", f"/api/v1/persons/{person['id']}/consents")
    assert listed.status_code == 200
    assert [(r["purpose"], r["status"]) for r in listed.json()] == [("registration", "given"), ("referral", "given")]


def test_a_recorded_consent_is_answered_with_its_id(node):
    person = register(node)
    record = consent(node, person["id"]).json()
    listed = call(node, "GET", f"/api/v1/persons/{person['id']}/consents").json()
    assert isinstance(record["id"], int)
    assert record == listed[0]


def test_a_child_consents_through_a_recorded_guardian_only(node):
    before = node.count(NODE, "intake", "consent")
    child = register(node, name="Rina", sex="female", estimated_age=12, categories=["anak_jalanan"],
                     guardian_name="Hasanah", guardian_relationship="ibu")
    resp = consent(node, child["id"], given_by="person")
    assert resp.status_code == 422
    assert resp.json()["error"]["fields"]["given_by"]
    assert node.count(NODE, "intake", "consent") == before
    resp = consent(node, child["id"], given_by="guardian")
    assert resp.status_code == 201, resp.text
    assert resp.json()["given_by"] == "guardian"


def test_guardian_consent_is_refused_when_no_guardian_is_recorded(node):
    before = node.count(NODE, "intake", "consent")
    child = register(node, name="Rina", sex="female", estimated_age=12, categories=["anak_jalanan"])
    resp = consent(node, child["id"], given_by="guardian")
    assert resp.status_code == 422
    assert "Wali" in resp.json()["error"]["fields"]["given_by"][0]
    assert node.count(NODE, "intake", "consent") == before


def test_the_eighteenth_birthday_decides_who_consents(node):
    adult = register(node, name="Dewi Sartika", sex="female", estimated_age=None,
                     birth_date=years_ago(18).isoformat())
    minor = register(node, name="Citra Lestari", sex="female", estimated_age=None,
                     birth_date=(years_ago(18) + timedelta(days=1)).isoformat(), guardian_name="Hasanah")
    assert consent(node, adult["id"]).status_code == 201
    assert consent(node, minor["id"]).status_code == 422
    assert consent(node, minor["id"], given_by="guardian").status_code == 201


def test_adults_with_intellectual_or_mental_disability_consent_through_a_guardian(node):
    before = node.count(NODE, "intake", "consent")
    for disabilities, person_may_consent in [(["intelektual"], False), (["mental"], False),
                                             (["fisik", "mental"], False), (["fisik"], True), (["netra"], True)]:
        person = register(node, categories=["penyandang_disabilitas"], disabilities=disabilities,
                          guardian_name="Hasanah", guardian_relationship="saudara")
        resp = consent(node, person["id"], given_by="person")
        if person_may_consent:
            assert resp.status_code == 201, (disabilities, resp.text)
        else:
            assert resp.status_code == 422, (disabilities, resp.text)
            assert resp.json()["error"]["fields"]["given_by"]
            assert consent(node, person["id"], given_by="guardian").status_code == 201
    assert node.count(NODE, "intake", "consent") == before + 5
    listed = call(node, "GET", f"/api/v1/persons/{person['id']}/consents").json()
    assert [r["given_by"] for r in listed] == ["person"]


def test_withdrawing_consent_records_it_and_emits_a_pseudonymous_consent_withdrawn_event(node):
    nik, since = fresh_nik(), len(outbox(node))
    person = register(node, nik=nik)
    assert consent(node, person["id"]).status_code == 201
    resp = withdraw(node, person["id"])
    assert resp.status_code == 201, resp.text
    assert (resp.json()["purpose"], resp.json()["status"]) == ("referral", "withdrawn")

    listed = call(node, "GET", f"/api/v1/persons/{person['id']}/consents").json()
    assert [r["status"] for r in listed] == ["given", "withdrawn"]
    registered, withdrawn = outbox(node)[since:]
    assert withdrawn["type"] == "consent.withdrawn"
    assert withdrawn["routing_key"] == f"{NODE}.intake.consent.withdrawn"
    assert withdrawn["payload"] == {"person_key": registered["payload"]["person_key"], "purpose": "referral"}
    assert nik not in withdrawn["body"] and "Ahmad" not in withdrawn["body"]

    engine = node.engine(NODE, "intake")
    with engine.connect() as conn:  # sequences are gap-free from 1: the test's rows come after ``since``
        rows = conn.execute(sa.text("SELECT event_type FROM outbox WHERE event_type = 'consent.withdrawn'"
                                    " AND sequence > :since"), {"since": since}).all()
    engine.dispose()
    assert len(rows) == 1


def test_withdrawing_consent_that_is_not_active_is_409_and_emits_nothing(node):
    person = register(node)
    assert consent(node, person["id"], purpose="registration").status_code == 201
    before = counts(node)
    resp = withdraw(node, person["id"], purpose="referral")  # never given for referral
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "no_consent"
    assert consent(node, person["id"], purpose="referral").status_code == 201
    assert withdraw(node, person["id"]).status_code == 201
    twice = withdraw(node, person["id"])
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "no_consent"
    assert counts(node)["outbox"] == before["outbox"] + 1
    assert counts(node)["consent"] == before["consent"] + 2


def test_a_person_record_can_be_corrected_but_not_emptied_and_case_categories_stay(node):
    created = node.register(NODE, case_body(nik=None)).json()
    url = node.url(NODE, f"/api/v1/persons/{created['person']['id']}")
    headers = node.headers(NODE, auth.OPERATOR)
    resp = requests.patch(url, json={"name": "Muhammad Rizki Saputra", "estimated_age": 40,
                                     "categories": ["gelandangan", "pengemis"], "phone": "081234567890"},
                          headers=headers, timeout=5)
    assert resp.status_code == 200, resp.text
    person = resp.json()
    assert (person["name"], person["birth_date"], person["categories"], person["phone"]) == (
        "Muhammad Rizki Saputra", None, ["gelandangan", "pengemis"], "081234567890")
    assert person["birth_year_estimated"] is not None
    dropped = requests.patch(url, json={"categories": ["pengemis"]}, headers=headers, timeout=5)
    assert dropped.status_code == 422 and "categories" in dropped.json()["error"]["fields"]
    empty = requests.patch(url, json={}, headers=headers, timeout=5)
    assert empty.status_code == 422
    nik = requests.patch(url, json={"nik": "6371051203850001"}, headers=headers, timeout=5)
    assert nik.status_code == 422 and nik.json()["error"]["fields"] == {"nik": ["Kolom tidak dikenal."]}


def test_withdrawn_consent_for_assessment_stops_assessments_plans_and_services(node):
    before = node.count(NODE, "intake", "assessment")
    created = node.register(NODE, case_body(nik=None)).json()
    headers = node.headers(NODE, auth.OPERATOR)
    person_url = node.url(NODE, f"/api/v1/persons/{created['person']['id']}/consents")
    case_url = node.url(NODE, f"/api/v1/cases/{created['id']}")
    assert requests.post(person_url, json={"purpose": "assessment", "legal_basis": "consent", "given_by": "person"},
                         headers=headers, timeout=5).status_code == 201
    assert requests.post(case_url + "/stage", json={"stage": "asesmen"}, headers=headers, timeout=5).status_code == 200
    assert requests.post(person_url + "/withdrawal", json={"purpose": "assessment", "given_by": "person"},
                         headers=headers, timeout=5).status_code == 201
    refused = requests.post(case_url + "/assessments", headers=headers, timeout=5, json={
        "needs": {"terapi": "Konseling"}, "risk_level": "low", "recommendation": "Pendampingan"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "consent_withdrawn"
    assert node.count(NODE, "intake", "assessment") == before
