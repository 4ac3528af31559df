"""The panti manager's pages at node 63 (issue 13): the inbox of referrals from 6371, accept into a
unit with a free bed for the person's sex, reject with a reason, waitlist with the position shown,
admission and discharge; the dossier read from the referral's page (audit-logged, 410 in words once
deleted); occupancy by unit; planned centres; and the province-wide directory of free beds that
operators refer from. Forms refused keep what was typed with the message beside the field; a
conflict (409) is said in words; only managers open the panti's pages."""
from __future__ import annotations

import itertools
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from rehsos import auth
from tests.page_client import PageClient
from tests.support import case_body, wait_until

NODES = ["6371", "63"]
# One bed for men (so the second man finds it taken), five for women; the women's unit is the
# one a man's referral must never be offered.
PANTI = {"code": "prsts-halaman", "name": "PRSTS Budi Halaman", "kind": "panti", "owner": "province",
         "owner_name": "Dinas Sosial Provinsi Kalimantan Selatan", "regency": "6372", "address": "Banjarbaru",
         "categories": ["gelandangan", "pengemis"],
         "units": [{"name": "Wisma Laki-laki", "sex": "male", "capacity": 1},
                   {"name": "Wisma Perempuan", "sex": "female", "capacity": 5}]}
ASSESSMENT = {"needs": {"dukungan_hidup_layak": "Belum punya tempat tinggal tetap."},
              "risk_level": "medium", "recommendation": "Rujuk ke panti."}
SERIAL = itertools.count(1)


@pytest.fixture
def province(shared_province):
    p = shared_province(NODES)
    if not hasattr(p, "panti"):
        api_post(p, "63", "/api/v1/facilities", PANTI, auth.FACILITY_MANAGER)
        p.panti = True
    return p


@pytest.fixture
def manager(province):
    person = PageClient(province, "63")
    person.sign_in(auth.FACILITY_MANAGER)
    return person


def api_post(province, node, path, body, role=auth.OPERATOR):
    resp = requests.post(province.url(node, path), json=body, headers=province.headers(node, role), timeout=10)
    assert resp.status_code in (200, 201), (path, resp.status_code, resp.text)
    return resp.json()


def api_get(province, node, path, role=auth.FACILITY_MANAGER):
    return requests.get(province.url(node, path), headers=province.headers(node, role), timeout=10)


def refer(province, *, sex="male", category="gelandangan", consent=True) -> str:
    """A person registered, assessed and referred at 6371 to the panti at 63; its id once 63 has it."""
    serial = next(SERIAL)
    case = province.register("6371", case_body(nik=f"637105120386{serial:04d}", name=f"Rahmat Hidayat {serial}",
                                                sex=sex, category=category, guardian_name=f"Siti Aminah {serial}",
                                                guardian_relationship="ibu", guardian_phone=f"0812777{serial:05d}"))
    assert case.status_code == 201, case.text
    case = case.json()
    if consent:
        api_post(province, "6371", f"/api/v1/persons/{case['person']['id']}/consents",
                 {"purpose": "referral", "legal_basis": "consent", "given_by": "person"})
    api_post(province, "6371", f"/api/v1/cases/{case['id']}/stage", {"stage": "asesmen"})
    api_post(province, "6371", f"/api/v1/cases/{case['id']}/assessments", ASSESSMENT)
    extra = {} if consent else {"consent_override": "Keadaan darurat, orang tidak sadar (kepentingan vital)."}
    referral = api_post(province, "6371", f"/api/v1/cases/{case['id']}/referrals",
                        {"facility_id": PANTI["code"], "facility_node": "63", **extra}, auth.SUPERVISOR)
    wait_until(lambda: any(r["referral_id"] == referral["id"]
                           for r in api_get(province, "63", "/api/v1/referrals").json()),
               timeout=20, message="the referral at node 63")
    return referral["id"]


def page(referral_id: str) -> str:
    return f"/panti/rujukan/{referral_id}"


def status_of(province, referral_id: str) -> str:
    rows = api_get(province, "63", "/api/v1/referrals").json()
    return next(r["status"] for r in rows if r["referral_id"] == referral_id)


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="f-{field}-error">([^<]*)</p>', html)
    assert match, f"no message beside {field}"
    return match.group(1)


