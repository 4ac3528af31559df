"""A case's life on a real node (RabbitMQ vhost + SQLite): stage transitions, assessment, plan,
services, closure with a supervisor's approval (four eyes), reopening, the timeline, referral
and its consent rules, and the case search.

The module shares one node: each test works on cases of its own and counts rows against what was
there before it; the searches that list every case get a node of their own."""
import json
import logging
import time
from collections import deque
from datetime import date, timedelta

import pytest
import requests
import sqlalchemy as sa

from intake.domain import cases
from rehsos import auth
from rehsos.db import create_engine
from tests.support import case_body

NODE = "6371"
OPEN_STAGES = [s for s in cases.STAGES if s not in ("terminasi", "bimbingan_lanjut")]
ASSESSMENT = {"needs": {"terapi": "Konseling psikososial", "dukungan_keluarga": "Penelusuran keluarga"},
              "risk_level": "medium", "recommendation": "Rujuk ke panti bila keluarga tidak ditemukan."}
PLAN = {"components": ["terapi"], "responsible_worker": "Rahmawati", "target_dates": {"terapi": "2030-01-31"}}
SERVICE = {"component": "terapi", "delivered_on": date.today().isoformat(), "description": "Sesi konseling pertama",
           "worker": "Rahmawati"}
CLOSURE = {"reason": "Sudah kembali ke keluarga", "outcome": "positive"}
REFERRAL = {"facility_id": "prsts-barakat-cangkal-bacari", "facility_node": "63"}
CONSENT = {"purpose": "referral", "legal_basis": "consent", "given_by": "person"}


@pytest.fixture
def node(shared_province):
    return shared_province([NODE], start_hub=False)


# -- helpers ---------------------------------------------------------------------------------------
def call(node, method, path, body=None, role=auth.OPERATOR, token=None, params=None):
    headers = {"Authorization": f"Bearer {token}"} if token else node.headers(NODE, role)
    return requests.request(method, node.url(NODE, path), json=body, params=params, headers=headers, timeout=10)


def new_case(node, **overrides) -> dict:
    resp = node.register(NODE, case_body(**{"nik": None, **overrides}))
    assert resp.status_code == 201, resp.text
    return resp.json()


def move(node, case_id, stage, role=auth.OPERATOR):
    return call(node, "POST", f"/api/v1/cases/{case_id}/stage", {"stage": stage}, role=role)


def path_to(stage: str) -> list[str]:
    """The stages to walk through from the first one to ``stage``, by allowed moves only."""
    previous = {cases.FIRST_STAGE: None}
    queue = deque([cases.FIRST_STAGE])
    while queue:
        current = queue.popleft()
        for following in sorted(cases.TRANSITIONS[current]):
            if following not in previous:
                previous[following] = current
                queue.append(following)
    steps = []
    while stage != cases.FIRST_STAGE:
        steps.append(stage)
        stage = previous[stage]
    return steps[::-1]


def close(node, case_id):
    assert call(node, "POST", f"/api/v1/cases/{case_id}/closure", CLOSURE).status_code == 200
    resp = call(node, "POST", f"/api/v1/cases/{case_id}/closure/decision", {"approve": True}, role=auth.SUPERVISOR)
    assert resp.status_code == 200, resp.text
    return resp.json()


def reach(node, case_id, stage):
    """Bring a fresh case to ``stage``: by allowed moves, or through an approved closure."""
    if stage in ("terminasi", "bimbingan_lanjut"):
        close(node, case_id)
        if stage == "bimbingan_lanjut":
            assert move(node, case_id, stage).status_code == 200
        return
    for step in path_to(stage):
        resp = move(node, case_id, step)
        assert resp.status_code == 200, resp.text


def give_consent(node, person_id, purpose="referral"):
    resp = call(node, "POST", f"/api/v1/persons/{person_id}/consents", {**CONSENT, "purpose": purpose})
    assert resp.status_code == 201, resp.text


