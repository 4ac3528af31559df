"""The sealed dossier (issue 13): with consent for referral, the person's dossier goes from 6371 to
the facility's node 63 only, sealed for 63; the hub relays bytes it cannot read and keeps none of
them, the bystander 6303 gets nothing, and 63 opens it only when a manager reads it (audit-logged)
and deletes it when the referral is rejected, lapses or ends, or consent is withdrawn."""
from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta, timezone

import kombu
import pytest
import requests
import sqlalchemy as sa

from rehsos import auth, contracts, registry, sealing, topology
from tests.support import case_body, wait_until

NODES = ["6371", "63", "6303"]
PANTI = {"code": "prsts-budi-luhur", "name": "PRSTS Budi Luhur", "kind": "panti", "owner": "province",
         "owner_name": "Dinas Sosial Provinsi Kalimantan Selatan", "regency": "6372", "address": "Banjarbaru",
         "categories": ["gelandangan"], "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 20},
                                                   {"name": "Wisma Perempuan", "sex": "female", "capacity": 20}]}
ASSESSMENT = {"needs": {"dukungan_hidup_layak": "Belum punya tempat tinggal tetap; butuh makan dan pakaian.",
                        "dukungan_keluarga": "Keluarga di Martapura perlu dihubungi kembali."},
              "risk_level": "medium", "recommendation": "Rujuk ke panti untuk rehabilitasi sosial lanjutan."}


@pytest.fixture
def province(shared_province):
    p = shared_province(NODES)
    if not hasattr(p, "panti"):
        post(p, "63", "/api/v1/facilities", PANTI, auth.FACILITY_MANAGER)
        p.panti = True
    return p


def post(province, node, path, body, role=auth.OPERATOR, expect=(200, 201)):
    resp = requests.post(province.url(node, path), json=body, headers=province.headers(node, role), timeout=10)
    assert resp.status_code in expect, (path, resp.status_code, resp.text)
    return resp.json()


def get(province, node, path, role=auth.FACILITY_MANAGER):
    return requests.get(province.url(node, path), headers=province.headers(node, role), timeout=10)


def person(serial: int, **changes) -> dict:
    """A person of 6371 with a NIK of their own (the serial) and a guardian."""
    return case_body(nik=f"637105120385{serial:04d}", name=f"Ahmad Fauzi Rahman {serial}",
                     guardian_name=f"Hj. Siti Rahmah {serial}", guardian_relationship="ibu",
                     guardian_phone=f"0812555{serial:05d}", **changes)


def refer(province, body, *, consent=True, assess=True) -> tuple[dict, dict]:
    """Register at 6371, assess, consent (or a supervisor's override), refer to the panti at 63."""
    case = province.register("6371", body).json()
    if consent:
        post(province, "6371", f"/api/v1/persons/{case['person']['id']}/consents",
             {"purpose": "referral", "legal_basis": "consent", "given_by": "person"})
    if assess:
        post(province, "6371", f"/api/v1/cases/{case['id']}/stage", {"stage": "asesmen"})
        post(province, "6371", f"/api/v1/cases/{case['id']}/assessments", ASSESSMENT)
    extra = {} if consent else {"consent_override": "Keadaan darurat, orang tidak sadar (kepentingan vital)."}
    referral = post(province, "6371", f"/api/v1/cases/{case['id']}/referrals",
                    {"facility_id": PANTI["code"], "facility_node": "63", **extra}, auth.SUPERVISOR)
    wait_until(lambda: any(r["referral_id"] == referral["id"] for r in get(province, "63", "/api/v1/referrals").json()),
               timeout=20, message="referral at node 63")
    return case, referral


def dossier_path(referral) -> str:
    return f"/api/v1/referrals/{referral['id']}/dossier"


def wait_for_dossier(province, referral) -> dict:
    resp = wait_until(lambda: (r := get(province, "63", dossier_path(referral))).status_code == 200 and r,
                      timeout=20, message="the dossier at node 63")
    return resp.json()


def rows(province, node, service, sql, **params) -> list:
    engine = province.engine(node, service)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()


def audit_of(province, referral) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in rows(province, "63", "facilities",
                                   "SELECT action, actor, outcome FROM audit_log WHERE record_id = :id ORDER BY id",
                                   id=referral["id"])]


