"""The hub's pages, charts and exports without a server: filters from an address, figures with
missing months ("tidak ada data", never 0), SVG fit for the page's policy, CSV and XLSX read back."""
import base64
import csv
import hashlib
import io
import re
from datetime import datetime, timezone

import pytest
from openpyxl import load_workbook

from rehsos import indonesian, reference
from rehsos.api.sessions import content_security_policy
from reporting import charts, exports, pages
from reporting.exports import Column

# -- Indonesian formats --------------------------------------------------------------------------------


def test_numbers_months_and_regions_are_written_the_indonesian_way():
    assert indonesian.number(1234567) == "1.234.567" and indonesian.number(12.5, 1) == "12,5"
    assert indonesian.month_name("2026-11") == "November 2026" and indonesian.short_month("2026-01") == "Jan 2026"
    assert indonesian.region_label("6371") == "Kota Banjarmasin"
    assert indonesian.region_label("6303") == "Kabupaten Banjar"
    assert indonesian.region_label("63") == "Provinsi Kalimantan Selatan"


# -- filters -----------------------------------------------------------------------------------------------


def test_filters_come_from_the_address_and_go_back_into_it():
    filters = pages.parse_filters({"dari": "2026-01", "sampai": "2026-06", "kabupaten": "6371", "kategori": ""})
    assert filters == pages.Filters("2026-01", "2026-06", "6371", None)
    assert filters.query() == "?dari=2026-01&sampai=2026-06&kabupaten=6371"
    assert filters.query(kabupaten=None) == "?dari=2026-01&sampai=2026-06"
    assert filters.months() == [f"2026-{m:02d}" for m in range(1, 7)]
    assert pages.Filters(first="2025-03").months()[-1] == "2026-02"  # twelve months from the first
    assert pages.parse_filters({}) == pages.Filters() and pages.Filters().query() == ""


@pytest.mark.parametrize("args,field,message", [
    ({"dari": "2026-13"}, "dari", "Gunakan format TTTT-BB"),
    ({"dari": "26-01"}, "dari", "Gunakan format TTTT-BB"),
    ({"dari": "2026-06", "sampai": "2026-01"}, "sampai", "tidak boleh sebelum"),
    ({"dari": "2000-01", "sampai": "2026-01"}, "sampai", "paling panjang 120 bulan"),
    ({"kabupaten": "9999"}, "kabupaten", "Kabupaten/kota tidak dikenal"),
    ({"kategori": "preman"}, "kategori", "Kategori PPKS tidak dikenal"),
    ({"kategori": "gelandangan\x00"}, "kategori", "tidak diizinkan"),
    ({"urutan": "1"}, "urutan", "Parameter tidak dikenal"),
])
def test_a_bad_filter_says_which_field_and_why_in_indonesian(args, field, message):
    with pytest.raises(pages.FilterError) as caught:
        pages.parse_filters(args)
    assert message in " ".join(caught.value.fields[field])
    page = pages.filter_error("/", "Ringkasan", caught.value)
    assert "Filter tidak dapat diterapkan." in page.html and message in page.html.replace("&#34;", '"')


def test_a_page_refuses_a_filter_it_does_not_offer():
    with pytest.raises(pages.FilterError) as caught:
        pages.parse_filters({"kabupaten": "6371"}, allowed=("dari", "sampai", "kategori"))
    assert list(caught.value.fields) == ["kabupaten"]


# -- charts ------------------------------------------------------------------------------------------------


def test_a_missing_month_is_a_gap_in_the_line_never_a_zero():
    chart = charts.line("grafik-1", "Kasus baru", ["Jan", "Feb", "Mar", "Apr", "Mei"],
                        [charts.Series("Kota Banjarmasin", [1, 2, None, 4, 5])])
    assert len(re.findall(r"<circle", chart.svg)) == 4  # a dot per month with data
    assert len(re.findall(r'class="line reactive nofill"', chart.svg)) == 2  # the line breaks at March
    assert "tidak ada data untuk Mar" in chart.description
    without_gap = charts.line("grafik-2", "Kasus baru", ["Jan", "Feb"], [charts.Series("Kota Banjarmasin", [1, 2])])
    assert len(re.findall(r'class="line reactive nofill"', without_gap.svg)) == 1