def second_supervisor(node, user="supervisor.kedua") -> str:
    store = auth.TokenStore(create_engine(node.settings[NODE].auth_database_uri))
    try:
        return store.issue(user=user, role=auth.SUPERVISOR, node=NODE)
    finally:
        store.engine.dispose()


def outbox(node) -> list[dict]:
    engine = node.engine(NODE, "intake")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT event_type, routing_key, body FROM outbox ORDER BY sequence")).all()
    finally:
        engine.dispose()
    return [{"type": r.event_type, "routing_key": r.routing_key, "payload": json.loads(r.body)["payload"]}
            for r in rows]


def counts(node, *tables) -> dict:
    return {t: node.count(NODE, "intake", t) for t in tables}


def error(resp) -> dict:
    return resp.json()["error"]


def get_case(node, case_id) -> dict:
    resp = call(node, "GET", f"/api/v1/cases/{case_id}")
    assert resp.status_code == 200
    return resp.json()


# -- transitions -----------------------------------------------------------------------------------
def test_every_allowed_stage_move_succeeds_and_emits_stage_changed(node):
    moves = [(a, b) for a, targets in cases.TRANSITIONS.items() for b in sorted(targets)]
    assert len(moves) >= 8
    for from_stage, to_stage in moves:
        case = new_case(node)
        reach(node, case["id"], from_stage)
        resp = move(node, case["id"], to_stage)
        assert resp.status_code == 200, (from_stage, to_stage, resp.text)
        assert resp.json()["stage"] == to_stage
        assert get_case(node, case["id"])["stage"] == to_stage
        last = outbox(node)[-1]
        assert (last["type"], last["routing_key"]) == ("case.stage_changed", f"{NODE}.intake.case.stage_changed")
        assert last["payload"] == {"case_id": case["id"], "from_stage": from_stage, "to_stage": to_stage}


def test_disallowed_stage_moves_are_409_transition_not_allowed_and_change_nothing(node):
    refused = 0
    for from_stage in OPEN_STAGES + ["terminasi", "bimbingan_lanjut"]:
        case = new_case(node)
        reach(node, case["id"], from_stage)
        before = counts(node, "case_history", "outbox")
        for to_stage in cases.STAGES:
            if to_stage in cases.TRANSITIONS[from_stage] or to_stage == "terminasi":
                continue
            resp = move(node, case["id"], to_stage)
            assert resp.status_code == 409, (from_stage, to_stage, resp.text)
            assert error(resp)["code"] == "transition_not_allowed"
            assert error(resp)["fields"]["stage"]
            refused += 1
        assert get_case(node, case["id"])["stage"] == from_stage
        assert counts(node, "case_history", "outbox") == before
    assert refused >= 30  # e.g. pendekatan_awal -> intervensi, asesmen -> asesmen, bimbingan_lanjut -> asesmen


def test_moving_straight_to_terminasi_is_refused_as_closure_required(node):
    for from_stage in OPEN_STAGES:
        case = new_case(node)
        reach(node, case["id"], from_stage)
        resp = move(node, case["id"], "terminasi", role=auth.SUPERVISOR)
        assert resp.status_code == 409, resp.text
        assert error(resp)["code"] == "closure_required"
        assert get_case(node, case["id"])["status"] == "open"


def test_stage_moves_wait_while_a_closure_is_pending(node):
    case = new_case(node)
    assert call(node, "POST", f"/api/v1/cases/{case['id']}/closure", CLOSURE).status_code == 200
    resp = move(node, case["id"], "asesmen")
    assert resp.status_code == 409
    assert error(resp)["code"] == "closure_pending"
    assert get_case(node, case["id"])["stage"] == "pendekatan_awal"


def test_an_unknown_case_cannot_change_stage(node):
    before = node.count(NODE, "intake", "case_history")
    resp = move(node, "00000000-0000-0000-0000-000000000000", "asesmen")
    assert resp.status_code == 404
    assert node.count(NODE, "intake", "case_history") == before


