"""The trainer's journey in a real browser (Debian's chromium, driven by playwright), across two
nodes and the hub: a Bimtek created at the province (63), nominated for from Banjarmasin (6371),
a walk-in registered, check-in on two days (a code typed as a phone's camera would fill it, and a
tick from the list), an offline batch, the post-test, completion, the certificate PDF, and its
number checked on the public page. Every page loads without script under its policy, and axe-core
finds no serious or critical WCAG 2.1 AA violation. Without chromium or playwright this fails."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from rehsos import auth
from tests.browser import PHONE, WCAG_21_AA, Tab, chromium, navigate, serious  # noqa: F401 - the fixture
from tests.support import wait_until

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def province(make_province):
    return make_province(["63", "6371"])


class Person(Tab):
    """A signed-in browser tab at a node (desktop-sized unless told); every page it reaches is
    checked by :meth:`checked`."""

    def __init__(self, browser, province, node: str, role: str, viewport=None):
        super().__init__(browser, province, node, role, viewport=viewport)
        self.page.set_default_timeout(20_000)  # a step that cannot happen fails, well within the test's time

    def open(self, path: str, status: int = 200):
        response = self.page.goto(self.province.url(self.node, path))
        assert response.status == status, (path, response.status)
        return self.checked()

    def checked(self):
        """The page as it stands: Indonesian, one h1, no script, nothing blocked, axe satisfied."""
        from axe_playwright_python.sync_playwright import Axe

        page = self.page
        assert page.locator("html").get_attribute("lang") == "id"
        assert page.locator("h1").count() == 1 and page.locator("script").count() == 0
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert serious(results.response["violations"]) == [], page.url
        assert self.blocked == []
        return page

    def submit(self, form: str):
        # The click does not wait for its navigation (tests.browser.navigate says why).
        navigate(self.page, f"{form} button[type=submit]")
        return self.checked()

    def close(self):
        self.context.close()


def test_a_bimtek_from_creation_to_a_verified_certificate(chromium, province):
    trainer = Person(chromium, province, "63", auth.TRAINER)
    page = trainer.open("/pelatihan")
    navigate(page, "text=Buat kegiatan baru")
    trainer.checked()

    # Refused first (the end before the start), with the message beside the field and the rest kept.
    page.select_option("#f-kind", "bimtek")
    page.fill("#f-title", "Bimtek Pelayanan Tuna Sosial")
    page.fill("#f-theme", "Pelayanan tuna sosial")
    page.fill("#f-venue", "Aula Dinas Sosial Provinsi")
    page.fill("#f-start_date", "2024-12-04")
    page.fill("#f-end_date", "2024-12-03")
    page.fill("#f-quota", "3")
    page.fill("#f-regency_quotas-6371", "2")
    page.check("input[name=target_roles][value=pekerja_sosial]")
    page.select_option("#f-min_attendance", "1.0")
    page.fill("#f-min_post_score", "60")
    trainer.submit("form.card")
    assert "tidak boleh sebelum tanggal mulai" in page.locator("#f-end_date-error").inner_text()
    assert page.locator("#f-title").input_value() == "Bimtek Pelayanan Tuna Sosial"
    assert page.locator("#f-regency_quotas-6371").input_value() == "2"
    page.fill("#f-end_date", "2024-12-05")
    trainer.submit("form.card")
    assert "Kegiatan dibuat sebagai draf" in page.locator(".flash").inner_text()
    event_path = urlsplit(page.url).path

    # Speaker, agenda, then open for nominations.
    page.fill("#f-name", "Dr. Siti Rahmah")
    page.fill("#f-institution", "HIMPSI Kalsel")
    trainer.submit("form[action$='/narasumber']")
    page.select_option("#f-day", "2024-12-04")
    page.fill("#f-starts_at", "08:00")
    page.fill("#f-ends_at", "12:00")
    page.fill("#f-topic", "Asesmen ATENSI")
    page.check("input[name=speaker_ids]")
    trainer.submit("form[action$='/agenda']")
    assert "Asesmen ATENSI" in page.locator("#tabel-agenda").inner_text()
    trainer.submit("form:has(button:text('Buka pendaftaran'))")
    assert page.locator("#status-kegiatan").inner_text().startswith("Pendaftaran dibuka")

    # At Banjarmasin, the invitation arrives; an operator nominates, on a phone-sized screen.
    operator = Person(chromium, province, "6371", auth.OPERATOR, viewport=PHONE)
    event_id = event_path.rsplit("/", 1)[1]
    wait_until(lambda: operator.open("/pelatihan").locator(f"a[href='/pelatihan/undangan/{event_id}']").count(),
               timeout=30, interval=0.5, message="the invitation at 6371")
    page6371 = operator.page
    navigate(page6371, f"a[href='/pelatihan/undangan/{event_id}']")
    operator.checked()
    for selector, value in (("#f-name", "Rahmawati Nor"), ("#f-position", "Pekerja Sosial Ahli Pertama"),
                            ("#f-office", "Dinas Sosial Kota Banjarmasin"), ("#f-phone", "081234567890")):
        page6371.fill(selector, value)
    page6371.select_option("#f-regency", "6371")
    page6371.select_option("#f-role", "pekerja_sosial")
    operator.submit("form.card")
    assert "Usulan peserta dikirim" in page6371.locator(".flash").inner_text()
    invitation = f"/pelatihan/undangan/{event_id}"
    wait_until(lambda: operator.open(invitation).locator("#tabel-usulan code").count(), timeout=30, interval=0.5,
               message="the organiser's answer at 6371")
    code = page6371.locator("#tabel-usulan code").inner_text()
    assert "Terdaftar" in page6371.locator("#tabel-usulan").inner_text()

    # At the province: the nominee is there; a walk-in from the province office is registered.
    page = trainer.open(event_path + "/peserta")
    assert "usulan Kota Banjarmasin" in page.locator("#tabel-registered").inner_text()
    page.fill("#f-name", "Budi Santoso")
    page.fill("#f-position", "Pekerja Sosial Ahli Muda")
    page.fill("#f-office", "Dinas Sosial Provinsi")
    page.select_option("#f-regency", "6371")
    page.select_option("#f-role", "pekerja_sosial")
    trainer.submit("form[action$='/peserta']")
    assert page.locator("#tabel-registered tbody tr").count() == 2
    trainer.open(event_path)
    trainer.submit("form:has(button:text('Mulai kegiatan'))")

    # Check-in on a phone: day 1 by the code (typed lower case, as a camera may fill it), twice.
    desk = Person(chromium, province, "63", auth.TRAINER, viewport=PHONE)
    page = desk.open(event_path + "/presensi?hari=2024-12-04")
    page.fill("#f-code", code.lower())
    desk.submit("form[method=post]:has(#f-code)")
    assert "Presensi Rahmawati Nor tercatat untuk 4 Desember 2024." in page.locator("#hasil-presensi").inner_text()
    page.fill("#f-code", code)
    desk.submit("form[method=post]:has(#f-code)")
    assert "Rahmawati Nor sudah hadir pada 4 Desember 2024" in page.locator("#hasil-presensi").inner_text()
    # Day 2: chosen, then ticked from the list.
    page.select_option("#pilih-hari", "2024-12-05")
    desk.submit("form[method=get]")
    desk.submit("form:has(button[aria-label='Tandai hadir: Rahmawati Nor'])")
    assert "tercatat untuk 5 Desember 2024" in page.locator("#hasil-presensi").inner_text()
    assert "1" in page.locator("#jumlah-hadir strong").inner_text()

    # Budi's two days come from the venue's offline list, uploaded as CSV.
    budi_code = re.search(r"Budi Santoso.*?<code>([A-Z0-9]{8})</code>",
                          trainer.open(event_path + "/peserta").content(), re.S).group(1)
    page = trainer.open(event_path + "/presensi/unggah")
    page.set_input_files("#f-file", files=[{"name": "presensi.csv", "mimeType": "text/csv",
                                             "buffer": f"code,day\n{budi_code},2024-12-04\n{budi_code},2024-12-05\n"
                                                       f"{code},2024-12-05\n".encode()}])
    trainer.submit("form[enctype]")
    assert "2 presensi dicatat, 1 sudah tercatat sebelumnya, 0 bermasalah." in page.locator(
        "#ringkasan-unggahan").inner_text()

    # Post-test: Rahmawati passes the rule (60), Budi does not.
    page = trainer.open(event_path + "/nilai")
    scores = page.locator("#tabel-nilai")
    scores.get_by_label("Pre-test Rahmawati Nor").fill("45")
    scores.get_by_label("Post-test Rahmawati Nor").fill("80")
    scores.get_by_label("Post-test Budi Santoso").fill("50")
    trainer.submit("form:has(#tabel-nilai)")
    assert "Nilai disimpan." in page.locator(".flash").inner_text()
    trainer.open(event_path)
    trainer.submit("form:has(button:text('Selesaikan kegiatan'))")
    assert page.locator("#status-kegiatan").inner_text().startswith("Selesai")

    # The certificate: downloaded as a PDF from the participants' page, then verified in public.
    page = trainer.open(event_path + "/peserta")
    number = page.locator(".nomor-sertifikat").inner_text()
    assert page.locator(".nomor-sertifikat").count() == 1
    link = page.locator("a", has_text="Unduh sertifikat Rahmawati Nor (PDF)").get_attribute("href")
    pdf = trainer.context.request.get(province.url("63", link))  # the tab's session cookie goes with it
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")
    public = chromium.new_context()
    try:
        check = public.new_page()
        response = check.goto(province.url("63", f"/verifikasi/{number}"))
        assert response.status == 200
        assert "Sertifikat sah" in check.locator("h2").inner_text()
        assert "Rahmawati Nor" in check.locator("dl").inner_text()
        from axe_playwright_python.sync_playwright import Axe
        assert serious(Axe().run(check, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
                       .response["violations"]) == []
    finally:
        public.close()

    # And Banjarmasin's list shows the event completed.
    assert "Selesai" in wait_until(
        lambda: (lambda t: t if "Selesai" in t else None)(operator.open("/pelatihan").locator("#tabel-undangan")
                                                            .inner_text()), timeout=30, interval=0.5,
        message="the completion at 6371")
    for person in (trainer, operator, desk):
        person.close()