def test_a_missing_value_draws_no_bar_and_numbers_are_printed_in_indonesian():
    chart = charts.bars("grafik-1", "Kasus", ["Kota Banjarmasin", "Kabupaten Banjar", "Kabupaten Tapin"],
                        [charts.Series("Kasus", [1234, None, 0])])
    assert len(re.findall(r'class="rect reactive tooltip-trigger"', chart.svg)) == 2
    assert ">1.234<" in chart.svg
    assert "tertinggi 1.234 (Kota Banjarmasin), tidak ada data untuk Kabupaten Banjar" in chart.description


def test_a_chart_is_one_named_image_with_nothing_the_pages_policy_forbids():
    chart = charts.line("grafik-3", "Tren", ["Jan", "Feb"], [charts.Series("A", [1, 2]), charts.Series("B", [2, 1])])
    svg = str(chart.svg)
    assert svg.startswith("<svg") and 'id="grafik-3"' in svg and 'role="img"' in svg
    assert 'aria-labelledby="grafik-3-judul grafik-3-uraian"' in svg
    assert '<title id="grafik-3-judul">Tren</title>' in svg and 'id="grafik-3-uraian"' in svg
    assert "<script" not in svg and "<style" not in svg and " style=" not in svg and "http://" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', "").replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    assert "#grafik-3" in chart.css and "#chart-" not in chart.css
    assert "A (garis penuh)" in svg and "B (garis putus-putus)" in svg  # told apart without colour
    assert "stroke-dasharray" in chart.css


# -- pages -------------------------------------------------------------------------------------------------


def _summary():
    by_regency = [{"regency": code, "name": r.name, "kind": r.kind, "cases": 0, "by_category": {}}
                  for code, r in reference.REGENCIES.items()]
    by_regency[list(reference.REGENCIES).index("6371")].update(cases=1500, by_category={"gelandangan": 1200,
                                                                                        "pengemis": 300})
    by_category = [{"category": c, "name": cat.name_id, "group": cat.group,
                    "cases": {"gelandangan": 1200, "pengemis": 300}.get(c, 0)}
                   for c, cat in reference.PPKS_CATEGORIES.items()]
    return {"generated_at": "2026-11-26T08:00:00+00:00", "total_cases": 1500, "unique_persons": 1400,
            "by_regency": by_regency, "by_category": by_category, "cells": [], "quarantined": 0,
            "streams": [{"node": "6371", "service": "intake", "received": 1600, "last_sequence": 1603, "missing": 3,
                         "missing_ranges": [[10, 11], [20, 20]], "last_received_at": "2026-11-26T07:00:00+00:00",
                         "resend_requested_at": None, "resend_requests": 0}]}


def _plan():
    return {"generated_at": "2026-11-26T08:00:00+00:00", "category": None, "capacity_as_of": None, "plans": [],
            "regencies": [{"regency": code, "name": r.name, "kind": r.kind, "open_cases": 0, "waiting": 0,
                           "facilities": 0, "beds": 0, "occupied": 0, "free": 0, "plans": 0, "planned_beds": 0,
                           "shortfall": 0} for code, r in reference.REGENCIES.items()]}


def _styles_admitted(page: pages.Page):
    """Every <style> of the page is one the page declares, so its policy's hashes admit it."""
    blocks = re.findall(r"<style>(.*?)</style>", page.html, re.S)
    assert blocks and set(blocks) == set(page.styles)
    policy = content_security_policy(page.styles)
    for css in blocks:
        assert base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() in policy


def test_the_overview_shows_counts_in_indonesian_format_with_a_chart_and_its_table():
    page = pages.overview(_summary(), _plan(), pages.Filters(), csrf="token-csrf")
    assert '<html lang="id">' in page.html and "<script" not in page.html
    assert "Jumlah kasus terdaftar: <b>1.500</b>" in page.html
    assert re.search(r'<th scope="row">Kota Banjarmasin</th>.*?<td>1.500</td></tr>', page.html)
    assert 'role="img"' in page.html and 'id="tabel-kasus"' in page.html
    assert 'action="/keluar"><input type="hidden" name="csrf" value="token-csrf">' in page.html
    _styles_admitted(page)


def test_the_overview_filtered_by_category_and_regency_counts_only_those():
    page = pages.overview(_summary(), _plan(), pages.Filters(regency="6371", category="pengemis"))
    assert 'id="kasus-tersaring">300<' in page.html
    assert "Kabupaten Banjar<" not in page.html.split('id="tabel-kasus"')[1].split("</table>")[0]
    assert 'value="pengemis" selected' in page.html and 'value="6371" selected' in page.html


CASE_KEYS = ("new", "active", "persons", "reopened", "new_per_10k", "active_per_10k")
TREND_KEYS = ("new", "active", "new_year_before", "active_year_before", "new_change", "active_change",
              "active_change_percent")


