"""Beds are never overbooked: concurrent accepts on PostgreSQL, and occupancy from events."""
import json
import uuid
from datetime import datetime, timezone

import eventlet
import pytest
import requests
import sqlalchemy as sa

from rehsos import auth
from tests.support import wait_until

NODE = "63"
PANTI = {"code": "prsts-barakat-cangkal-bacari", "name": "PRSTS Barakat Cangkal Bacari", "kind": "panti",
         "owner": "province", "owner_name": "Dinas Sosial Provinsi Kalimantan Selatan", "regency": "6372",
         "address": "Banjarbaru", "categories": ["gelandangan"],
         "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 3}]}


def waiting_referrals(node, count):
    """Referrals as the downlink consumer stores them (the uplink path is tested province-wide)."""
    engine = node.engine(NODE, "facilities")
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO referral_request (referral_id, case_id, referring_node, facility_code, person_key, category,"
            " sex, age_band, consent_override, status, received_at) VALUES (:id, :case, '6371', :fac, :key,"
            " 'gelandangan', 'male', '30-34', false, 'requested', :at)"),
            [{"id": i, "case": str(uuid.uuid4()), "fac": PANTI["code"], "key": "ab" * 32,
              "at": datetime.now(timezone.utc)} for i in ids])
    engine.dispose()
    return ids


ACCEPT = ("accept", {"unit": "Wisma Laki-laki"})
WALK_IN = ("admission", {"admitted_on": "2026-11-24", "unit": "Wisma Laki-laki"})


@pytest.mark.parametrize("actions", [(ACCEPT,), (ACCEPT, WALK_IN)], ids=["accepts", "accepts-and-walk-in-admissions"])
def test_fifty_concurrent_accepts_for_three_free_beds_book_exactly_three(make_province, actions):
    node = make_province([NODE], start_hub=False, database="postgresql")
    manager = node.headers(NODE, auth.FACILITY_MANAGER)
    assert requests.post(node.url(NODE, "/api/v1/facilities"), json=PANTI, headers=manager, timeout=5).status_code == 201
    ids = waiting_referrals(node, 50)

    def book(numbered):
        i, referral_id = numbered
        action, body = actions[i % len(actions)]
        return requests.post(node.url(NODE, f"/api/v1/referrals/{referral_id}/{action}"), json=body,
                             headers=manager, timeout=30).status_code

    statuses = list(eventlet.GreenPool(50).imap(book, enumerate(ids)))
    assert sorted(statuses).count(200) == 3, statuses
    assert set(statuses) == {200, 409}
    occupancy = requests.get(node.url(NODE, f"/api/v1/facilities/{PANTI['code']}/occupancy"), headers=manager,
                             timeout=5).json()
    assert occupancy[0]["occupied"] == 3 and occupancy[0]["free"] == 0
    # Each booking told the referring node and sent a capacity snapshot; refusals sent nothing.
    assert node.count(NODE, "facilities", "outbox") == 2 + 3 * 2


def test_discharge_frees_the_bed_and_a_full_unit_refuses_more(make_province):
    node = make_province([NODE], start_hub=False)
    manager = node.headers(NODE, auth.FACILITY_MANAGER)
    requests.post(node.url(NODE, "/api/v1/facilities"), headers=manager, timeout=5,
                  json={**PANTI, "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 1}]})
    first, second = waiting_referrals(node, 2)
    url = lambda rid, action: node.url(NODE, f"/api/v1/referrals/{rid}/{action}")  # noqa: E731
    assert requests.post(url(first, "accept"), json={"unit": "Wisma Laki-laki"}, headers=manager).status_code == 200
    full = requests.post(url(second, "accept"), json={"unit": "Wisma Laki-laki"}, headers=manager)
    assert full.status_code == 409 and full.json()["error"]["code"] == "no_free_bed"
    assert requests.post(url(second, "waitlist"), json={}, headers=manager).status_code == 200
    again = requests.post(url(second, "waitlist"), json={}, headers=manager)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"
    facility = requests.get(node.url(NODE, f"/api/v1/facilities/{PANTI['code']}"), headers=manager).json()
    assert (facility["full"], facility["occupied"], facility["free"], facility["waitlisted"]) == (True, 1, 0, 1)
    for units in ([], [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 0}],
                  [{"name": "Wisma Laki-laki", "sex": "female", "capacity": 5}]):
        shrink = requests.patch(node.url(NODE, f"/api/v1/facilities/{PANTI['code']}"), json={"units": units or [
            {"name": "Wisma Baru", "sex": "male", "capacity": 5}]}, headers=manager)
        assert shrink.status_code == 409 and shrink.json()["error"]["code"] == "unit_occupied", shrink.text
    assert requests.post(url(first, "admission"), json={"admitted_on": "2026-01-05"}, headers=manager).status_code == 200
    assert requests.post(url(first, "discharge"), json={"discharged_on": "2026-03-01", "outcome": "positive"},
                         headers=manager).status_code == 200
    assert requests.post(url(second, "accept"), json={"unit": "Wisma Laki-laki"}, headers=manager).status_code == 200
    again = requests.post(url(first, "discharge"), json={"discharged_on": "2026-03-01", "outcome": "positive"},
                          headers=manager)
    assert again.status_code == 409
    wrong_unit = requests.post(url(str(uuid.uuid4()), "accept"), json={"unit": "X"}, headers=manager)
    assert wrong_unit.status_code == 404
    bad = requests.post(url(second, "discharge"), json={"discharged_on": "kemarin", "outcome": "baik"}, headers=manager)
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"discharged_on", "outcome"}


def test_a_lapsed_reservation_frees_the_bed_and_tells_the_referring_office(make_province):
    node = make_province([NODE], start_hub=False)
    manager = node.headers(NODE, auth.FACILITY_MANAGER)
    requests.post(node.url(NODE, "/api/v1/facilities"), headers=manager, timeout=5,
                  json={**PANTI, "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 1}]})
    (referral,) = waiting_referrals(node, 1)
    url = node.url(NODE, f"/api/v1/referrals/{referral}")
    assert requests.post(url + "/accept", json={"unit": "Wisma Laki-laki"}, headers=manager).status_code == 200
    engine = node.engine(NODE, "facilities")
    with engine.begin() as conn:  # nobody came: three days pass
        conn.execute(sa.text("UPDATE referral_request SET reserved_until = :past WHERE referral_id = :id"),
                     {"past": datetime(2026, 1, 1, tzinfo=timezone.utc), "id": referral})

    def answers():
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT event_type, body FROM outbox ORDER BY sequence").all()

    wait_until(lambda: "referral.rejected" in [kind for kind, _ in answers()], message="expiry answered")
    kinds = [kind for kind, _ in answers()]
    assert kinds == ["facility.registered", "capacity.changed", "referral.accepted", "capacity.changed",
                     "referral.rejected", "capacity.changed"]
    rejected, freed = (json.loads(body)["payload"] for _, body in answers()[4:])
    assert rejected["reason_code"] == "reservation_expired" and rejected["referral_id"] == referral
    assert freed["units"][0]["free"] == 1
    engine.dispose()
    late = requests.post(url + "/admission", json={"admitted_on": "2026-01-05"}, headers=manager)
    assert late.status_code == 409 and late.json()["error"]["code"] == "reservation_expired"
    listed = requests.get(node.url(NODE, "/api/v1/referrals"), params={"status": "expired"}, headers=manager).json()
    assert [r["referral_id"] for r in listed] == [referral]