def free_men_bed(province):
    """Free the men's bed for the next test: discharge whoever holds it, through the API."""
    for r in api_get(province, "63", "/api/v1/referrals").json():
        if r["unit_name"] == "Wisma Laki-laki" and r["status"] in ("accepted", "admitted"):
            base = f"/api/v1/referrals/{r['referral_id']}"
            if r["status"] == "accepted":
                api_post(province, "63", base + "/admission", {"admitted_on": date.today().isoformat()},
                         auth.FACILITY_MANAGER)
            api_post(province, "63", base + "/discharge", {"discharged_on": date.today().isoformat(),
                                                          "outcome": "neutral"}, auth.FACILITY_MANAGER)


# -- who may open what -------------------------------------------------------------------------------
def test_only_managers_open_the_panti_pages_and_operators_open_the_directory(province):
    anonymous = requests.get(province.url("63", "/panti"), allow_redirects=False, timeout=5)
    assert anonymous.status_code == 303 and anonymous.headers["Location"] == "/masuk"
    operator = PageClient(province, "63")
    operator.sign_in(auth.OPERATOR)
    assert operator.get("/panti").status_code == 403
    assert operator.get("/panti/rencana").status_code == 403
    assert operator.get("/tempat-tidur").status_code == 200
    supervisor = PageClient(province, "6371")
    supervisor.sign_in(auth.SUPERVISOR)
    assert supervisor.get("/tempat-tidur").status_code == 200
    admin = PageClient(province, "63")
    admin.sign_in(auth.ADMIN)
    assert admin.get("/panti").status_code == 200


def test_a_form_without_the_sessions_csrf_token_is_refused(province, manager):
    referral_id = refer(province, consent=False)
    refused = manager.http.post(manager.url(page(referral_id) + "/tolak"), data={"reason_code": "no_bed"},
                                allow_redirects=False, timeout=10)
    assert refused.status_code == 403
    forged = manager.http.post(manager.url(page(referral_id) + "/tolak"),
                               data={"csrf": "palsu", "reason_code": "no_bed"}, allow_redirects=False, timeout=10)
    assert forged.status_code == 403
    assert status_of(province, referral_id) == "requested"
    # An operator of the node, with a session and its token, still may not decide.
    operator = PageClient(province, "63")
    operator.sign_in(auth.OPERATOR)
    token = re.search(r'name="csrf" value="([^"]*)"', operator.get("/tempat-tidur").text).group(1)
    assert operator.http.post(operator.url(page(referral_id) + "/tolak"), data={"csrf": token, "reason_code": "no_bed"},
                              allow_redirects=False, timeout=10).status_code == 403
    assert status_of(province, referral_id) == "requested"