# -- the journey -------------------------------------------------------------------------------------
def test_node_63_reads_the_dossier_6371_holds_and_every_read_is_audit_logged(province, caplog):
    caplog.set_level(logging.DEBUG)
    case, referral = refer(province, person(11, birth_date=None, estimated_age=54))
    held = get(province, "6371", f"/api/v1/cases/{case['id']}", auth.OPERATOR).json()["person"]

    dossier = wait_for_dossier(province, referral)
    assert (dossier["name"], dossier["nik"], dossier["sex"], dossier["birth_date"], dossier["birth_year_estimated"]) == (
        held["name"], held["nik"], held["sex"], None, held["birth_year_estimated"])
    assert dossier["estimated_age"] == 54
    assert dossier["guardian"] == {"name": held["guardian_name"], "relationship": held["guardian_relationship"],
                                   "phone": held["guardian_phone"]}
    assert dossier["assessment"]["needs"] == ASSESSMENT["needs"]
    assert (dossier["assessment"]["risk_level"], dossier["assessment"]["recommendation"]) == (
        ASSESSMENT["risk_level"], ASSESSMENT["recommendation"])
    assert (dossier["referral_id"], dossier["case_id"], dossier["referring_node"], dossier["category"]) == (
        referral["id"], case["id"], "6371", "gelandangan")
    assert get(province, "63", dossier_path(referral), auth.ADMIN).status_code == 200

    # Only the panti's managers, and only at node 63: not an operator there, not a manager elsewhere.
    assert get(province, "63", dossier_path(referral), auth.OPERATOR).status_code == 403
    assert get(province, "6303", dossier_path(referral)).status_code == 404

    actions = audit_of(province, referral)
    assert [a for a, _, _ in actions] == ["dossier.received", "dossier.read", "dossier.read"]
    assert [o for _, _, o in actions] == ["ok", "ok", "ok"]
    assert actions[1][1].endswith("uji.facility_manager") and actions[2][1].endswith("uji.admin")
    # The audit log says who, when and which referral; never the values.
    logged = json.dumps([list(r) for r in rows(province, "63", "facilities", "SELECT * FROM audit_log")], default=str)
    assert held["name"] not in logged and held["nik"] not in logged

    timeline = get(province, "6371", f"/api/v1/cases/{case['id']}/timeline", auth.OPERATOR).json()
    assert "dossier_sent" in [e["kind"] for e in timeline]

    # No log line of any office carries the values or a node's private key.
    text = "\n".join(r.getMessage() for r in caplog.records)
    secrets = [s.dossier_private_key for s in province.settings.values() if s.dossier_private_key]
    assert len(secrets) == 3
    for secret in secrets + [held["name"], held["nik"], held["guardian_phone"]]:
        assert secret not in text


def test_the_dossier_stays_while_the_person_is_in_the_panti_and_goes_at_discharge(province):
    _, referral = refer(province, person(12))
    wait_for_dossier(province, referral)
    base = f"/api/v1/referrals/{referral['id']}"
    post(province, "63", base + "/accept", {"unit": "Wisma Laki-laki"}, auth.FACILITY_MANAGER)
    post(province, "63", base + "/admission", {"admitted_on": date.today().isoformat()}, auth.FACILITY_MANAGER)
    assert get(province, "63", dossier_path(referral)).status_code == 200  # the resident's guardian, assessment
    post(province, "63", base + "/discharge", {"discharged_on": date.today().isoformat(), "outcome": "positive"},
         auth.FACILITY_MANAGER)
    gone = get(province, "63", dossier_path(referral))
    assert gone.status_code == 410 and "sudah keluar" in gone.json()["error"]["message"]
    assert rows(province, "63", "facilities", "SELECT sealed, deleted_reason FROM referral_dossier WHERE "
                "referral_id = :id", id=referral["id"]) == [(None, "discharged")]


