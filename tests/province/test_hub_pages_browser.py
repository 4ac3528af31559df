"""The hub's pages in a real browser (Debian's chromium, driven by playwright) on a province with
demo data: every page loads under its Content-Security-Policy, shows the API's figures, changes
them with the filters (which the address carries), and axe-core finds no serious or critical
WCAG 2.1 AA violation. Without chromium or playwright this fails: it never skips."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from rehsos import auth, indonesian, reference
from rehsos_tools import demo, demo_training
from tests.support import Province, wait_until

CHROMIUM = Path("/usr/bin/chromium")
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CASES_PER_NODE = 12
# Seeding two nodes through their APIs takes a while on a busy 2-core machine; it counts for the first test.
pytestmark = pytest.mark.timeout(300)
PAGES = ["/", "/kabupaten/6371", "/kabupaten/6309", "/fasilitas", "/pelatihan", "/sinkronisasi",
         "/?kabupaten=6371&kategori=gelandangan", "/fasilitas?kategori=penyandang_disabilitas",
         "/pelatihan?dari=2024-01&sampai=2024-12", "/sinkronisasi?kabupaten=6371"]


@pytest.fixture(scope="module")
def hub(broker, tmp_path_factory):
    """Nodes 63 and 6371 with demo cases, facilities, plans, referrals and trainings, all at the hub."""
    root = tmp_path_factory.mktemp("hub-pages")
    province = Province(root, ["63", "6371"]).start()
    try:
        created = 0
        for node in ("63", "6371"):
            cases, _ = demo.seed(province.settings[node].base_url, province.tokens[node], node, root / f"seeded-{node}",
                                 CASES_PER_NODE, province_running=True)
            created += cases
        assert demo_training.seed(province.settings["63"].base_url, province.tokens["63"][auth.TRAINER]) == 3
        wait_until(lambda: province.hub_cases() == created, timeout=60, message="demo cases at the hub")
        wait_until(lambda: len(api(province, "/api/v1/training")["events"]) == 3, timeout=60,
                   message="demo trainings at the hub")
        wait_until(lambda: api(province, "/api/v1/capacity-plan")["plans"], timeout=60, message="plans at the hub")
        yield province
    finally:
        province.close()


def api(province, path, **params):
    resp = requests.get(province.url("hub", path), params=params, headers=province.headers("hub", auth.ANALYST),
                        timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does it when root)")
    from playwright.sync_api import sync_playwright  # a test extra: missing, this is an error, not a skip

    # Not stopped afterwards: in this eventlet-patched process playwright's stop() waits forever for
    # its driver to exit. The driver ends with the test process (its stdin closes).
    playwright = sync_playwright().start()
    # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield browser
    browser.close()


class Tab:
    """A signed-in browser tab that records what the page's policy blocked."""

    def __init__(self, browser, province):
        self.province = province
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.blocked: list[str] = []
        self.page.on("console", lambda msg: self.blocked.append(msg.text)
                     if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
        self.page.goto(province.url("hub", "/masuk"))
        self.page.fill("#token", province.tokens["hub"][auth.ANALYST])
        self.page.click("form.card button[type=submit]")
        assert urlsplit(self.page.url).path == "/"

    def open(self, path: str):
        response = self.page.goto(self.province.url("hub", path))
        return response

    def rows(self, table_id: str) -> list[tuple[str, list[str]]]:
        """A table's rows: the heading cell's text and the texts of the other cells."""
        return [(row.locator("th").first.inner_text().strip(),
                 [cell.inner_text().strip() for cell in row.locator("td").all()])
                for row in self.page.locator(f"#{table_id} tbody tr").all()]

    def table(self, table_id: str) -> dict[str, list[str]]:
        rows = self.rows(table_id)
        assert len({heading for heading, _ in rows}) == len(rows), rows
        return dict(rows)

    def headers(self, table_id: str) -> list[str]:
        return [h.inner_text().strip() for h in self.page.locator(f"#{table_id} thead th").all()]

    def column(self, table_id: str, header: str) -> dict[str, str]:
        index = self.headers(table_id).index(header) - 1  # the first header heads the row headings
        return {name: cells[index] for name, cells in self.table(table_id).items()}


@pytest.fixture(scope="module")
def tab(chromium, hub):
    tab = Tab(chromium, hub)
    yield tab
    tab.context.close()


def number(text: str) -> int:
    """``1.234`` as an Indonesian reader writes it."""
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*", text), text
    return int(text.replace(".", ""))


def serious(violations: list[dict]) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
            for v in violations if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_under_its_policy_and_axe_finds_no_serious_or_critical_violation(tab, path):
    from axe_playwright_python.sync_playwright import Axe

    tab.blocked.clear()
    response = tab.open(path)
    assert response.status == 200
    assert tab.page.locator("html").get_attribute("lang") == "id"
    assert tab.page.locator("h1").count() == 1
    assert tab.page.locator("script").count() == 0  # no script, inline or fetched
    for chart in tab.page.locator("figure svg").all():
        assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-labelledby")
    results = Axe().run(tab.page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    assert serious(results.response["violations"]) == []
    assert tab.blocked == []  # the page's own styles are admitted by their hashes; nothing else was tried


def test_the_sign_in_and_a_refused_filter_page_are_accessible_too(chromium, hub):
    from axe_playwright_python.sync_playwright import Axe

    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(hub.url("hub", "/masuk"))
        assert serious(Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
                       .response["violations"]) == []
        page.fill("#token", hub.tokens["hub"][auth.ADMIN])
        page.click("form.card button[type=submit]")
        response = page.goto(hub.url("hub", "/?dari=2026-13&sampai=2025-01&kategori=bukan"))
        assert response.status == 422
        alert = page.locator("[role=alert]").inner_text()
        assert "Gunakan format TTTT-BB" in alert and "Kategori PPKS tidak dikenal" in alert
        assert page.locator("#f-dari").input_value() == ""  # a browser's month field cannot hold 2026-13
        assert serious(Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
                       .response["violations"]) == []
    finally:
        context.close()


def test_the_overview_shows_the_apis_figures_in_indonesian_format(tab, hub):
    summary = api(hub, "/api/v1/summary")
    plan = api(hub, "/api/v1/capacity-plan")
    tab.open("/")
    kpi = tab.page.locator("ul.kpi").inner_text()
    assert f"Jumlah kasus terdaftar: {indonesian.number(summary['total_cases'])}" in kpi
    cases = tab.column("tabel-kasus", "Jumlah")
    assert {name: number(n) for name, n in cases.items()} == {
        indonesian.region_label(r["regency"]): r["cases"] for r in summary["by_regency"]}
    assert sum(number(n) for n in cases.values()) == summary["total_cases"] > 0
    capacity = tab.table("tabel-kapasitas")
    headers = tab.headers("tabel-kapasitas")[1:]
    for row in plan["regencies"]:
        shown = dict(zip(headers, capacity[indonesian.region_label(row["regency"])]))
        assert (number(shown["Kasus aktif"]), number(shown["Menunggu panti"]), number(shown["Tempat tidur"]),
                number(shown["Rencana (tempat tidur)"]), number(shown["Kekurangan"])) == (
            row["open_cases"], row["waiting"], row["beds"], row["planned_beds"], row["shortfall"])
    assert {p["name"] for p in plan["plans"]} == set(tab.table("tabel-rencana"))
    # The chart carries the same numbers as its table, in its text alternative.
    banjarmasin = summary["by_regency"][list(reference.REGENCIES).index("6371")]["cases"]
    assert f"tertinggi {indonesian.number(banjarmasin)} (Kota Banjarmasin)" in tab.page.locator(
        "#grafik-1-uraian").text_content()


def test_the_filters_change_the_figures_and_the_address_carries_them(tab, hub):
    summary = api(hub, "/api/v1/summary")
    tab.open("/")
    tab.page.select_option("#f-kategori", "gelandangan")
    tab.page.select_option("#f-kabupaten", "6371")
    tab.page.click("form.filters button[type=submit]")
    query = parse_qs(urlsplit(tab.page.url).query)
    assert query == {"kategori": ["gelandangan"], "kabupaten": ["6371"]}
    banjarmasin = next(r for r in summary["by_regency"] if r["regency"] == "6371")
    shown = tab.column("tabel-kasus", "Jumlah")
    assert shown == {"Kota Banjarmasin": indonesian.number(banjarmasin["by_category"].get("gelandangan", 0))}
    assert number(tab.page.locator("#kasus-tersaring").inner_text()) == banjarmasin["by_category"]["gelandangan"]
    plan = api(hub, "/api/v1/capacity-plan", category="gelandangan")
    row = next(r for r in plan["regencies"] if r["regency"] == "6371")
    assert number(tab.column("tabel-kapasitas", "Kasus aktif")["Kota Banjarmasin"]) == row["open_cases"]
    # The same address in another tab shows the same view: the filters live in the URL only.
    shared = tab.context.new_page()
    try:
        shared.goto(tab.page.url)
        assert shared.locator("#f-kategori").input_value() == "gelandangan"
        assert shared.locator("#kasus-tersaring").inner_text() == tab.page.locator("#kasus-tersaring").inner_text()
    finally:
        shared.close()
    # The menu keeps the period and category, not the regency, when going to another page.
    href = tab.page.locator("nav.main a", has_text="Fasilitas").get_attribute("href")
    assert href == "/fasilitas?kategori=gelandangan"


def test_the_regency_page_shows_its_own_figures(tab, hub):
    summary = api(hub, "/api/v1/summary")
    plan = api(hub, "/api/v1/capacity-plan")
    tab.open("/kabupaten/6371")
    regency = next(r for r in summary["by_regency"] if r["regency"] == "6371")
    assert number(tab.page.locator("#kasus-kabupaten").inner_text()) == regency["cases"]
    names = {c["category"]: c["name"] for c in summary["by_category"]}
    assert {k: number(v) for k, v in tab.column("tabel-kategori", "Jumlah").items()} == {
        names[c]: n for c, n in regency["by_category"].items()}
    capacity = next(r for r in plan["regencies"] if r["regency"] == "6371")
    cells = [number(c) for c in tab.page.locator("#tabel-kapasitas tbody td").all_inner_texts()]
    assert cells == [capacity[k] for k in ("open_cases", "waiting", "facilities", "beds", "occupied", "free",
                                           "planned_beds", "shortfall")]
    assert {name for name, _ in tab.rows("tabel-aliran")} == {"Kota Banjarmasin (6371)"}
    assert tab.open("/kabupaten/9999").status == 404


def test_facilities_training_and_sync_pages_show_the_apis_figures(tab, hub):
    plan = api(hub, "/api/v1/capacity-plan", category="penyandang_disabilitas")
    tab.open("/fasilitas?kategori=penyandang_disabilitas")
    beds = tab.table("tabel-tempat-tidur")
    headers = tab.headers("tabel-tempat-tidur")[1:]
    for row in plan["regencies"]:
        shown = dict(zip(headers, beds[indonesian.region_label(row["regency"])]))
        assert (number(shown["Tempat tidur"]), number(shown["Terisi"]), number(shown["Kosong"])) == (
            row["beds"], row["occupied"], row["free"])
    assert number(beds["Kota Banjarmasin"][headers.index("Tempat tidur")]) > 0  # Yayasan Daksa Banua

    training = api(hub, "/api/v1/training")
    tab.open("/pelatihan")
    trained = tab.table("tabel-terlatih")
    for row in training["regencies"]:
        if row["regency"] in reference.REGENCIES:
            cells = trained[indonesian.region_label(row["regency"])]
            assert (number(cells[0]), number(cells[1]), number(cells[2])) == (
                row["trained_pekerja_sosial"], row["trained_pendamping_disabilitas"], row["open_cases"])
    assert set(tab.table("tabel-kegiatan")) == {e["title"] for e in training["events"]}
    tab.open("/pelatihan?dari=2030-01&sampai=2030-12")
    assert tab.page.locator("#tabel-kegiatan").count() == 0
    assert "Tidak ada kegiatan pada periode ini." in tab.page.locator("main").inner_text()

    summary = api(hub, "/api/v1/summary")
    tab.open("/sinkronisasi")
    streams = tab.rows("tabel-aliran")
    assert len(streams) == len(summary["streams"])
    assert sum(number(cells[1]) for _, cells in streams) == sum(s["received"] for s in summary["streams"])
    assert number(tab.page.locator("#jumlah-karantina").inner_text()) == summary["quarantined"]