# -- accept, admit, discharge ------------------------------------------------------------------------
def test_accept_offers_only_units_with_a_free_bed_for_the_persons_sex_then_admit_and_discharge(province, manager):
    free_men_bed(province)
    referral_id = refer(province)
    inbox = manager.get("/panti")
    assert inbox.status_code == 200 and f'href="{page(referral_id)}"' in inbox.text
    assert "Rahmat Hidayat" not in inbox.text  # the inbox names nobody

    shown = manager.get(page(referral_id)).text
    assert '<option value="Wisma Laki-laki"' in shown and '<option value="Wisma Perempuan"' not in shown

    # Refused: the typed value stays, the message is beside the field, nothing is decided.
    refused = manager.submit(page(referral_id) + "/terima", {"unit": "Wisma Laki-laki", "reserved_days": "tiga"},
                             page=page(referral_id))
    assert refused.status_code == 422
    assert field_error(refused.text, "reserved_days") == "Harus berupa bilangan bulat."
    assert 'value="tiga"' in refused.text and "Wisma Laki-laki\" selected" in refused.text
    too_long = manager.submit(page(referral_id) + "/terima", {"unit": "Wisma Laki-laki", "reserved_days": "45"},
                              page=page(referral_id))
    assert too_long.status_code == 422 and field_error(too_long.text, "reserved_days") == "1 sampai 30 hari."
    # A unit for the other sex, sent by hand: the domain's rule, beside the field.
    wrong = manager.submit(page(referral_id) + "/terima", {"unit": "Wisma Perempuan"}, page=page(referral_id))
    assert wrong.status_code == 422 and "bukan male" in field_error(wrong.text, "unit")
    assert status_of(province, referral_id) == "requested"

    accepted = manager.submit(page(referral_id) + "/terima", {"unit": "Wisma Laki-laki", "reserved_days": "2"},
                              page=page(referral_id))
    assert accepted.status_code == 303 and accepted.headers["Location"] == page(referral_id) + "?pesan=diterima"
    after = manager.get(accepted.headers["Location"]).text
    assert "Rujukan diterima" in after and "Diterima, menunggu kedatangan" in after and "Catat kedatangan" in after
    assert status_of(province, referral_id) == "accepted"

    # The men's unit is full now: a second man is offered no unit, and a stale form gets a 409 in words.
    second = refer(province, consent=False)
    shown = manager.get(page(second)).text
    assert "Tidak ada tempat tidur kosong untuk laki-laki" in shown
    assert f'action="{page(second)}/terima"' not in shown
    full = manager.submit(page(second) + "/terima", {"unit": "Wisma Laki-laki"}, page=page(second))
    assert full.status_code == 409 and "Tidak ada tempat tidur kosong di unit Wisma Laki-laki." in full.text
    occupancy = manager.get("/panti").text
    assert "PRSTS Budi Halaman" in occupancy and re.search(r"Wisma Laki-laki</th>.*?Penuh", occupancy, re.S)

    # Admission: a date in the future is refused beside the field and kept; today is taken.
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    future = manager.submit(page(referral_id) + "/masuk-panti", {"admitted_on": tomorrow}, page=page(referral_id))
    assert future.status_code == 422 and "tidak boleh di masa depan" in field_error(future.text, "admitted_on")
    assert f'value="{tomorrow}"' in future.text
    admitted = manager.submit(page(referral_id) + "/masuk-panti", {"admitted_on": date.today().isoformat()},
                              page=page(referral_id))
    assert admitted.status_code == 303 and status_of(province, referral_id) == "admitted"
    assert "Tinggal di panti" in manager.get(page(referral_id)).text

    # Discharge: the outcome is required; then the bed is free and the dossier gone, said in words.
    no_outcome = manager.submit(page(referral_id) + "/keluar-panti", {"discharged_on": date.today().isoformat()},
                                page=page(referral_id))
    assert no_outcome.status_code == 422 and field_error(no_outcome.text, "outcome") == "Wajib diisi."
    done = manager.submit(page(referral_id) + "/keluar-panti",
                          {"discharged_on": date.today().isoformat(), "outcome": "positive"}, page=page(referral_id))
    assert done.status_code == 303 and status_of(province, referral_id) == "discharged"
    gone = manager.get(page(referral_id) + "/dossier")
    assert gone.status_code == 410 and "sudah dihapus" in gone.text and "penerima manfaat sudah keluar" in gone.text
    assert "Rahmat Hidayat" not in gone.text
    # The second man may now be accepted: his page offers the men's unit again.
    assert '<option value="Wisma Laki-laki"' in manager.get(page(second)).text


def test_the_dossier_is_read_from_the_referrals_page_and_every_read_is_audit_logged(province, manager):
    referral_id = refer(province)
    wait_until(lambda: api_get(province, "63", f"/api/v1/referrals/{referral_id}/dossier").status_code == 200,
               timeout=20, message="the dossier at node 63")
    shown = manager.get(page(referral_id)).text
    assert f'href="{page(referral_id)}/dossier"' in shown and "tercatat di log audit" in shown
    assert "Rahmat Hidayat" not in shown  # the referral's page itself opens nothing
    dossier = manager.get(page(referral_id) + "/dossier")
    assert dossier.status_code == 200
    api = api_get(province, "63", f"/api/v1/referrals/{referral_id}/dossier").json()
    for value in (api["name"], api["nik"], api["guardian"]["phone"], "Belum punya tempat tinggal tetap."):
        assert value in dossier.text
    engine = province.engine("63", "facilities")
    try:
        with engine.connect() as conn:
            reads = list(conn.execute(sa.text(
                "SELECT actor, purpose, outcome FROM audit_log WHERE record_id = :id AND action = 'dossier.read' "
                "ORDER BY id"), {"id": referral_id}))
    finally:
        engine.dispose()
    from_page = [r for r in reads if r.purpose == "membaca dossier rujukan dari halaman panti"]
    assert [(r.actor.endswith("uji.facility_manager"), r.outcome) for r in from_page] == [(True, "ok")]

    # Rejected from the page: the dossier is deleted, and its page says so in words.
    rejected = manager.submit(page(referral_id) + "/tolak", {"reason_code": "outside_criteria"},
                              page=page(referral_id))
    assert rejected.status_code == 303
    gone = manager.get(page(referral_id) + "/dossier")
    assert gone.status_code == 410 and "sudah dihapus" in gone.text and "rujukan ditolak" in gone.text
    assert "Dossier sudah dihapus" in manager.get(page(referral_id)).text
    without = refer(province, consent=False)
    none = manager.get(page(without) + "/dossier")
    assert none.status_code == 404 and "tidak mempunyai dossier" in none.text