# -- assessment, plan, services --------------------------------------------------------------------
def test_assessment_is_recorded_only_from_asesmen_on_while_the_case_is_open(node):
    before = node.count(NODE, "intake", "assessment")
    case = new_case(node)
    path = f"/api/v1/cases/{case['id']}/assessments"
    resp = call(node, "POST", path, ASSESSMENT)
    assert resp.status_code == 409
    assert error(resp)["code"] == "wrong_stage"
    assert node.count(NODE, "intake", "assessment") == before

    for stage in ("asesmen", "rencana_intervensi", "intervensi", "resosialisasi"):
        assert move(node, case["id"], stage).status_code == 200
        resp = call(node, "POST", path, ASSESSMENT)
        assert resp.status_code == 201, (stage, resp.text)
        assert isinstance(resp.json()["id"], int)
    assert node.count(NODE, "intake", "assessment") == before + 4
    last = outbox(node)[-1]
    assert last["type"] == "assessment.completed"
    assert last["payload"] == {"case_id": case["id"], "risk_level": "medium",
                               "needs": ["dukungan_keluarga", "terapi"]}

    close(node, case["id"])
    resp = call(node, "POST", path, ASSESSMENT)
    assert resp.status_code == 409
    assert error(resp)["code"] == "case_not_open"
    assert node.count(NODE, "intake", "assessment") == before + 4


def test_a_plan_requires_an_assessment_and_sets_the_responsible_worker(node):
    before = node.count(NODE, "intake", "intervention_plan")
    case = new_case(node)
    path = f"/api/v1/cases/{case['id']}/plans"
    reach(node, case["id"], "asesmen")
    resp = call(node, "POST", path, PLAN)
    assert resp.status_code == 409
    assert error(resp)["code"] == "wrong_stage"

    assert move(node, case["id"], "rencana_intervensi").status_code == 200
    resp = call(node, "POST", path, PLAN)
    assert resp.status_code == 409
    assert error(resp)["code"] == "assessment_missing"
    assert node.count(NODE, "intake", "intervention_plan") == before

    assert call(node, "POST", f"/api/v1/cases/{case['id']}/assessments", ASSESSMENT).status_code == 201
    resp = call(node, "POST", path, PLAN)
    assert resp.status_code == 201, resp.text
    assert node.count(NODE, "intake", "intervention_plan") == before + 1
    assert get_case(node, case["id"])["worker"] == "Rahmawati"


def test_services_are_logged_in_intervention_resocialisation_and_aftercare_only(node):
    before = node.count(NODE, "intake", "service_delivery")
    case = new_case(node)
    path = f"/api/v1/cases/{case['id']}/services"
    reach(node, case["id"], "rencana_intervensi")
    resp = call(node, "POST", path, SERVICE)
    assert resp.status_code == 409
    assert error(resp)["code"] == "wrong_stage"

    for stage in ("intervensi", "resosialisasi"):
        assert move(node, case["id"], stage).status_code == 200
        assert call(node, "POST", path, SERVICE).status_code == 201
    close(node, case["id"])  # at terminasi: closed, no services
    resp = call(node, "POST", path, SERVICE)
    assert resp.status_code == 409
    assert error(resp)["code"] == "case_not_open"
    assert move(node, case["id"], "bimbingan_lanjut").status_code == 200
    resp = call(node, "POST", path, {**SERVICE, "component": "dukungan_keluarga"})
    assert resp.status_code == 201, resp.text
    assert node.count(NODE, "intake", "service_delivery") == before + 3


