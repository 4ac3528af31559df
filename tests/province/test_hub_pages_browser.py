"""The hub's pages in a real browser (Debian's chromium, driven by playwright) on a province with
demo data and a generated history (a time axis): every page loads under its Content-Security-Policy,
shows the API's figures, changes them with the filters (which the address carries), offers the
monthly report, and axe-core finds no serious or critical WCAG 2.1 AA violation. Without chromium
or playwright this fails: it never skips."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from rehsos import auth, clock, indonesian, reference
from rehsos_tools import demo, demo_training, history
from tests.browser import WCAG_21_AA, chromium, serious, navigate  # noqa: F401 - the fixture
from tests.service.test_hub_figures import publish
from tests.support import Province, wait_until

CASES_PER_NODE = 12
# Seeding two nodes through their APIs takes a while on a busy 2-core machine; it counts for the first test.
pytestmark = pytest.mark.timeout(300)
# The generated history: its last month is the one before this one, so the default period (the last
# twelve months) has months; one regency is silent for a month of it.
LAST = clock.add_months(clock.month_of(clock.now()), -1)
FIRST = clock.add_months(LAST, -17)
SILENT = ("6305", clock.add_months(LAST, -3))
RUNNING = ("63", "6371")  # seeded live through their APIs; the others' history is published as they would
PERIOD = f"dari={clock.add_months(LAST, -5)}&sampai={LAST}"
PAGES = ["/", "/kabupaten/6371", "/kabupaten/6309", "/fasilitas", "/pelatihan", "/sinkronisasi",
         "/?kabupaten=6371&kategori=gelandangan", "/fasilitas?kategori=penyandang_disabilitas",
         "/pelatihan?dari=2024-01&sampai=2024-12", "/sinkronisasi?kabupaten=6371", f"/?{PERIOD}",
         f"/kabupaten/6305?{PERIOD}&kategori=gelandangan", f"/?{PERIOD}&kategori=penyandang_disabilitas"]


@pytest.fixture(scope="module")
def hub(broker, tmp_path_factory):
    """Nodes 63 and 6371 running with demo cases, facilities, plans, referrals and trainings; the
    other regencies' generated history published onto the hub; all applied at the hub."""
    root = tmp_path_factory.mktemp("hub-pages")
    province = Province(root, list(reference.NODES), start_nodes=False).start()
    try:
        for node in RUNNING:
            province.start_runner(node)
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
        # The running nodes' own sequences would collide with their generated ones: only the others.
        generated = history.generate(seed=12, first=FIRST, last=LAST, persons_per_month=0.6, silent=SILENT)
        events = {node: e for node, e in generated.by_node().items() if node not in RUNNING}
        before = province.count("hub", "reporting", "inbox")
        for node, stream in events.items():
            publish(province, node, stream)
        total = before + sum(len(e) for e in events.values())
        wait_until(lambda: province.count("hub", "reporting", "inbox") >= total, timeout=240, interval=0.5,
                   message="the generated history at the hub")
        yield province
    finally:
        province.close()


