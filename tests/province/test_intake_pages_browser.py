"""Intake's pages in a real browser (Debian's chromium, driven by playwright) at node 6371 of a
province with the hub and node 63: a person registered with a likely duplicate shown first, consent,
assessment, a referral to 63's panti chosen from the directory of free beds, and the panti's answer
(given at 63 through its API) arriving on the case page. Every page loads under its policy without
script, and axe-core finds no serious or critical WCAG 2.1 AA violation. Without chromium or
playwright this fails: it never skips."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from rehsos import auth
from tests.browser import Tab, chromium, navigate  # noqa: F401 - the fixture
from tests.province.test_referral import PANTI
from tests.support import case_body, wait_until

pytestmark = pytest.mark.timeout(300)
NODE = "6371"


@pytest.fixture(scope="module")
def province(broker, tmp_path_factory):
    from tests.support import Province

    province = Province(tmp_path_factory.mktemp("intake-pages"), [NODE, "63"]).start()
    try:
        manager = province.headers("63", auth.FACILITY_MANAGER)
        created = requests.post(province.url("63", "/api/v1/facilities"), json=PANTI, headers=manager, timeout=10)
        assert created.status_code == 201, created.text

        def in_directory():
            answers = requests.get(province.url(NODE, "/api/v1/directory"), timeout=5,
                                   params={"category": "gelandangan", "sex": "male"},
                                   headers=province.headers(NODE, auth.OPERATOR)).json()
            return any(a["facility_id"] == PANTI["code"] for a in answers)
        wait_until(in_directory, timeout=60, message="63's panti in 6371's directory of free beds")
        yield province
    finally:
        province.close()


@pytest.fixture
def tab(chromium, province):
    tab = Tab(chromium, province, NODE, auth.OPERATOR)
    yield tab
    tab.context.close()


def test_register_with_a_duplicate_shown_consent_assess_refer_and_see_it_accepted(tab, province):
    existing = province.register(NODE, case_body(name="Muhammad Rizky Pratama", nik=None, birth_date="1990-04-02"))
    assert existing.status_code == 201, existing.text
    page = tab.page

    # A refused registration: the messages beside the fields, what was typed kept.
    tab.open("/kasus/baru")
    tab.check()
    page.fill("#f-name", "Muhamad Rizki Pratama")
    page.check("input[name=sex][value=male]")
    page.fill("#f-estimated_age", "150")
    page.select_option("#f-kecamatan", "637103")
    page.select_option("#f-category", "gelandangan")
    navigate(page, "#daftar button[type=submit]")
    tab.check()
    assert "0 sampai 120" in page.locator("#f-estimated_age-error").inner_text()
    assert page.locator("#f-name").input_value() == "Muhamad Rizki Pratama"

    # The likely duplicate shown before saving; this is someone else: saved as a new person.
    page.fill("#f-estimated_age", "36")
    navigate(page, "#daftar button[type=submit]")
    assert "Mungkin sudah terdaftar" in page.locator("main").inner_text()
    assert existing.json()["person"]["registration_no"] in page.locator("table").inner_text()
    tab.check()
    page.click("button[name=keputusan][value=baru]")
    assert "Orang dan kasusnya sudah terdaftar." in page.locator(".flash").inner_text()
    case_path = urlsplit(page.url).path
    case_id = case_path.rsplit("/", 1)[1]
    tab.check()

    # Consent for referral, by the person.
    page.select_option("#f-purpose", "referral")
    page.select_option("#f-legal_basis", "consent")
    page.check("form[action$=persetujuan] input[name=given_by][value=person]")
    navigate(page, "form[action$=persetujuan] button[type=submit]")
    assert page.locator(".flash").inner_text() == "Persetujuan dicatat."

    # To asesmen, then the assessment by ATENSI component.
    page.select_option("form[action$=tahap] select[name=stage]", "asesmen")
    navigate(page, "form[action$=tahap] button[type=submit]")
    page.fill("#f-needs-terapi", "Pendampingan psikososial, trauma di jalanan")
    page.fill("#f-needs-dukungan_keluarga", "Penelusuran keluarga di Kapuas")
    page.check("input[name=risk_level][value=medium]")
    page.fill("#f-recommendation", "Rujuk ke panti sosial provinsi")
    navigate(page, "form[action$=asesmen] button[type=submit]")
    assert page.locator(".flash").inner_text() == "Asesmen dicatat."
    assert "Asesmen dicatat: risiko Sedang" in page.locator("#riwayat + ol").inner_text()
    tab.check()

    # The referral: 63's panti chosen from the directory of free beds, with the age of its data.
    navigate(page, "a[href$=rujuk]")
    tab.check()
    row = page.locator("tr", has_text=PANTI["name"])
    assert "detik" in row.inner_text() or "menit" in row.inner_text()
    assert "data lama" not in row.inner_text()
    row.locator("input[type=radio]").check()
    navigate(page, "main form button[type=submit]")
    assert urlsplit(page.url).path == case_path
    assert "Menunggu jawaban panti" in page.locator("main").inner_text()
    tab.check()

    # The panti's manager at 63 accepts it through the API; the answer arrives on the case page.
    manager = province.headers("63", auth.FACILITY_MANAGER)

    def at_63():
        rows = requests.get(province.url("63", "/api/v1/referrals?status=requested"), headers=manager, timeout=5).json()
        return next((r for r in rows if r["case_id"] == case_id), None)
    referral = wait_until(at_63, timeout=30, message="the referral at node 63")
    accepted = requests.post(province.url("63", f"/api/v1/referrals/{referral['referral_id']}/accept"),
                             json={"unit": "Wisma Laki-laki"}, headers=manager, timeout=5)
    assert accepted.status_code == 200, accepted.text

    def answered():
        tab.open(case_path)
        return "Diterima (tempat tidur dipesan)" in page.locator("main").inner_text()
    wait_until(answered, timeout=30, interval=0.5, message="the acceptance on the case page")
    assert f"Rujukan diterima oleh {PANTI['code']}" in page.locator("#riwayat + ol").inner_text()
    tab.check()


def test_the_caseload_and_a_refused_search_are_accessible(tab, province):
    province.register(NODE, case_body(name="Siti Rahmah Halaman", nik=None, sex="female"))
    tab.check(response=tab.open("/kasus?q=Rahmah"))
    assert "Siti Rahmah Halaman" in tab.page.locator("table").inner_text()
    refused = tab.open("/kasus?q=1")
    tab.check(422, refused)
    assert tab.page.locator("#f-q-error").inner_text()
