"""Intake's HTTP API on a real node (RabbitMQ vhost + SQLite): registration, reads, auth, bad input.

The module shares one province: each test registers its own NIKs and counts rows against what was
there before it."""
import itertools
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from rehsos import auth
from tests.support import case_body

NODE = "6371"
_serials = itertools.count(1)


@pytest.fixture
def node(shared_province):
    return shared_province([NODE, "6303"], start_hub=False)


def fresh_nik() -> str:
    return f"637105120385{next(_serials):04d}"


def _written(node):
    return {t: node.count(NODE, "intake", t) for t in ("person", "case", "outbox")}


def _added(node, before):
    return {t: n - before[t] for t, n in _written(node).items()}


def _last_audit_id(node) -> int:
    engine = node.engine(NODE, "intake")
    with engine.connect() as conn:
        last = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    engine.dispose()
    return last


def test_registering_a_case_returns_it_and_reading_it_back_is_audit_logged(node):
    since = _last_audit_id(node)
    resp = node.register(NODE, case_body(nik=fresh_nik()))
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["person"]["name"] == "Muhammad Rizky"
    assert (created["category"], created["regency"], created["stage"]) == ("gelandangan", "6371", "pendekatan_awal")

    read = requests.get(node.url(NODE, f"/api/v1/cases/{created['id']}"),
                        headers={**node.headers(NODE, auth.SUPERVISOR), "X-Purpose": "verifikasi"}, timeout=5)
    assert read.status_code == 200
    assert read.json() == created
    engine = node.engine(NODE, "intake")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT action, role, purpose, record_id FROM audit_log WHERE id > :since"
                                    " ORDER BY id"), {"since": since}).all()
    engine.dispose()
    assert [(r.action, r.role, r.purpose, r.record_id) for r in rows] == [
        ("person.register", "operator", "pendaftaran kasus", created["person"]["id"]),
        ("case.open", "operator", "pendaftaran kasus", created["id"]),
        ("case.read", "supervisor", "verifikasi", created["id"])]


def test_registration_writes_the_person_the_case_and_their_events_in_one_transaction(node):
    before = _written(node)
    assert node.register(NODE, case_body(nik=None)).status_code == 201
    assert _added(node, before) == {"person": 1, "case": 1, "outbox": 2}  # person.registered, case.opened


def test_an_unknown_case_is_404_and_the_attempt_is_audit_logged(node):
    before = node.count(NODE, "intake", "audit_log")
    resp = requests.get(node.url(NODE, "/api/v1/cases/00000000-0000-0000-0000-000000000000"),
                        headers=node.headers(NODE, auth.OPERATOR), timeout=5)
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "Kasus tidak ditemukan."
    assert node.count(NODE, "intake", "audit_log") == before + 1


def test_the_same_nik_twice_is_a_conflict_naming_the_existing_person(node):
    nik, before = fresh_nik(), _written(node)
    first = node.register(NODE, case_body(nik=nik)).json()
    resp = node.register(NODE, case_body(name="Orang Lain", nik=nik))
    assert resp.status_code == 409
    assert resp.json()["error"]["fields"]["person_id"] == first["person"]["id"]
    assert _added(node, before) == {"person": 1, "case": 1, "outbox": 2}


def test_a_regency_node_cannot_register_a_case_of_another_regency(node):
    before = _written(node)
    resp = node.register(NODE, case_body(regency="6303", kecamatan="630305"))
    assert resp.status_code == 422
    assert "regency" in resp.json()["error"]["fields"]
    assert _written(node) == before


VALID = case_body()
BAD_BODIES = [
    ("missing fields", {"name": "Ahmad"}, 422, {"category", "sex", "regency", "kecamatan"}),
    ("no birth date nor estimated age", {**VALID, "birth_date": None}, 422, {"birth_date"}),
    ("unknown category", {**VALID, "category": "preman"}, 422, {"category"}),
    ("malformed NIK", {**VALID, "nik": "63710512038500"}, 422, {"nik"}),
    ("NIK with impossible date", {**VALID, "nik": "6371053213850001"}, 422, {"nik"}),
    ("wrong types", {**VALID, "name": 42, "birth_date": 19850312, "sex": True}, 422, {"name", "birth_date", "sex"}),
    ("unknown field", {**VALID, "religion": "Islam"}, 422, {"religion"}),
    ("future birth date", {**VALID, "birth_date": "2999-01-01"}, 422, {"birth_date"}),
    ("JSON array", [VALID], 422, {"_body"}),
]


@pytest.mark.parametrize("label,body,status,fields", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_input_gets_per_field_messages_and_writes_nothing(node, label, body, status, fields):
    before = _written(node)
    resp = requests.post(node.url(NODE, "/api/v1/cases"), json=body, headers=node.headers(NODE, auth.OPERATOR),
                         timeout=5)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error["fields"]) == fields
    assert all(isinstance(m, list) and m for m in error["fields"].values())
    assert _written(node) == before


@pytest.mark.parametrize("data,code", [
    (b"{not json", "invalid_json"),
    (b"", "empty_body"),
    (b"\xff\xfe\x00", "invalid_json"),
    (b'{"name": "' + b"x" * 70_000 + b'"}', "payload_too_large"),
])
def test_unreadable_bodies_get_400_and_write_nothing(node, data, code):
    before = _written(node)
    resp = requests.post(node.url(NODE, "/api/v1/cases"), data=data,
                         headers={**node.headers(NODE, auth.OPERATOR), "Content-Type": "application/json"}, timeout=5)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == code
    assert "_body" in resp.json()["error"]["fields"]
    assert _written(node) == before