def test_new_assessments_plans_and_services_are_answered_with_their_stored_ids(node):
    case = new_case(node)
    cid = case["id"]
    answered = {}
    move(node, cid, "asesmen")
    answered["assessment"] = call(node, "POST", f"/api/v1/cases/{cid}/assessments", ASSESSMENT).json()["id"]
    move(node, cid, "rencana_intervensi")
    answered["intervention_plan"] = call(node, "POST", f"/api/v1/cases/{cid}/plans", PLAN).json()["id"]
    move(node, cid, "intervensi")
    answered["service_delivery"] = call(node, "POST", f"/api/v1/cases/{cid}/services", SERVICE).json()["id"]
    engine = node.engine(NODE, "intake")
    with engine.connect() as conn:
        stored = {t: conn.execute(sa.text(f"SELECT id FROM {t} WHERE case_id = :c"), {"c": cid}).scalar_one()
                  for t in answered}
    engine.dispose()
    assert answered == stored


# -- closure and reopening -------------------------------------------------------------------------
def test_closure_is_decided_by_a_supervisor_other_than_the_one_who_asked(node):
    case = new_case(node)
    decision = f"/api/v1/cases/{case['id']}/closure/decision"
    resp = call(node, "POST", f"/api/v1/cases/{case['id']}/closure", CLOSURE, role=auth.SUPERVISOR)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "closure_requested"

    same = call(node, "POST", decision, {"approve": True}, role=auth.SUPERVISOR)
    assert same.status_code == 409
    assert error(same)["code"] == "four_eyes"
    operator = call(node, "POST", decision, {"approve": True}, role=auth.OPERATOR)
    assert operator.status_code == 403
    assert get_case(node, case["id"])["status"] == "closure_requested"

    other = call(node, "POST", decision, {"approve": True}, token=second_supervisor(node))
    assert other.status_code == 200, other.text
    assert (other.json()["status"], other.json()["stage"]) == ("closed", "terminasi")


def test_a_supervisor_cannot_approve_their_own_closure_with_a_second_token(node):
    case = new_case(node)
    decision = f"/api/v1/cases/{case['id']}/closure/decision"
    mine, my_other = second_supervisor(node, "siti.aminah"), second_supervisor(node, "siti.aminah")
    assert call(node, "POST", f"/api/v1/cases/{case['id']}/closure", CLOSURE, token=mine).status_code == 200

    same_person = call(node, "POST", decision, {"approve": False}, token=my_other)
    assert same_person.status_code == 409 and error(same_person)["code"] == "four_eyes"
    assert get_case(node, case["id"])["status"] == "closure_requested"

    colleague = call(node, "POST", decision, {"approve": True}, token=second_supervisor(node, "budi.santoso"))
    assert colleague.status_code == 200, colleague.text
    assert colleague.json()["status"] == "closed"


def test_a_rejected_closure_returns_the_case_to_open_in_its_stage(node):
    since = len(outbox(node))
    case = new_case(node)
    reach(node, case["id"], "intervensi")
    assert call(node, "POST", f"/api/v1/cases/{case['id']}/closure", CLOSURE).status_code == 200
    resp = call(node, "POST", f"/api/v1/cases/{case['id']}/closure/decision",
                {"approve": False, "note": "Belum ada resosialisasi"}, role=auth.SUPERVISOR)
    assert resp.status_code == 200, resp.text
    rejected = resp.json()
    assert (rejected["status"], rejected["stage"]) == ("open", "intervensi")
    assert (rejected["closure_reason"], rejected["closure_outcome"], rejected["closed_at"]) == (None, None, None)
    assert move(node, case["id"], "resosialisasi").status_code == 200
    assert "case.closed" not in [e["type"] for e in outbox(node)[since:]]


def test_an_approved_closure_terminates_the_case_and_then_allows_aftercare(node):
    case = new_case(node)
    reach(node, case["id"], "resosialisasi")
    closed = close(node, case["id"])
    assert (closed["stage"], closed["status"]) == ("terminasi", "closed")
    assert (closed["closure_reason"], closed["closure_outcome"]) == (CLOSURE["reason"], "positive")
    assert closed["closed_at"]
    last = outbox(node)[-1]
    assert last["type"] == "case.closed"
    assert last["payload"] == {"case_id": case["id"], "outcome": "positive", "stage_before": "resosialisasi"}

    resp = move(node, case["id"], "bimbingan_lanjut")
    assert resp.status_code == 200, resp.text
    assert (resp.json()["stage"], resp.json()["status"]) == ("bimbingan_lanjut", "closed")