def _trends(missing: str) -> pages.Trends:
    """Figures as the APIs send them: Banjarmasin silent in ``missing``, every figure null then."""
    months = ["2026-01", "2026-02", "2026-03"]

    def cell(i, m, keys):
        return {"month": m, "has_data": m != missing, **{k: None if m == missing else 10 + i for k in keys}}

    def figures(keys, **extra):
        cells = [cell(i, m, keys) for i, m in enumerate(months)]
        return {"months": months, "population_source": "BPS 2024", **extra,
                "province": {"months": [dict(c, **{k: c[k] or 0 for k in keys}) for c in cells]},
                "regencies": [{"regency": "6371", "name": "Banjarmasin", "months": cells}]}

    types = [{"disability": "fisik", "name": "Disabilitas fisik", "registered": 4, "with_active_case": 3,
              "registered_per_10k": 0.05}]
    disabilities = {"months": months, "province": {"months": [{"month": m, "types": types} for m in months]},
                    "regencies": [{"regency": "6371", "months": [
                        {"month": m, "has_data": m != missing,
                         "types": [dict(t, registered=None if m == missing else 4) for t in types]}
                        for m in months]}]}
    flow = {"referrals": 2, "admitted": 1, "outcomes": {"rejected": 0, "waitlisted": 1},
            "response_hours_median": 5.5, "response_hours_p90": None, "admission_days_median": 3.0}
    referrals = {"flows": [dict(flow, regency_name="Banjarmasin", facility_name=None, facility_id="panti-x")],
                 "total": flow}
    return pages.Trends(figures(CASE_KEYS), figures(TREND_KEYS, categories=["gelandangan"]), disabilities,
                        referrals)


def test_a_trend_of_a_regency_that_sent_nothing_in_a_month_says_tidak_ada_data_for_it():
    filters = pages.Filters("2026-01", "2026-03", "6371")
    page = pages.overview(_summary(), _plan(), filters, trends=_trends(missing="2026-02"))
    table = page.html.split('id="tabel-bulanan"')[1].split("</table>")[0]
    assert re.search(r'Februari 2026</th><td class="nodata">tidak ada data</td>', table)
    assert re.search(r"Maret 2026</th><td>12</td>", table)
    assert "tidak ada data untuk Feb 2026" in page.html
    tuna = page.html.split('id="tabel-tuna-sosial"')[1].split("</table>")[0]
    assert re.search(r'Februari 2026</th><td class="nodata">tidak ada data</td>', tuna)
    assert "Banjarmasin</a>: tidak ada data untuk Februari 2026" in page.html
    assert 'href="/laporan-bulanan?bulan=2026-03&amp;kabupaten=6371&amp;format=xlsx"' in page.html
    assert "panti-x" in page.html and "5,5" in page.html
    _styles_admitted(page)


def test_the_other_pages_render_from_the_domains_dicts():
    training = {"generated_at": "2026-11-26T08:00:00+00:00", "by_role": [], "by_theme": [], "events": [
        {"event_id": "e1", "node": "63", "kind": "bimtek", "title": "Bimtek Tuna Sosial", "theme": "tuna_sosial",
         "start_date": "2024-12-04", "end_date": "2024-12-04", "days": 1, "quota": 40, "status": "completed",
         "topics": [], "demo": False, "registered": 40, "waitlisted": 0, "attended": 38, "completed": 36,
         "scored": 30, "pre_average": 55.5, "post_average": None, "gain": None}],
        "regencies": [{"regency": code, "name": "", "open_cases": 4, "registered": 0, "attended": 0, "completed": 0,
                       "trained_pekerja_sosial": 2, "trained_pendamping_disabilitas": 0,
                       "trained_per_100_open_cases": 50.0} for code in reference.NODES]}
    regency = pages.regency("6371", _summary(), _plan(), training, pages.Filters())
    assert "Kasus terdaftar: <b id=\"kasus-kabupaten\">1.500</b>" in regency.html and "10–11, 20" in regency.html
    assert "Terlatih per 100 kasus aktif: <b>50,0</b>" in regency.html
    page = pages.training(training, pages.Filters())
    assert "4 Desember 2024" in page.html and "55,5" in page.html and "tidak ada data" in page.html
    assert "Bimtek Tuna Sosial" not in pages.training(training, pages.Filters("2025-01", "2025-12")).html
    sync = pages.sync_health(_summary(), [], pages.Filters())
    assert "26 November 2026 pukul 15.00 WITA" in sync.html  # 07:00 UTC is 15:00 in Banjarmasin
    for page in (regency, page, sync, pages.facilities(_plan(), pages.Filters()), pages.login("x")):
        _styles_admitted(page)