# -- reject and waitlist -----------------------------------------------------------------------------
def test_reject_needs_a_reason_and_a_second_decision_is_a_conflict_in_words(province, manager):
    referral_id = refer(province, consent=False)
    empty = manager.submit(page(referral_id) + "/tolak", {"reason_code": ""}, page=page(referral_id))
    assert empty.status_code == 422 and field_error(empty.text, "reason_code") == "Wajib diisi."
    short = manager.submit(page(referral_id) + "/tolak", {"reason_code": "other", "note": "no"}, page=page(referral_id))
    assert short.status_code == 422 and "3 sampai 500" in field_error(short.text, "note")
    assert ">no</textarea>" in short.text and '<option value="other" selected>' in short.text
    token_page = manager.get(page(referral_id)).text  # a second tab, opened before the decision
    done = manager.submit(page(referral_id) + "/tolak", {"reason_code": "other", "note": "Panti sedang direnovasi."},
                          page=page(referral_id))
    assert done.status_code == 303
    shown = manager.get(done.headers["Location"]).text
    assert "Rujukan ditolak" in shown and "Alasan lain: hubungi panti" in shown and "Panti sedang direnovasi." in shown
    token = re.search(r'name="csrf" value="([^"]*)"', token_page).group(1)
    again = manager.http.post(manager.url(page(referral_id) + "/daftar-tunggu"), data={"csrf": token},
                              allow_redirects=False, timeout=10)
    assert again.status_code == 409 and "Rujukan ini sudah berstatus rejected." in again.text
    assert status_of(province, referral_id) == "rejected"
    missing = manager.get("/panti/rujukan/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and "Rujukan tidak ditemukan." in missing.text


def test_waitlisted_referrals_show_their_position(province, manager):
    first, second = refer(province, sex="female", consent=False), refer(province, sex="female", consent=False)
    for referral_id in (first, second):
        done = manager.submit(page(referral_id) + "/daftar-tunggu", {}, page=page(referral_id))
        assert done.status_code == 303 and status_of(province, referral_id) == "waitlisted"
    positions = {r: re.search(r"posisi (\d+) di daftar tunggu", manager.get(page(r)).text).group(1)
                 for r in (first, second)}
    assert int(positions[second]) == int(positions[first]) + 1
    inbox = manager.get("/panti").text
    waitlist = inbox.split('id="tabel-daftar-tunggu"')[1].split("</table>")[0]
    assert waitlist.index(first[:8]) < waitlist.index(second[:8])
    # Accepting the first moves the second up.
    accepted = manager.submit(page(first) + "/terima", {"unit": "Wisma Perempuan", "reserved_days": "3"},
                              page=page(first))
    assert accepted.status_code == 303
    moved = re.search(r"posisi (\d+) di daftar tunggu", manager.get(page(second)).text).group(1)
    assert int(moved) == int(positions[second]) - 1


# -- planned centres ---------------------------------------------------------------------------------
def test_plans_are_proposed_and_moved_forward_only(province, manager):
    refused = manager.submit("/panti/rencana", [("name", "Sentra Terpadu Tanah Laut"), ("regency", "6301"),
                                                ("kind", "sentra"), ("planned_capacity", "banyak"),
                                                ("target_year", "2030")])
    assert refused.status_code == 422
    assert field_error(refused.text, "planned_capacity") == "Harus berupa bilangan bulat."
    assert field_error(refused.text, "categories") == "Pilih sedikitnya satu kategori PPKS."
    assert 'value="Sentra Terpadu Tanah Laut"' in refused.text and 'value="banyak"' in refused.text
    proposed = manager.submit("/panti/rencana", [("name", "Sentra Terpadu Tanah Laut"), ("regency", "6301"),
                                                 ("kind", "sentra"), ("categories", "gelandangan"),
                                                 ("categories", "pengemis"), ("planned_capacity", "60"),
                                                 ("target_year", "2030")])
    assert proposed.status_code == 303, proposed.text
    plan_page = proposed.headers["Location"].split("?")[0]
    shown = manager.get(proposed.headers["Location"]).text
    assert "Rencana pusat rehabilitasi diusulkan." in shown and "Usulan" in shown
    assert "Sentra Terpadu Tanah Laut" in manager.get("/panti/rencana").text

    moved = manager.submit(plan_page, {"status": "dibangun", "planned_capacity": "80", "target_year": "2031"})
    assert moved.status_code == 303
    plan = next(p for p in api_get(province, "63", "/api/v1/plans").json() if p["name"] == "Sentra Terpadu Tanah Laut")
    assert (plan["status"], plan["planned_capacity"], plan["target_year"]) == ("dibangun", 80, 2031)
    backwards = manager.submit(plan_page, {"status": "usulan", "planned_capacity": "80", "target_year": "2031"})
    assert backwards.status_code == 409 and "tidak dapat mundur" in backwards.text
    assert '<option value="usulan"' not in manager.get(plan_page).text  # not offered, only refused when sent


# -- the directory -----------------------------------------------------------------------------------
def test_the_directory_finds_free_beds_with_the_age_of_their_data_and_links_a_case_to_refer(province):
    operator = PageClient(province, "6371")
    operator.sign_in(auth.OPERATOR)
    empty = operator.get("/tempat-tidur")
    assert empty.status_code == 200 and 'id="tabel-tempat-tidur"' not in empty.text
    bad = operator.get("/tempat-tidur?category=bukan&sex=female")
    assert bad.status_code == 422 and field_error(bad.text, "category") == "Kategori PPKS tidak dikenal."
    missing = operator.get("/tempat-tidur?category=gelandangan")
    assert missing.status_code == 422 and field_error(missing.text, "sex") == "Wajib diisi."

    def listed():
        text = operator.get("/tempat-tidur?category=pengemis&sex=female").text
        return "PRSTS Budi Halaman" in text and text
    found = wait_until(listed, timeout=20, message="the panti in 6371's directory")
    assert re.search(r"(baru saja|\d+ (menit|jam) lalu)", found) and "data lama: pastikan" not in found
    assert "Rujuk ke sini" not in found
    assert "PRSTS Budi Halaman" not in operator.get("/tempat-tidur?category=lanjut_usia_telantar&sex=female").text

    case_id = "3f2c1a9e-0000-4000-8000-000000000001"
    linked = operator.get(f"/tempat-tidur?kasus={case_id}&category=pengemis&sex=female&regency=6372").text
    assert f'href="/kasus/{case_id}/rujuk?fasilitas={PANTI["code"]}"' in linked
    assert f'name="kasus" value="{case_id}"' in linked and "(wilayah yang sama)" in linked
    assert operator.get("/tempat-tidur?kasus=bukan-kasus&category=pengemis&sex=female").status_code == 422

    # A snapshot older than a week is marked as old.
    engine = province.engine("6371", "facilities")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE capacity_directory SET as_of = :old WHERE facility_id = :code"),
                         {"old": datetime.now(timezone.utc) - timedelta(days=9), "code": PANTI["code"]})
    finally:
        engine.dispose()
    stale = operator.get("/tempat-tidur?category=pengemis&sex=female").text
    assert "9 hari lalu" in stale and "data lama: pastikan" in stale
    answer = requests.get(province.url("6371", "/api/v1/directory?category=pengemis&sex=female"),
                          headers=province.headers("6371", auth.OPERATOR), timeout=10).json()
    assert next(a for a in answer if a["facility_id"] == PANTI["code"])["stale"] is True
