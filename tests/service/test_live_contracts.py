"""Contract tests of the live payloads: the real services, driven through their HTTP API, write
events to their outboxes; every body there must parse with the shared contracts, carry exactly
the contract's payload fields and none of the personal data that was registered.

``make_event`` checks a payload as it is built; this checks what actually goes on the wire, so it
fails when a producer, the outbox or a contract drifts (an optional field a producer stops
sending, a field added to both producer and contract, a body serialised another way)."""
from datetime import date

import pytest
import requests
import sqlalchemy as sa

from rehsos import auth, db, registry
from rehsos.contracts import InvalidEvent, parse_event, payload_schema
from tests.support import case_body, wait_until

PANTI = {"code": "prsts-barakat-cangkal-bacari", "name": "PRSTS Barakat Cangkal Bacari", "kind": "panti",
         "owner": "province", "owner_name": "Dinas Sosial Provinsi Kalimantan Selatan", "regency": "6372",
         "address": "Banjarbaru", "categories": ["gelandangan"],
         "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 1},
                   {"name": "Wisma Perempuan", "sex": "female", "capacity": 1}]}
# Two people: one with a NIK and consent, one without a NIK referred on a supervisor's override.
RIZKY = case_body()
SITI = case_body(name="Siti Aminah", nik=None, sex="female", birth_date="1990-07-21", kecamatan="637104")
# (office, service, event type) this test must see written, at least.
PRODUCED = {("6371", "intake", t) for t in ("person.registered", "case.opened", "referral.requested",
                                             "referral.dossier_sent")} | {
    ("63", "facilities", t) for t in ("referral.accepted", "referral.rejected", "admission.recorded")}


@pytest.fixture
def province(make_province):
    return make_province(["6371", "63"])


def post(province, office, path, body, role):
    resp = requests.post(province.url(office, path), json=body, headers=province.headers(office, role), timeout=10)
    assert resp.status_code in (200, 201), (path, resp.text)
    return resp.json()


def refer(province, case, **extra):
    return post(province, "6371", f"/api/v1/cases/{case['id']}/referrals",
                {"facility_id": PANTI["code"], "facility_node": "63", **extra}, auth.SUPERVISOR)


def outbox_rows(province) -> list[tuple[str, str, sa.Row]]:
    """(office, service, row) of every outbox row of every service of the province."""
    rows = []
    for office, settings in province.settings.items():
        for spec in db.services_of(settings):
            engine = province.engine(office, spec.database)
            try:
                if not sa.inspect(engine).has_table("outbox"):
                    continue
                with engine.connect() as conn:
                    result = conn.execute(sa.text(
                        "SELECT event_id, service, sequence, event_type, routing_key, body FROM outbox ORDER BY id"))
                    rows += [(office, spec.name, row) for row in result]
            finally:
                engine.dispose()
    return rows


def contract_breaches(office: str, service: str, row) -> list[str]:
    """What is wrong with one outbox row, measured against the shared contracts."""
    where = f"{office}/{service} #{row.sequence} {row.event_type}"
    try:
        event = parse_event(row.body)
    except InvalidEvent as exc:
        return [f"{where}: {exc.reason}: {exc.details}"]
    breaches = []
    declared = set(payload_schema(event.event_type, event.schema_version).fields)
    if set(event.payload) != declared:
        breaches.append(f"{where}: payload keys {sorted(event.payload)} are not the contract's {sorted(declared)}")
    envelope = (str(event.event_id), event.node, event.service, event.sequence, event.event_type)
    if envelope != (row.event_id, office, service, row.sequence, row.event_type):
        breaches.append(f"{where}: envelope {envelope} does not match its outbox row")
    key = f"{event.node}.{event.service}.{event.event_type}"
    if event.event_type in registry.DIRECT_EVENTS:  # one node only, past the hub's consumers
        key = "direct." + key
        if not row.routing_key.startswith(key + ".to.") or row.routing_key.endswith(".to.all"):
            breaches.append(f"{where}: a direct event routed as {row.routing_key}")
    if row.routing_key != key and not row.routing_key.startswith(key + ".to."):
        breaches.append(f"{where}: routing key {row.routing_key} is not {key}[.to.<node>]")
    for person in (RIZKY, SITI):
        for field in ("name", "nik", "birth_date", "kecamatan"):
            if person[field] and person[field].lower() in row.body.lower():
                breaches.append(f"{where}: the body carries the {field} of {person['name']}")
    return breaches


def test_every_event_the_services_write_keeps_its_contract(province):
    post(province, "63", "/api/v1/facilities", PANTI, auth.FACILITY_MANAGER)
    rizky = province.register("6371", RIZKY).json()
    siti = province.register("6371", SITI).json()
    post(province, "6371", f"/api/v1/persons/{rizky['person']['id']}/consents",
         {"purpose": "referral", "legal_basis": "consent", "given_by": "person"}, auth.OPERATOR)
    accepted = refer(province, rizky)
    rejected = refer(province, siti, consent_override="Keadaan darurat, orang tidak sadar (kepentingan vital).")

    def both_arrived():
        resp = requests.get(province.url("63", "/api/v1/referrals?status=requested"), timeout=5,
                            headers=province.headers("63", auth.FACILITY_MANAGER))
        return {r["referral_id"] for r in resp.json()} == {accepted["id"], rejected["id"]}
    wait_until(both_arrived, timeout=20, message="both referrals at node 63")
    base = "/api/v1/referrals/"
    post(province, "63", base + accepted["id"] + "/accept", {"unit": "Wisma Laki-laki"}, auth.FACILITY_MANAGER)
    post(province, "63", base + accepted["id"] + "/admission", {"admitted_on": date.today().isoformat()},
         auth.FACILITY_MANAGER)
    post(province, "63", base + rejected["id"] + "/reject", {"reason_code": "no_bed"},
         auth.FACILITY_MANAGER)

    rows = outbox_rows(province)
    assert PRODUCED <= {(office, service, row.event_type) for office, service, row in rows}
    assert [b for office, service, row in rows for b in contract_breaches(office, service, row)] == []