# -- exports -----------------------------------------------------------------------------------------------
COLUMNS = [Column("regency_name", "Kabupaten/Kota", "Nama kabupaten/kota."),
           Column("new", "Kasus baru", "Kasus yang didaftarkan pada bulan itu."),
           Column("new_per_10k", "Kasus baru per 10.000 penduduk", "Kasus baru dibagi penduduk × 10.000.", 1)]
ROWS = [{"regency_name": "Kota Banjarmasin", "new": 1234, "new_per_10k": 17.25},
        {"regency_name": "Kabupaten Tabalong", "new": None, "new_per_10k": None}]


def test_the_csv_opens_in_excel_with_indonesian_headers_and_an_empty_cell_for_no_data():
    data = exports.to_csv(COLUMNS, ROWS)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["Kabupaten/Kota", "Kasus baru", "Kasus baru per 10.000 penduduk"],
                    ["Kota Banjarmasin", "1234", "17.25"], ["Kabupaten Tabalong", "", ""]]


def test_the_xlsx_holds_the_rows_and_a_keterangan_sheet_explaining_each_column():
    generated = datetime(2026, 11, 30, 17, 30, tzinfo=timezone.utc)  # 1 December, 01.30 in WITA
    data = exports.to_xlsx(COLUMNS, ROWS, title="Laporan bulanan", scope={"Bulan": "November 2026",
                                                                           "Kabupaten/Kota": "Semua"},
                           generated_at=generated)
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Data", "Keterangan"]
    sheet = [list(r) for r in book["Data"].iter_rows(values_only=True)]
    assert sheet == [["Kabupaten/Kota", "Kasus baru", "Kasus baru per 10.000 penduduk"],
                     ["Kota Banjarmasin", 1234, 17.25], ["Kabupaten Tabalong", None, None]]
    assert book["Data"]["C2"].number_format == "#,##0.0"
    notes = {r[0]: r[1] for r in book["Keterangan"].iter_rows(values_only=True) if r[0]}
    assert notes["Bulan"] == "November 2026" and notes["Kabupaten/Kota"] == "Nama kabupaten/kota."
    assert notes["Dibuat"] == "1 Desember 2026 pukul 01.30 WITA"
    assert "pseudonim" in notes["Sumber data"] and "tidak ada data" in notes["Sel kosong"].lower()
    assert notes["Kasus baru per 10.000 penduduk"] == "Kasus baru dibagi penduduk × 10.000."


def test_occupancy_marks_the_alert_and_stale_data_in_words_not_colour_alone():
    unit = {"name": "Putra", "sex": "L", "beds": 10, "occupied": 9, "free": 1, "occupancy_percent": 90.0, "alert": True}
    fresh = {"facility_id": "a", "name": "Panti A", "regency": "6371", "beds": 10, "occupied": 9, "free": 1,
             "occupancy_percent": 90.0, "alert": True, "waitlisted": 3, "data_age_hours": 5.0, "units": [unit]}
    stale = dict(fresh, facility_id="b", name="Panti B", alert=False, occupancy_percent=None, beds=0, occupied=0,
                 free=0, data_age_hours=24 * 9.5, units=[])
    occupancy = {"alert_percent": 90.0, "alerts": 1, "facilities": [fresh, stale], "waitlisted_without_snapshot": []}
    page = pages.facilities(_plan(), pages.Filters(), occupancy=occupancy)
    table = page.html.split('id="tabel-okupansi"')[1].split("</table>")[0]
    assert re.search(r"Panti A \(Kota Banjarmasin\)</th>.*<td class=\"l\">Hampir penuh \(≥ 90 %\)</td><td>3</td>"
                     r"<td class=\"l\">5 jam</td>", table)
    assert "9 hari, data lama" in table and "Panti A: unit Putra" in table
    # A facility without beds has no occupancy: tidak ada data, not 0 %.
    assert re.search(r"Panti B \(Kota Banjarmasin\)</th><td>0</td><td>0</td><td>0</td><td class=\"nodata\">", table)
    _styles_admitted(page)


def test_ages_are_said_in_the_largest_whole_unit():
    assert [pages.age_text(s) for s in (None, 42, 3600 * 5 + 7, 86400 * 12)] == [None, "42 detik", "5 jam", "12 hari"]