def test_closure_requests_and_decisions_out_of_turn_are_refused(node):
    case = new_case(node)
    decision = f"/api/v1/cases/{case['id']}/closure/decision"
    resp = call(node, "POST", decision, {"approve": True}, role=auth.SUPERVISOR)
    assert resp.status_code == 409
    assert error(resp)["code"] == "no_closure_request"
    assert call(node, "POST", f"/api/v1/cases/{case['id']}/closure", CLOSURE).status_code == 200
    again = call(node, "POST", f"/api/v1/cases/{case['id']}/closure", CLOSURE)
    assert again.status_code == 409
    assert error(again)["code"] == "case_not_open"
    close_resp = call(node, "POST", decision, {"approve": True}, role=auth.ADMIN)
    assert close_resp.status_code == 200
    after = call(node, "POST", decision, {"approve": True}, role=auth.SUPERVISOR)
    assert after.status_code == 409
    assert error(after)["code"] == "no_closure_request"


def test_reopening_a_closed_case_returns_it_to_asesmen_and_counts_the_reopening(node):
    case = new_case(node)
    reopen = f"/api/v1/cases/{case['id']}/reopen"
    resp = call(node, "POST", reopen, {"reason": "Kembali ke jalan"})
    assert resp.status_code == 409
    assert error(resp)["code"] == "case_not_closed"

    reach(node, case["id"], "bimbingan_lanjut")
    resp = call(node, "POST", reopen, {"reason": "Kembali ke jalan"})
    assert resp.status_code == 200, resp.text
    reopened = resp.json()
    assert (reopened["stage"], reopened["status"], reopened["reopen_count"]) == ("asesmen", "open", 1)
    assert (reopened["closed_at"], reopened["closure_reason"], reopened["closure_outcome"]) == (None, None, None)
    last = outbox(node)[-1]
    assert last["type"] == "case.reopened"
    assert last["payload"] == {"case_id": case["id"], "stage": "asesmen"}

    assert move(node, case["id"], "rencana_intervensi").status_code == 200
    close(node, case["id"])
    assert call(node, "POST", reopen, {"reason": "Kambuh lagi"}).json()["reopen_count"] == 2


def test_the_timeline_lists_every_step_in_order_with_who_did_it(node):
    case = new_case(node)
    cid = case["id"]
    give_consent(node, case["person"]["id"])
    move(node, cid, "asesmen")
    call(node, "POST", f"/api/v1/cases/{cid}/assessments", ASSESSMENT)
    move(node, cid, "rencana_intervensi")
    call(node, "POST", f"/api/v1/cases/{cid}/plans", PLAN)
    move(node, cid, "intervensi")
    call(node, "POST", f"/api/v1/cases/{cid}/services", SERVICE)
    call(node, "POST", f"/api/v1/cases/{cid}/referrals", REFERRAL)
    call(node, "POST", f"/api/v1/cases/{cid}/closure", CLOSURE)
    call(node, "POST", f"/api/v1/cases/{cid}/closure/decision", {"approve": False}, role=auth.SUPERVISOR)
    close(node, cid)
    move(node, cid, "bimbingan_lanjut")
    call(node, "POST", f"/api/v1/cases/{cid}/reopen", {"reason": "Kembali ke jalan"})

    resp = call(node, "GET", f"/api/v1/cases/{cid}/timeline")
    assert resp.status_code == 200
    entries = resp.json()
    assert [e["kind"] for e in entries] == [
        "opened", "stage_changed", "assessment", "stage_changed", "plan", "stage_changed", "service",
        # This province has no node 63, so no public key of it: the referral goes without the dossier.
        "referral_requested", "dossier_not_sent", "closure_requested", "closure_rejected", "closure_requested",
        "closed", "stage_changed", "reopened"]
    assert entries[8]["detail"] == {"referral_id": entries[7]["detail"]["referral_id"], "facility_node": "63",
                                    "reason": "no_public_key"}
    moves = [(e["detail"]["from_stage"], e["detail"]["to_stage"]) for e in entries if e["kind"] == "stage_changed"]
    assert moves == [("pendekatan_awal", "asesmen"), ("asesmen", "rencana_intervensi"),
                     ("rencana_intervensi", "intervensi"), ("terminasi", "bimbingan_lanjut")]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    actors = {e["kind"]: e["actor"] for e in entries}
    assert "operator" in actors["opened"] and "supervisor" in actors["closed"]
    assert entries[-1]["detail"] == {"reason": "Kembali ke jalan", "stage": "asesmen"}