# -- deletion ----------------------------------------------------------------------------------------
def test_a_rejected_referral_deletes_its_dossier_and_the_audit_entries_stay(province):
    _, referral = refer(province, person(21))
    wait_for_dossier(province, referral)
    post(province, "63", f"/api/v1/referrals/{referral['id']}/reject", {"reason_code": "outside_criteria"},
         auth.FACILITY_MANAGER)
    gone = get(province, "63", dossier_path(referral))
    assert gone.status_code == 410 and "ditolak" in gone.json()["error"]["message"]
    assert rows(province, "63", "facilities", "SELECT sealed, deleted_reason FROM referral_dossier WHERE "
                "referral_id = :id", id=referral["id"]) == [(None, "rejected")]
    assert [(a, o) for a, _, o in audit_of(province, referral)] == [
        ("dossier.received", "ok"), ("dossier.read", "ok"), ("dossier.deleted", "ok"), ("dossier.read", "deleted")]


def test_a_lapsed_reservation_deletes_the_dossier(province):
    _, referral = refer(province, person(22))
    wait_for_dossier(province, referral)
    post(province, "63", f"/api/v1/referrals/{referral['id']}/accept", {"unit": "Wisma Laki-laki"},
         auth.FACILITY_MANAGER)
    engine = province.engine("63", "facilities")
    try:
        with engine.begin() as conn:  # nobody came: the reservation ran out an hour ago
            conn.execute(sa.text("UPDATE referral_request SET reserved_until = :t WHERE referral_id = :id"),
                         {"t": datetime.now(timezone.utc) - timedelta(hours=1), "id": referral["id"]})
    finally:
        engine.dispose()
    wait_until(lambda: get(province, "63", dossier_path(referral)).status_code == 410, timeout=20,
               message="the sweep deletes the dossier")
    assert "kedaluwarsa" in get(province, "63", dossier_path(referral)).json()["error"]["message"]


def test_withdrawing_consent_at_6371_deletes_the_dossier_at_63(province):
    case, referral = refer(province, person(23))
    wait_for_dossier(province, referral)
    post(province, "6371", f"/api/v1/persons/{case['person']['id']}/consents/withdrawal",
         {"purpose": "referral", "given_by": "person"}, expect=(201,))
    wait_until(lambda: get(province, "63", dossier_path(referral)).status_code == 410, timeout=20,
               message="the dossier deleted at 63")
    assert "dicabut" in get(province, "63", dossier_path(referral)).json()["error"]["message"]
    assert [actor for a, actor, _ in audit_of(province, referral) if a == "dossier.deleted"] == ["sistem"]
    kinds = [e["kind"] for e in get(province, "6371", f"/api/v1/cases/{case['id']}/timeline", auth.OPERATOR).json()]
    assert kinds.count("dossier_sent") == kinds.count("dossier_withdrawn") == 1


def test_withdrawing_consent_for_another_purpose_keeps_the_dossier(province):
    case, referral = refer(province, person(24))
    post(province, "6371", f"/api/v1/persons/{case['person']['id']}/consents",
         {"purpose": "data_sharing", "legal_basis": "consent", "given_by": "person"})
    post(province, "6371", f"/api/v1/persons/{case['person']['id']}/consents/withdrawal",
         {"purpose": "data_sharing", "given_by": "person"}, expect=(201,))
    wait_for_dossier(province, referral)
    kinds = [e["kind"] for e in get(province, "6371", f"/api/v1/cases/{case['id']}/timeline", auth.OPERATOR).json()]
    assert "dossier_withdrawn" not in kinds


# -- who gets what -----------------------------------------------------------------------------------
def test_without_consent_no_dossier_is_sent_and_the_referral_still_goes(province):
    case, referral = refer(province, person(31), consent=False)
    assert get(province, "63", dossier_path(referral)).status_code == 404
    outbox = rows(province, "6371", "intake", "SELECT body FROM outbox WHERE event_type = :t",
                  t=registry.DOSSIER_SENT)
    assert not [b for (b,) in outbox if referral["id"] in b]
    kinds = [e["kind"] for e in get(province, "6371", f"/api/v1/cases/{case['id']}/timeline", auth.OPERATOR).json()]
    assert "dossier_sent" not in kinds and "referral_requested" in kinds