def api(province, path, **params):
    resp = requests.get(province.url("hub", path), params=params, headers=province.headers("hub", auth.ANALYST),
                        timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


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
        user, password = province.password("hub", auth.ANALYST)
        self.page.fill("#user", user)
        self.page.fill("#password", password)
        navigate(self.page, "form.card:has(#password) button[type=submit]")
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
        page.click("summary:text('Masuk dengan token akses')")  # the token way, folded under the form
        page.fill("#token", hub.tokens["hub"][auth.ADMIN])
        navigate(page, "form.card:has(#token) button[type=submit]")
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
    kpi = tab.page.locator("ul.kpi[aria-label=\"Angka utama\"]").inner_text()
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
    top = max(summary["by_regency"], key=lambda r: r["cases"])
    assert (f"tertinggi {indonesian.number(top['cases'])} ({indonesian.region_label(top['regency'])})"
            in tab.page.locator("#grafik-1-uraian").text_content())


def test_the_filters_change_the_figures_and_the_address_carries_them(tab, hub):
    summary = api(hub, "/api/v1/summary")
    tab.open("/")
    tab.page.select_option("#f-kategori", "gelandangan")
    tab.page.select_option("#f-kabupaten", "6371")
    navigate(tab.page, "form.filters button[type=submit]")
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


# -- the months of the period ------------------------------------------------------------------------
def value(text: str):
    """A cell as the API's value: ``tidak ada data`` is None (never 0); ``1.234,56`` is 1234.56."""
    if text == "tidak ada data":
        return None
    assert re.fullmatch(r"-?\d{1,3}(\.\d{3})*(,\d+)?", text), text
    return float(text.replace(".", "").replace(",", "."))


def rounded(x, decimals=0):
    return None if x is None else round(float(x), decimals)


def column_values(tab, table_id: str, header: str, decimals=0) -> list:
    return [value(v) for v in tab.column(table_id, header).values()]


def test_the_overview_shows_the_months_of_the_period_as_the_api_has_them(tab, hub):
    first, last = clock.add_months(LAST, -5), LAST
    cases = api(hub, "/api/v1/figures/cases", **{"from": first, "to": last})
    trend = api(hub, "/api/v1/figures/tuna-sosial", **{"from": first, "to": last})
    where = api(hub, "/api/v1/figures/where-to-build")
    referrals = api(hub, "/api/v1/figures/referrals", **{"from": first, "to": last})
    tab.open(f"/?{PERIOD}")
    months = [indonesian.month_name(m) for m in cases["months"]]
    assert list(tab.table("tabel-bulanan")) == months
    province = cases["province"]["months"]
    assert column_values(tab, "tabel-bulanan", "Kasus baru") == [rounded(c["new"]) for c in province]
    assert column_values(tab, "tabel-bulanan", "Kasus aktif") == [rounded(c["active"]) for c in province]
    assert sum(column_values(tab, "tabel-bulanan", "Kasus baru")) > 0
    per_10k = tab.column("tabel-per-10000", "Aktif per 10.000")
    assert {k: value(v) for k, v in per_10k.items()} == {
        indonesian.region_label(r["regency"]): rounded(r["months"][-1]["active_per_10k"], 2)
        for r in cases["regencies"]}
    assert column_values(tab, "tabel-tuna-sosial", "Tuna sosial aktif") == [
        rounded(c["active"]) for c in trend["province"]["months"]]
    assert column_values(tab, "tabel-tuna-sosial", "Perubahan aktif") == [
        rounded(c["active_change"]) for c in trend["province"]["months"]]
    # Where to build: the API's ranking, and its method in plain Indonesian.
    ranked = [f"{r['rank']}. {indonesian.region_label(r['regency'])}" for r in where["regencies"] if r["rank"]]
    assert list(tab.table("tabel-bangun"))[:len(ranked)] == ranked
    assert "kuadrat terkecil" in tab.page.locator("#metode").text_content()
    assert number(tab.page.locator("#rujukan-jumlah").inner_text()) == referrals["total"]["referrals"]
    # The silent regency: named for its month, and "tidak ada data" in its own row, never 0.
    assert (f"{indonesian.region_label(SILENT[0])}: tidak ada data untuk {indonesian.month_name(SILENT[1])}"
            in tab.page.locator("#tanpa-data").inner_text())


def test_a_regency_and_category_filter_change_the_months_shown(tab, hub):
    params = {"from": clock.add_months(LAST, -5), "to": LAST, "regency": SILENT[0], "category": "gelandangan"}
    cases = api(hub, "/api/v1/figures/cases", **params)
    tab.open(f"/kabupaten/{SILENT[0]}?{PERIOD}&kategori=gelandangan")
    cells = cases["regencies"][0]["months"]
    assert column_values(tab, "tabel-bulanan", "Kasus aktif") == [rounded(c["active"]) for c in cells]
    shown = tab.table("tabel-bulanan")[indonesian.month_name(SILENT[1])]
    assert shown[0] == "tidak ada data" and shown[1] == "tidak ada data"
    unfiltered = api(hub, "/api/v1/figures/cases", **{**params, "category": None})["regencies"][0]["months"]
    assert [c["active"] for c in cells] != [c["active"] for c in unfiltered]  # the category changes them
    assert tab.page.locator("#unduh-csv").get_attribute("href") == (
        f"/laporan-bulanan?bulan={LAST}&kabupaten={SILENT[0]}&format=csv")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_monthly_report_downloaded_from_the_page_holds_the_apis_figures(tab, hub, fmt):
    import openpyxl

    tab.open(f"/?{PERIOD}")
    with tab.page.expect_download() as info:
        tab.page.click(f"#unduh-{fmt}")
    download = info.value
    assert download.suggested_filename == f"laporan-bulanan-63-{LAST}.{fmt}"
    content = Path(download.path()).read_bytes()
    if fmt == "csv":
        header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    else:
        header, *rows = [["" if v is None else str(v) for v in r]
                         for r in openpyxl.load_workbook(io.BytesIO(content))["Data"].iter_rows(values_only=True)]
    by_regency = {r[header.index("Kode wilayah")]: r for r in rows}
    cases = api(hub, "/api/v1/figures/cases", **{"from": LAST, "to": LAST})
    for regency in cases["regencies"]:
        [cell] = regency["months"]
        row = by_regency[regency["regency"]]
        got = row[header.index("Kasus aktif")]
        assert (None if got == "" else int(float(got))) == cell["active"], regency["regency"]


def test_facilities_and_sync_pages_show_occupancy_and_the_state_of_every_office(tab, hub):
    occupancy = api(hub, "/api/v1/figures/facilities")
    tab.open("/fasilitas")
    rows = tab.rows("tabel-okupansi")
    assert len(rows) == sum(1 + len(f["units"]) for f in occupancy["facilities"]) > 0
    alerts = [name for name, cells in rows if cells[4].startswith("Hampir penuh")]
    assert len([a for a in alerts if ": unit " not in a]) == occupancy["alerts"]
    assert number(tab.page.locator("#jumlah-peringatan").inner_text()) == occupancy["alerts"]
    health = api(hub, "/api/v1/sync")
    tab.open("/sinkronisasi")
    statuses = tab.column("tabel-sinkronisasi", "Status")
    assert statuses == {f"{indonesian.region_label(n['node'])} ({n['node']})": n["status_label"].capitalize()
                        for n in health["nodes"]}
    tab.open("/sinkronisasi?kabupaten=6371")
    assert list(tab.table("tabel-sinkronisasi")) == ["Kota Banjarmasin (6371)"]


def test_a_bad_monthly_report_link_says_what_is_wrong_per_field(tab):
    response = tab.open("/laporan-bulanan?bulan=2026-13&kabupaten=9999&format=pdf")
    assert response.status == 422
    alert = tab.page.locator("[role=alert]").inner_text()
    assert "Bulan harus berformat YYYY-MM" in alert and "Kabupaten/kota tidak dikenal" in alert
    assert "Format harus csv atau xlsx" in alert