# -- referral --------------------------------------------------------------------------------------
def test_referral_without_consent_is_refused_unless_a_supervisor_overrides(node):
    case = new_case(node)
    path = f"/api/v1/cases/{case['id']}/referrals"
    give_consent(node, case["person"]["id"], purpose="registration")  # another purpose does not count
    before = counts(node, "referral", "outbox", "case_history")

    resp = call(node, "POST", path, REFERRAL)
    assert resp.status_code == 409
    assert error(resp)["code"] == "consent_missing"
    assert error(resp)["fields"]["consent_override"]
    override = {**REFERRAL, "consent_override": "Kondisi darurat, orang tidak dapat dimintai persetujuan"}
    resp = call(node, "POST", path, override, role=auth.OPERATOR)
    assert resp.status_code == 409
    assert error(resp)["code"] == "override_not_allowed"
    assert counts(node, "referral", "outbox", "case_history") == before

    resp = call(node, "POST", path, override, role=auth.SUPERVISOR)
    assert resp.status_code == 201, resp.text
    referral = resp.json()
    assert (referral["status"], referral["facility_node"]) == ("requested", "63")
    assert referral["consent_override"] == override["consent_override"]
    assert node.count(NODE, "intake", "referral") == before["referral"] + 1
    event = outbox(node)[-1]
    assert event["type"] == "referral.requested"
    assert event["routing_key"].endswith(".to.63")
    assert event["routing_key"] == f"{NODE}.intake.referral.requested.to.63"
    assert event["payload"]["referral_id"] == referral["id"]
    assert event["payload"]["consent_override"] is True
    assert "Rizky" not in json.dumps(event["payload"])