def test_the_hub_relays_the_dossier_without_reading_or_keeping_it_and_6303_gets_nothing(province):
    hub = province.hub_amqp()
    with kombu.Connection(hub) as conn:
        # Whatever any hub consumer could receive, bound to everything on hub.events.
        tap = kombu.Queue("dossier-tap", exchange=kombu.Exchange(topology.HUB_EVENTS_EXCHANGE, type="topic",
                                                                 no_declare=True),
                          routing_key="#", channel=conn.channel(), auto_delete=False, durable=False)
        tap.declare()
        case, referral = refer(province, person(41))
        wait_for_dossier(province, referral)
        wait_until(lambda: rows(province, "hub", "reporting", "SELECT count(*) FROM referral_status WHERE "
                                "referral_id = :id", id=referral["id"])[0][0] == 1, timeout=20,
                   message="the referral counted at the hub")
        bodies = []
        while (message := tap.get(no_ack=True)) is not None:
            bodies.append(message.body if isinstance(message.body, str) else message.body.decode())
        tap.delete()
    held = get(province, "6371", f"/api/v1/cases/{case['id']}", auth.OPERATOR).json()["person"]
    sealed = json.loads(rows(province, "6371", "intake", "SELECT body FROM outbox WHERE event_type = :t AND "
                             "body LIKE :id", t=registry.DOSSIER_SENT, id=f"%{referral['id']}%")[0][0]
                        )["payload"]["sealed"]
    values = [held["name"], held["nik"], held["guardian_name"], held["guardian_phone"],
              ASSESSMENT["recommendation"], ASSESSMENT["needs"]["dukungan_keluarga"]]

    assert any(referral["id"] in b for b in bodies)  # the tap saw the referral itself...
    assert not [b for b in bodies if registry.DOSSIER_SENT in b or sealed[:64] in b]  # ...never its dossier
    # Nothing of it in any of the hub's databases: no value, no ciphertext, no dossier event in the store.
    files = [path.read_bytes() for path in (province.paths.data / "hub").iterdir()]
    assert any(referral["id"].encode() in data for data in files)  # the scan reads where the hub writes
    for data in files:
        for secret in values + [sealed[:64]]:
            assert secret.encode() not in data, f"{secret[:20]!r} at the hub"
    assert rows(province, "hub", "reporting", "SELECT count(*) FROM event_store WHERE envelope LIKE :id",
                id=f"%{referral['id']}%")[0][0] >= 1  # the store does keep the referral itself
    assert rows(province, "hub", "reporting", "SELECT count(*) FROM event_store WHERE event_type LIKE "
                "'referral.dossier%' OR envelope LIKE '%sealed%'")[0][0] == 0
    # The bystander 6303 received nothing of it: no event, no row, nothing refused.
    assert rows(province, "6303", "facilities", "SELECT count(*) FROM inbox WHERE event_type LIKE "
                "'referral.dossier%'")[0][0] == 0
    assert rows(province, "6303", "facilities", "SELECT count(*) FROM referral_dossier")[0][0] == 0
    assert rows(province, "6303", "facilities", "SELECT count(*) FROM quarantine")[0][0] == 0


def test_a_dossier_sealed_for_another_key_is_quarantined_without_its_values(province):
    _, referral = refer(province, person(51), consent=False)  # a referral with no dossier of its own
    _, stranger = sealing.new_key_pair()
    document = {"referral_id": referral["id"], "name": "Nama Rahasia Sekali", "nik": "6371051203859999"}
    event = contracts.make_event(registry.DOSSIER_SENT, {
        "referral_id": referral["id"], "facility_node": "63", "sealed": sealing.seal(stranger, document)},
        node="6371", service="intake").with_sequence(9999)
    with kombu.Connection(province.node_amqp("6371"), transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(event.to_json(), exchange=topology.EVENTS_EXCHANGE,
                                routing_key=contracts.routing_key(event, target="63"),
                                content_type="application/json", retry=False)
    quarantined = wait_until(lambda: rows(province, "63", "facilities", "SELECT reason, body, fields FROM quarantine "
                                          "WHERE event_id = :id", id=str(event.event_id)),
                             timeout=20, message="the foreign dossier quarantined at 63")
    reason, body, fields = quarantined[0]
    assert "cannot be opened with this node's key" in reason
    assert body is None and "payload.sealed" in fields  # its digest and field names, not its contents
    assert get(province, "63", dossier_path(referral)).status_code == 404
