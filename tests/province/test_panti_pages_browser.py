"""The panti manager's pages in a real browser (Debian's chromium, driven by playwright): referrals
from 6371 arrive in 63's inbox; the manager opens one, reads its dossier, accepts it into a unit and
records the arrival; occupancy and planned centres show; an operator at 6371 finds the panti in
the directory of free beds. Every page loads under its Content-Security-Policy without script, and
axe-core finds no serious or critical WCAG 2.1 AA violation, refused forms included. Without
chromium or playwright this fails: it never skips."""
from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest

from rehsos import auth
from tests.browser import Tab, chromium, navigate  # noqa: F401 - the fixture
from tests.service.test_panti_pages import PANTI, api_get, api_post, refer
from tests.support import wait_until

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def province(shared_province):
    p = shared_province(["6371", "63"])
    if not hasattr(p, "panti"):
        api_post(p, "63", "/api/v1/facilities", PANTI, auth.FACILITY_MANAGER)
        api_post(p, "63", "/api/v1/plans", {"regency": "6301", "name": "Sentra Terpadu Pelaihari", "kind": "sentra",
                                            "categories": ["gelandangan"], "planned_capacity": 40,
                                            "target_year": 2029}, auth.FACILITY_MANAGER)
        p.panti = True
    return p


def test_a_manager_decides_a_referral_reads_its_dossier_and_records_the_arrival(chromium, province):
    referral_id = refer(province)
    wait_until(lambda: api_get(province, "63", f"/api/v1/referrals/{referral_id}/dossier").status_code == 200,
               timeout=20, message="the dossier at node 63")
    tab = Tab(chromium, province, "63", auth.FACILITY_MANAGER)
    try:
        tab.check(response=tab.open("/panti"))
        navigate(tab.page, f"a[href='/panti/rujukan/{referral_id}']")
        assert urlsplit(tab.page.url).path == f"/panti/rujukan/{referral_id}"
        tab.check()

        navigate(tab.page, f"a[href='/panti/rujukan/{referral_id}/dossier']")
        tab.check()
        dossier = tab.page.locator("main").inner_text()
        assert "Rahmat Hidayat" in dossier and "Belum punya tempat tinggal tetap." in dossier
        tab.page.go_back()

        # Refused in the browser: the message beside the field, what was typed kept, still accessible.
        tab.page.fill("#f-reserved_days", "0")
        # The browser's own check (min=1) would stop the form: the server's message is what is tested.
        tab.page.locator("#f-reserved_days").evaluate("e => e.removeAttribute('min')")
        tab.page.select_option("#f-unit", "Wisma Laki-laki")
        navigate(tab.page, "form[action$='/terima'] button[type=submit]")
        assert tab.page.locator("#f-reserved_days-error").inner_text() == "1 sampai 30 hari."
        assert tab.page.locator("#f-reserved_days").input_value() == "0"
        tab.check()

        tab.page.fill("#f-reserved_days", "2")
        navigate(tab.page, "form[action$='/terima'] button[type=submit]")
        assert "Rujukan diterima" in tab.page.locator("[role=status]").inner_text()
        tab.check()
        tab.page.fill("#f-admitted_on", date.today().isoformat())
        navigate(tab.page, "form[action$='/masuk-panti'] button[type=submit]")
        assert "Kedatangan dicatat" in tab.page.locator("[role=status]").inner_text()
        tab.check()
        assert tab.page.locator("#f-discharged_on").count() == 1  # discharge is offered next

        tab.open("/panti")
        beds = tab.page.locator(f"#unit-{PANTI['code']}").inner_text()
        assert "Wisma Laki-laki" in beds and "Penuh" in beds
        assert referral_id[:8] in tab.page.locator("#tabel-penghuni").inner_text()
        tab.check()
    finally:
        tab.context.close()


def test_a_conflict_the_plans_and_a_deleted_dossier_are_said_in_words_and_accessible(chromium, province):
    rejected = refer(province)
    wait_until(lambda: api_get(province, "63", f"/api/v1/referrals/{rejected}/dossier").status_code == 200,
               timeout=20, message="the dossier at node 63")
    api_post(province, "63", f"/api/v1/referrals/{rejected}/reject", {"reason_code": "outside_criteria"},
             auth.FACILITY_MANAGER)
    tab = Tab(chromium, province, "63", auth.FACILITY_MANAGER)
    try:
        response = tab.open(f"/panti/rujukan/{rejected}/dossier")
        tab.check(410, response)
        assert "sudah dihapus" in tab.page.locator("[role=alert]").inner_text()

        waiting = refer(province, sex="female", consent=False)
        tab.open(f"/panti/rujukan/{waiting}")
        tab.check()
        api_post(province, "63", f"/api/v1/referrals/{waiting}/reject",
                 {"reason_code": "other", "note": "Sudah ditangani."}, auth.FACILITY_MANAGER)
        tab.page.select_option("#f-reason_code", "no_bed")
        tab.page.fill("#f-note", "Penolakan kedua dari tab yang lama.")
        navigate(tab.page, "form[action$='/tolak'] button[type=submit]")
        assert "sudah berstatus" in tab.page.locator("[role=alert]").inner_text()
        tab.check()

        tab.check(response=tab.open("/panti/rencana"))
        tab.page.fill("#f-name", "Sentra Baru Kandangan")
        tab.page.select_option("#f-regency", "6306")
        tab.page.select_option("#f-kind", "panti")
        tab.page.fill("#f-planned_capacity", "30")
        tab.page.fill("#f-target_year", "2031")
        navigate(tab.page, "form[action='/panti/rencana'] button[type=submit]")
        assert "Pilih sedikitnya satu kategori PPKS." in tab.page.locator("#f-categories-error").inner_text()
        assert tab.page.locator("#f-name").input_value() == "Sentra Baru Kandangan"
        tab.check()
        tab.page.check("input[name=categories][value=gelandangan]")
        navigate(tab.page, "form[action='/panti/rencana'] button[type=submit]")
        assert "diusulkan" in tab.page.locator("[role=status]").inner_text()
        tab.check()
    finally:
        tab.context.close()


def test_an_operator_finds_free_beds_in_the_directory_and_is_offered_to_refer_a_case(chromium, province):
    tab = Tab(chromium, province, "6371", auth.OPERATOR)
    try:
        tab.check(response=tab.open("/tempat-tidur"))
        case_id = "3f2c1a9e-0000-4000-8000-000000000002"
        path = f"/tempat-tidur?kasus={case_id}&category=gelandangan&sex=female"
        wait_until(lambda: PANTI["name"] in tab.open(path).text() or None, timeout=20,
                   message="the panti in 6371's directory")
        tab.check()
        row = tab.page.locator("#tabel-tempat-tidur tbody tr", has_text=PANTI["name"])
        assert "lalu" in row.inner_text() or "baru saja" in row.inner_text()
        assert row.locator("a").get_attribute("href") == f"/kasus/{case_id}/rujuk?fasilitas={PANTI['code']}"
        # The form keeps the case while the filter changes.
        tab.page.select_option("#f-category", "pengemis")
        navigate(tab.page, "form.card button[type=submit]")
        assert f"kasus={case_id}" in tab.page.url
        tab.check()
        response = tab.open("/tempat-tidur?category=bukan&sex=female")
        tab.check(422, response)
        assert "Kategori PPKS tidak dikenal." in tab.page.locator("#f-category-error").inner_text()
    finally:
        tab.context.close()