def test_referral_with_consent_needs_no_override_and_records_none(node):
    case = new_case(node)
    give_consent(node, case["person"]["id"])
    resp = call(node, "POST", f"/api/v1/cases/{case['id']}/referrals",
                {**REFERRAL, "facility_node": "6303", "consent_override": "tidak perlu, sudah ada persetujuan"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["consent_override"] is None
    event = outbox(node)[-1]
    assert event["routing_key"].endswith(".to.6303")
    assert event["payload"]["consent_override"] is False


def test_withdrawn_consent_blocks_referral_even_with_an_override_until_given_again(node):
    case = new_case(node)
    person_id = case["person"]["id"]
    path = f"/api/v1/cases/{case['id']}/referrals"
    give_consent(node, person_id)
    resp = call(node, "POST", f"/api/v1/persons/{person_id}/consents/withdrawal",
                {"purpose": "referral", "given_by": "person"})
    assert resp.status_code == 201, resp.text
    before = counts(node, "referral", "outbox")
    for role in (auth.OPERATOR, auth.SUPERVISOR):
        resp = call(node, "POST", path, {**REFERRAL, "consent_override": "Tetap dirujuk karena darurat"}, role=role)
        assert resp.status_code == 409
        assert error(resp)["code"] == "consent_withdrawn"
    assert counts(node, "referral", "outbox") == before

    give_consent(node, person_id)
    assert call(node, "POST", path, REFERRAL).status_code == 201


def test_only_open_cases_can_be_referred(node):
    before = node.count(NODE, "intake", "referral")
    case = new_case(node)
    give_consent(node, case["person"]["id"])
    path = f"/api/v1/cases/{case['id']}/referrals"
    assert call(node, "POST", f"/api/v1/cases/{case['id']}/closure", CLOSURE).status_code == 200
    pending = call(node, "POST", path, REFERRAL)
    assert pending.status_code == 409
    assert error(pending)["code"] == "case_not_open"
    call(node, "POST", f"/api/v1/cases/{case['id']}/closure/decision", {"approve": True}, role=auth.SUPERVISOR)
    closed = call(node, "POST", path, REFERRAL)
    assert closed.status_code == 409
    assert error(closed)["code"] == "case_not_open"
    assert node.count(NODE, "intake", "referral") == before


# -- search ----------------------------------------------------------------------------------------
def search(node, **params):
    resp = call(node, "GET", "/api/v1/cases", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def found(node, **params) -> set[str]:
    page = search(node, per_page=100, **params)
    assert page["total"] == len(page["items"])
    return {item["person_name"] for item in page["items"]}


@pytest.mark.own_province
def test_search_filters_by_category_stage_status_kecamatan_worker_and_date(node):
    new_case(node, name="Ahmad Fauzi", category="gelandangan", kecamatan="637103", worker="Siti Aminah")
    beggar = new_case(node, name="Budi Santoso", category="pengemis", kecamatan="637104",
                      worker="Rahmawati")
    scavenger = new_case(node, name="Citra Lestari", category="pemulung", kecamatan="637103",
                         sex="female", birth_date="1990-01-01")
    elder = new_case(node, name="Dewi Sartika", category="lansia_telantar", kecamatan="637102",
                     sex="female", birth_date="1940-05-05", worker="Siti Aminah")
    move(node, beggar["id"], "asesmen")
    close(node, scavenger["id"])
    call(node, "POST", f"/api/v1/cases/{elder['id']}/closure", CLOSURE)

    assert found(node, category="gelandangan") == {"Ahmad Fauzi"}
    assert found(node, stage="asesmen") == {"Budi Santoso"}
    assert found(node, stage="terminasi") == {"Citra Lestari"}
    assert found(node, status="open") == {"Ahmad Fauzi", "Budi Santoso"}
    assert found(node, status="closure_requested") == {"Dewi Sartika"}
    assert found(node, status="closed") == {"Citra Lestari"}
    assert found(node, kecamatan="637103") == {"Ahmad Fauzi", "Citra Lestari"}
    assert found(node, worker="Siti Aminah") == {"Ahmad Fauzi", "Dewi Sartika"}
    assert found(node, worker="Siti Aminah", status="open") == {"Ahmad Fauzi"}
    today, tomorrow = date.today(), date.today() + timedelta(days=1)
    assert len(found(node, registered_from=today.isoformat())) == 4
    assert found(node, registered_from=tomorrow.isoformat()) == set()
    assert found(node, registered_to=(today - timedelta(days=1)).isoformat()) == set()
    item = search(node, category="pengemis")["items"][0]
    assert item["person_id"] == beggar["person"]["id"]
    assert item["registration_no"] == beggar["person"]["registration_no"]


@pytest.mark.own_province
def test_name_search_folds_muhammad_and_noor_spellings(node):
    for name in ("Muhammad Rizky", "M. Rizky", "Mohammad Rizky", "Rizky Amalia", "Siti Noor Aisyah",
                 "Nur Hidayah", "Hj. Nurul Aisyah"):
        new_case(node, name=name)
    rizky = {"Muhammad Rizky", "M. Rizky", "Mohammad Rizky"}
    assert found(node, q="Muhammad Rizky") == rizky
    assert found(node, q="M. Rizky") == rizky
    assert found(node, q="mohammad rizky") == rizky
    assert found(node, q="Rizky") == rizky | {"Rizky Amalia"}
    assert found(node, q="Nur Aisyah") == {"Siti Noor Aisyah", "Hj. Nurul Aisyah"}
    assert found(node, q="Noor") == {"Siti Noor Aisyah", "Nur Hidayah", "Hj. Nurul Aisyah"}
    assert found(node, q="Zainab") == set()


def test_the_access_log_keeps_each_request_path_but_not_the_name_searched(node, caplog):
    caplog.set_level(logging.INFO, logger="rehsos.access")
    assert call(node, "GET", "/api/v1/cases", params={"q": "Muhammad Rizky"}).status_code == 200
    deadline = time.monotonic() + 5  # eventlet writes the line after the answer has gone out
    while not any("/api/v1/cases" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if r.name == "rehsos.access"]
    assert any('"GET /api/v1/cases?… HTTP/1.1" 200' in line for line in lines), lines
    assert not any("Rizky" in line for line in lines), lines


def test_a_name_query_without_letters_does_not_return_every_case(node):
    new_case(node, name="Muhammad Rizky")
    new_case(node, name="Siti Noor Aisyah")
    for q in ("6371051203850001", "12", "12 34"):
        resp = call(node, "GET", "/api/v1/cases", params={"q": q})
        assert resp.status_code == 422, (q, resp.text)
        assert error(resp)["fields"] == {"q": ["Kata pencarian nama harus mengandung huruf."]}, q


@pytest.mark.own_province
def test_search_pages_and_sorts_by_name(node):
    names = ["Erna Wati", "Ahmad Fauzi", "Dewi Sartika", "Budi Santoso", "Citra Lestari"]
    for name in names:
        new_case(node, name=name)
    pages = [search(node, sort="name", per_page=2, page=p) for p in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    assert [[i["person_name"] for i in p["items"]] for p in pages] == [
        ["Ahmad Fauzi", "Budi Santoso"], ["Citra Lestari", "Dewi Sartika"], ["Erna Wati"], []]
    descending = search(node, sort="-name")
    assert [i["person_name"] for i in descending["items"]] == sorted(names, reverse=True)
    assert (descending["page"], descending["per_page"]) == (1, 20)
    newest_first = search(node)
    assert [i["person_name"] for i in newest_first["items"]] == names[::-1]


@pytest.mark.own_province
def test_sorting_by_stage_follows_the_rehabilitation_order(node):
    stages = ["pendekatan_awal", "asesmen", "rencana_intervensi", "intervensi", "resosialisasi"]
    for stage in reversed(stages):
        case = new_case(node, name=f"Orang {stage}")
        reach(node, case["id"], stage)
    items = search(node, sort="stage")["items"]
    assert [i["stage"] for i in items] == stages


BAD_SEARCHES = [
    ({"page": "0"}, "page"),
    ({"page": "dua"}, "page"),
    ({"per_page": "101"}, "per_page"),
    ({"per_page": "0"}, "per_page"),
    ({"sort": "umur"}, "sort"),
    ({"stage": "selesai"}, "stage"),
    ({"status": "done"}, "status"),
    ({"category": "preman"}, "category"),
    ({"registered_from": "kemarin"}, "registered_from"),
    ({"q": "x"}, "q"),
    ({"nik": "6371051203850001"}, "nik"),
]


def test_bad_search_parameters_are_422_naming_the_parameter(node):
    for params, field in BAD_SEARCHES:
        resp = call(node, "GET", "/api/v1/cases", params=params)
        assert resp.status_code == 422, (params, resp.text)
        fields = error(resp)["fields"]
        assert set(fields) == {field}, params
        assert all(isinstance(m, str) and m for m in fields[field]), params
