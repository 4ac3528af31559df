"""Issue 13's first journey, in a real browser on a phone-sized screen, every page checked by axe:
a social worker at 6371 registers a person, assesses them, records their consent and refers them
to the provincial panti chosen from the directory of free beds; at node 63 the panti's manager reads
the sealed dossier, accepts the referral into a unit and records the arrival; back at 6371 the case
shows the person admitted. The dossier is readable at 63 and nowhere else: not at the bystander
6303, not in any of the hub's files."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import pytest
import requests

from rehsos import auth
from tests.browser import Tab, chromium, navigate  # noqa: F401 - the fixture
from tests.province.test_referral import PANTI
from tests.support import wait_until

pytestmark = pytest.mark.timeout(300)
NAME, NIK = "Jumransyah Bin Abdul Gani", "6371041508790003"


@pytest.fixture
def province(make_province):
    province = make_province(["6371", "63", "6303"])
    manager = province.headers("63", auth.FACILITY_MANAGER)
    created = requests.post(province.url("63", "/api/v1/facilities"), json=PANTI, headers=manager, timeout=10)
    assert created.status_code == 201, created.text

    def in_directory():
        answers = requests.get(province.url("6371", "/api/v1/directory"), timeout=5,
                               params={"category": "gelandangan", "sex": "male"},
                               headers=province.headers("6371", auth.OPERATOR)).json()
        return any(a["facility_id"] == PANTI["code"] for a in answers)
    wait_until(in_directory, timeout=60, message="63's panti in 6371's directory of free beds")
    return province


def test_register_assess_consent_refer_accepted_and_admitted_at_63_and_back_at_6371(chromium, province):  # noqa: F811
    worker = Tab(chromium, province, "6371", auth.OPERATOR)
    manager = Tab(chromium, province, "63", auth.FACILITY_MANAGER)
    try:
        # 6371: the person and their case.
        page = worker.page
        worker.check(response=worker.open("/kasus/baru"))
        page.fill("#f-name", NAME)
        page.fill("#f-nik", NIK)
        page.check("input[name=sex][value=male]")
        page.fill("#f-birth_date", "1979-08-15")
        page.select_option("#f-kecamatan", "637104")
        page.select_option("#f-category", "gelandangan")
        navigate(page, "#daftar button[type=submit]")
        assert "Orang dan kasusnya sudah terdaftar." in worker.text(".flash")
        case_path = urlsplit(page.url).path
        worker.check()

        # Assessment by ATENSI component, then consent to the referral.
        page.select_option("form[action$=tahap] select[name=stage]", "asesmen")
        navigate(page, "form[action$=tahap] button[type=submit]")
        page.fill("#f-needs-terapi", "Pendampingan psikososial")
        page.check("input[name=risk_level][value=medium]")
        page.fill("#f-recommendation", "Rujuk ke panti sosial provinsi")
        navigate(page, "form[action$=asesmen] button[type=submit]")
        assert worker.text(".flash") == "Asesmen dicatat."
        page.select_option("#f-purpose", "referral")
        page.select_option("#f-legal_basis", "consent")
        page.check("form[action$=persetujuan] input[name=given_by][value=person]")
        navigate(page, "form[action$=persetujuan] button[type=submit]")
        assert worker.text(".flash") == "Persetujuan dicatat."
        worker.check()

        # The referral, to 63's panti from the directory of free beds.
        navigate(page, "a[href$=rujuk]")
        worker.check()
        page.locator("tr", has_text=PANTI["name"]).locator("input[type=radio]").check()
        navigate(page, "main form button[type=submit]")
        assert "Menunggu jawaban panti" in worker.text()

        # 63: the referral in the manager's inbox; its dossier says who is coming.
        def in_inbox():
            manager.open("/panti")
            link = manager.page.locator("a[href^='/panti/rujukan/']").first
            return link.get_attribute("href") if link.count() else None
        referral_path = wait_until(in_inbox, timeout=30, interval=0.5, message="the referral in 63's inbox")
        referral_id = referral_path.rsplit("/", 1)[1]
        manager.check()

        def dossier_arrived():
            manager.open(f"{referral_path}/dossier")
            return NAME in manager.text()
        wait_until(dossier_arrived, timeout=30, interval=0.5, message="the dossier at 63")
        assert NIK in manager.text()
        manager.check()

        manager.open(referral_path)
        manager.page.select_option("#f-unit", "Wisma Laki-laki")
        manager.page.fill("#f-reserved_days", "3")
        navigate(manager.page, "form[action$='/terima'] button[type=submit]")
        assert "Rujukan diterima" in manager.text("[role=status]")
        manager.page.fill("#f-admitted_on", date.today().isoformat())
        navigate(manager.page, "form[action$='/masuk-panti'] button[type=submit]")
        assert "Kedatangan dicatat" in manager.text("[role=status]")
        manager.check()

        # Back at 6371: the case shows the person admitted.
        def admitted():
            worker.open(case_path)
            return "Sudah masuk panti" in worker.text()
        wait_until(admitted, timeout=30, interval=0.5, message="the admission on 6371's case page")
        worker.check()

        # Only at 63: the bystander has no dossier, the hub's files hold neither name nor NIK.
        bystander = requests.get(province.url("6303", f"/api/v1/referrals/{referral_id}/dossier"), timeout=5,
                                 headers=province.headers("6303", auth.FACILITY_MANAGER))
        assert bystander.status_code == 404
        hub_files = [p.read_bytes() for p in (province.paths.data / "hub").iterdir()]
        assert any(referral_id.encode() in data for data in hub_files)  # the scan reads where the hub writes
        assert not [1 for data in hub_files if NAME.encode() in data or NIK.encode() in data]
    finally:
        worker.close()
        manager.close()