def test_requests_without_a_valid_token_are_401(node):
    before = _written(node)
    url = node.url(NODE, "/api/v1/cases")
    assert requests.post(url, json=VALID, timeout=5).status_code == 401
    assert requests.post(url, json=VALID, headers={"Authorization": "Bearer rk_nope"}, timeout=5).status_code == 401
    assert requests.post(url, json=VALID, headers={"Authorization": "Basic Zm9v"}, timeout=5).status_code == 401
    assert _written(node) == before


def test_roles_without_case_work_and_tokens_of_another_node_are_403(node):
    before = _written(node)
    url = node.url(NODE, "/api/v1/cases")
    trainer = requests.post(url, json=VALID, headers=node.headers(NODE, auth.TRAINER), timeout=5)
    assert trainer.status_code == 403
    other_node = requests.post(url, json=VALID, headers=node.headers("6303", auth.OPERATOR), timeout=5)
    assert other_node.status_code == 403
    assert "6303" in other_node.json()["error"]["message"]
    assert _written(node) == before


def test_an_operator_of_another_node_cannot_read_a_record_and_the_attempt_is_audit_logged(node):
    case = node.register("6303", case_body(regency="6303", kecamatan="630305", nik=None)).json()
    url = node.url("6303", f"/api/v1/cases/{case['id']}")
    refused = requests.get(url, headers=node.headers(NODE, auth.OPERATOR), timeout=5)
    assert refused.status_code == 403
    changed = requests.post(url + "/stage", json={"stage": "asesmen"}, headers=node.headers(NODE, auth.OPERATOR),
                            timeout=5)
    assert changed.status_code == 403
    denials = requests.get(node.url("6303", "/api/v1/audit/denials"), headers=node.headers("6303", auth.ADMIN),
                           timeout=5).json()
    assert [(d["token_node"], d["method"], d["path"]) for d in denials if case["id"] in d["path"]] == [
        (NODE, "POST", f"/api/v1/cases/{case['id']}/stage"), (NODE, "GET", f"/api/v1/cases/{case['id']}")]
    assert requests.get(node.url("6303", "/api/v1/audit/denials"), headers=node.headers("6303", auth.OPERATOR),
                        timeout=5).status_code == 403


def test_a_token_scoped_to_another_node_is_refused_even_if_present_in_the_store(node):
    from rehsos.db import create_engine

    store = auth.TokenStore(create_engine(node.settings[NODE].auth_database_uri))
    foreign = store.issue(user="salah.node", role=auth.OPERATOR, node="6303")
    resp = requests.post(
        node.url(NODE, "/api/v1/cases"), json=VALID, headers={"Authorization": f"Bearer {foreign}"}, timeout=5)
    assert resp.status_code == 403
    assert "6303" in resp.json()["error"]["message"]


def test_revoked_tokens_are_refused(node):
    from rehsos.db import create_engine

    store = auth.TokenStore(create_engine(node.settings[NODE].auth_database_uri))
    token = store.issue(user="sementara", role=auth.OPERATOR, node=NODE)
    token_id = next(t["id"] for t in store.list() if t["user"] == "sementara")
    assert store.revoke(token_id)
    resp = requests.post(node.url(NODE, "/api/v1/cases"), json=VALID,
                         headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert resp.status_code == 401


def test_an_expired_token_is_refused_with_401_over_http_and_rpc(node):
    from nameko.exceptions import RemoteError
    from nameko.standalone.rpc import ClusterRpcProxy

    from rehsos.clock import now
    from rehsos.db import create_engine

    engine = create_engine(node.settings[NODE].auth_database_uri)
    store = auth.TokenStore(engine)
    token = store.issue(user="sebentar", role=auth.OPERATOR, node=NODE, days=1)
    url, headers = node.url(NODE, "/api/v1/cases"), {"Authorization": f"Bearer {token}"}
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    with engine.begin() as conn:
        conn.execute(sa.update(auth.tokens).where(auth.tokens.c.user == "sebentar")
                     .values(expires_at=now() - timedelta(seconds=1)))
    engine.dispose()
    before = node.count(NODE, "intake", "person")
    resp = requests.post(url, json=VALID, headers=headers, timeout=5)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthenticated"
    assert "sudah kedaluwarsa" in resp.json()["error"]["message"]
    with ClusterRpcProxy({"AMQP_URI": node.node_amqp(NODE)}, timeout=10) as rpc:
        with pytest.raises(RemoteError) as refused:
            rpc.intake.register_case(token=token, data=VALID)
    assert '"status": 401' in refused.value.value and "kedaluwarsa" in refused.value.value
    assert node.count(NODE, "intake", "person") == before


def test_unknown_routes_and_methods_answer_in_json(node):
    assert requests.get(node.url(NODE, "/api/v1/nothing"), timeout=5).status_code == 404
    resp = requests.delete(node.url(NODE, "/api/v1/cases"), timeout=5)
    assert resp.status_code == 405
    assert resp.json()["error"]["code"] == "method_not_allowed"


def test_forms_get_the_reference_lists_with_the_category_version(node):
    ref = requests.get(node.url(NODE, "/api/v1/reference"), headers=node.headers(NODE, auth.TRAINER), timeout=5).json()
    assert ref["ppks_categories"]["version"] == 1
    assert len(ref["ppks_categories"]["items"]) == 26
    assert {"code": "netra", "name": "Disabilitas Netra", "parent": "sensorik"} in ref["disability_types"]
    assert next(st for st in ref["stages"] if st["code"] == "asesmen")["next"] == ["rencana_intervensi"]
    assert len(ref["regions"]) == 14 and "referral" in ref["consent_purposes"]
