"""The hub's pages, in Bahasa Indonesia: server-rendered (Jinja2), no script, nothing fetched from
elsewhere, so they work on a slow regency connection, on a phone and in any browser an office has.

Each page is one template fed by the dict a domain function returns (the same dict the API
sends), plus its charts (:mod:`reporting.charts`) and the filters of its address. A page returns
its HTML with the stylesheets it carries, which the page's Content-Security-Policy admits by hash.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Mapping, Sequence
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from marshmallow import ValidationError
from markupsafe import Markup

from rehsos import clock, indonesian, pages as page_kit, reference
from reporting import charts
from reporting.charts import Series
from reporting.exports import NO_DATA, Column
from reporting.schemas import PageFilterSchema

GROUP_NAMES = {
    "anak": "Anak", "disabilitas": "Disabilitas", "lansia": "Lanjut Usia", "tuna_sosial": "Tuna Sosial",
    "napza": "NAPZA", "bencana": "Korban Bencana", "lainnya": "Lainnya",
}
PLAN_STATUS = {"usulan": "Usulan", "disetujui": "Disetujui", "dibangun": "Dibangun", "beroperasi": "Beroperasi"}
KIND_NAMES = {"panti": "Panti", "sentra": "Sentra", "lks": "LKS", "rumah_singgah": "Rumah Singgah"}
ROLE_NAMES = {"pekerja_sosial": "Pekerja sosial", "pendamping_disabilitas": "Pendamping disabilitas"}
TRAINING_STATUS = {"planned": "Direncanakan", "open": "Pendaftaran dibuka", "ongoing": "Berlangsung",
                   "completed": "Selesai", "cancelled": "Dibatalkan"}
QUARANTINE_KINDS = {"refused": "Ditolak", "dead_letter": "Surat mati"}
SERVICE_NAMES = {"intake": "Pendaftaran kasus", "facilities": "Fasilitas", "training": "Pelatihan"}
NAV = (("/", "Ringkasan provinsi"), ("/fasilitas", "Fasilitas"), ("/pelatihan", "Pelatihan"),
       ("/sinkronisasi", "Kesehatan sinkronisasi"))
FILTER_LABELS = {"dari": "Dari bulan", "sampai": "Sampai bulan", "kabupaten": "Kabupaten/Kota",
                 "kategori": "Kategori PPKS"}
DEFAULT_MONTHS = 12

# Inline, so a page is one request on a slow connection; the page's CSP admits it by its hash.
STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa;line-height:1.45}
a{color:#0b4f8a}a:focus,button:focus,input:focus,select:focus,summary:focus,[tabindex]:focus{outline:3px solid #b35900;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;color:#0b4f8a;padding:.5rem}.skip:focus{left:.5rem}
header{background:#0b5d3b;color:#fff;padding:.8rem 1.5rem}header .site{margin:0;font-size:1.05rem;font-weight:600}
header a{color:#fff}
nav.main{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center;margin-top:.5rem}
nav.main ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem}
nav.main a[aria-current=page]{font-weight:700;text-decoration-thickness:3px}
nav.main details{position:relative}nav.main summary{cursor:pointer;text-decoration:underline}
nav.main details ul{display:block;background:#fff;padding:.5rem 1rem;border:1px solid #d5dbe3;margin-top:.3rem}
nav.main details ul a{color:#0b4f8a}
nav.main form{margin:0 0 0 auto}nav.main button{background:none;border:1px solid #fff;color:#fff;cursor:pointer;padding:.3rem .8rem}
main{padding:1rem 1.5rem;max-width:84rem}
h1{font-size:1.5rem;margin:.6rem 0}h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
form.filters{background:#fff;border:1px solid #d5dbe3;padding:.8rem 1rem;display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end}
form.filters>div{min-width:0;max-width:100%}form.filters label{display:block;font-size:.9rem;font-weight:600}
form.filters input,form.filters select{font:inherit;padding:.35rem;border:1px solid #5a6573;background:#fff;max-width:100%}
button{font:inherit;padding:.4rem 1rem;cursor:pointer}
.errors{background:#fff;border:2px solid #a12222;padding:.6rem 1rem;margin:1rem 0}.errors h2{margin-top:0;color:#a12222}
.note{color:#4a5563;font-size:.92rem}
.pair{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1rem;align-items:start}
@media (max-width:60rem){.pair{grid-template-columns:minmax(0,1fr)}}
figure{margin:0;background:#fff;border:1px solid #d5dbe3;padding:.5rem}figure svg{width:100%;height:auto;display:block}
figcaption{font-size:.9rem;color:#4a5563;padding:.3rem}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;background:#fff;margin:.3rem 0 1rem;font-size:.92rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #d5dbe3;padding:.35rem .6rem;text-align:right;vertical-align:top}
thead th{background:#e8eef4}th[scope=row],td.l,th.l{text-align:left}tbody th{font-weight:400}
td{font-variant-numeric:tabular-nums}.nodata{color:#4a5563;font-style:italic}.warn{color:#a12222;font-weight:600}
.kpi{display:flex;flex-wrap:wrap;gap:.6rem;padding:0;list-style:none}
.kpi li{background:#fff;border:1px solid #d5dbe3;padding:.5rem .9rem}
form.card{background:#fff;padding:1.5rem;max-width:28rem;border:1px solid #d5dbe3;margin:0 0 1rem}
form.card input{width:100%;padding:.5rem;margin:.5rem 0}
footer{padding:1rem 1.5rem;color:#4a5563;font-size:.88rem}
"""


_ENV = Environment(loader=PackageLoader("reporting", "templates"), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters.update(page_kit.FILTERS)
_ENV.globals.update(NO_DATA=NO_DATA)


# -- filters ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """What a page shows: a month range (WITA, ``YYYY-MM``), a regency, a PPKS category; each
    ``None`` for all. Carried in the address, so a view can be shared by copying it."""
    first: str | None = None
    last: str | None = None
    regency: str | None = None
    category: str | None = None

    def months(self) -> list[str]:
        """The months of a trend: the range asked for, else the last 12 ending this month."""
        last = self.last or (clock.add_months(self.first, DEFAULT_MONTHS - 1) if self.first else clock.current_month())
        first = self.first or clock.add_months(last, -(DEFAULT_MONTHS - 1))
        return clock.months_between(first, last)

    def params(self, **changes) -> dict[str, str]:
        values = {"dari": self.first, "sampai": self.last, "kabupaten": self.regency, "kategori": self.category}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    def query(self, **changes) -> str:
        """``?dari=2026-01&kategori=gelandangan`` (empty when nothing is chosen)."""
        params = self.params(**changes)
        return "?" + urlencode(params) if params else ""

    def in_period(self, day: date | str | None) -> bool:
        if day is None:
            return self.first is None and self.last is None
        month = str(day)[:7]  # a date, or its ISO text
        return (self.first is None or month >= self.first) and (self.last is None or month <= self.last)

    def describe(self) -> str:
        parts = []
        if self.first or self.last:
            parts.append(f"periode {indonesian.month_name(self.first) if self.first else 'awal'} sampai "
                         f"{indonesian.month_name(self.last) if self.last else 'sekarang'}")
        if self.regency:
            parts.append(indonesian.region_label(self.regency))
        if self.category:
            parts.append(f"kategori {reference.PPKS_CATEGORIES[self.category].name_id}")
        return ", ".join(parts) if parts else "semua data"


class FilterError(Exception):
    """Filters that cannot be applied: per field, what is wrong (in Indonesian)."""

    def __init__(self, fields: dict, raw: Mapping[str, str]):
        super().__init__("Filter tidak valid.")
        self.fields = fields
        self.raw = raw


def parse_filters(args: Mapping[str, str], *, allowed: Iterable[str] = tuple(FILTER_LABELS)) -> Filters:
    """The filters of a page's address; an empty field means all. Raises :class:`FilterError`."""
    raw = {k: v for k, v in args.items() if v != ""}
    given = {k: v for k, v in raw.items() if k in allowed}
    errors = {k: ["Parameter tidak dikenal di halaman ini."] for k in raw if k not in allowed}
    try:
        data = PageFilterSchema().load(given)
    except ValidationError as exc:
        errors.update(exc.messages)
        data = {}
    if errors:
        raise FilterError(errors, raw)
    return Filters(first=data.get("dari"), last=data.get("sampai"), regency=data.get("kabupaten"),
                   category=data.get("kategori"))


# -- rendering --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    html: str
    styles: tuple[str, ...]  # every inline stylesheet of the page, for its Content-Security-Policy


@dataclass(frozen=True)
class Table:
    """A table of figures: ``columns`` name the keys of ``rows``; the first column heads each row.
    ``None`` shows as *tidak ada data*, never as 0."""
    caption: str
    columns: Sequence[Column]
    rows: Sequence[Mapping]


@dataclass(frozen=True)
class Figure:
    """A chart and its numbers as a table beside it."""
    chart: charts.Chart
    table: Table
    note: str = ""


@dataclass
class _Render:
    """One page being rendered: its charts get ids unique in the page."""
    charts: list = field(default_factory=list)

    def chart_id(self) -> str:
        return f"grafik-{len(self.charts) + 1}"


def _options() -> dict:
    groups: dict[str, list] = {}
    for code, category in sorted(reference.PPKS_CATEGORIES.items(), key=lambda c: c[1].no):
        groups.setdefault(GROUP_NAMES[category.group], []).append((code, category.name_id))
    return {"regencies": [(code, indonesian.region_label(code)) for code in reference.REGENCIES],
            "category_groups": groups}


def _render(template: str, *, title: str, path: str, filters: Filters | None, csrf: str | None,
            figures: Sequence[Figure] = (), filter_fields: Sequence[str] = tuple(FILTER_LABELS),
            errors: dict | None = None, raw: Mapping[str, str] | None = None, **context) -> Page:
    chart_css = []
    for figure in figures:
        if figure.chart.css not in chart_css:
            chart_css.append(figure.chart.css)
    styles = (STYLE, *chart_css)
    html = _ENV.get_template(template).render(
        title=title, path=path, filters=filters or Filters(), csrf=csrf, nav=NAV, styles=[Markup(s) for s in styles],
        options=_options(), filter_fields=filter_fields, filter_labels=FILTER_LABELS, errors=errors,
        raw=raw if raw is not None else (filters or Filters()).params(), **context)
    return Page(html, styles)


def _regency_name(code: str) -> str:
    return indonesian.region_label(code)


def _group_counts(by_category: Mapping[str, int]) -> dict[str, int]:
    counts = {g: 0 for g in GROUP_NAMES}
    for category, n in by_category.items():
        counts[reference.PPKS_CATEGORIES[category].group] += n
    return counts


# -- figures over time ------------------------------------------------------------------------------
STALE_HOURS = 7 * 24  # a facility's beds older than a week are marked as old
OUTCOME_NAMES = {"requested": "Belum dijawab", "waitlisted": "Daftar tunggu", "accepted": "Diterima",
                 "rejected": "Ditolak", "admitted": "Masuk panti", "discharged": "Keluar panti"}


@dataclass(frozen=True)
class Trends:
    """What the figure APIs send for a page's filters (the same dicts): cases, tuna sosial,
    disabilities and referral flows over the period, where to build next, training coverage."""
    cases: Mapping
    tuna_sosial: Mapping
    disabilities: Mapping
    referrals: Mapping
    where_to_build: Mapping | None = None
    training: Mapping | None = None


def _months_of(figures: Mapping, filters: Filters) -> tuple[str, list[dict]]:
    """The chosen regency's months (or the province's): its name and one dict per month; a month
    without data has every figure None."""
    if filters.regency:
        row = next(r for r in figures["regencies"] if r["regency"] == filters.regency)
        return _regency_name(filters.regency), row["months"]
    return "Provinsi Kalimantan Selatan", figures["province"]["months"]


def _line_figure(render: _Render, title: str, figures: Mapping, filters: Filters,
                 measures: Sequence[tuple[str, str]], extra: Sequence[Column] = (), note: str = "") -> Figure:
    """A line per measure over the period's months, and the table of its numbers (and ``extra``)."""
    name, cells = _months_of(figures, filters)
    labels = [indonesian.short_month(c["month"]) for c in cells]
    chart = charts.line(render.chart_id(), f"{title}, {name}", labels,
                        [Series(label, [c[key] for c in cells]) for key, label in measures])
    render.charts.append(chart)
    rows = [{**c, "month": indonesian.month_name(c["month"])} for c in cells]
    columns = [Column("month", "Bulan", ""), *(Column(key, label, "") for key, label in measures), *extra]
    return Figure(chart, Table(f"{title}, {name}", columns, rows), note)


def cases_trend_figure(render: _Render, cases: Mapping, filters: Filters) -> Figure:
    return _line_figure(render, "Kasus baru dan kasus aktif per bulan", cases, filters,
                        [("new", "Kasus baru"), ("active", "Kasus aktif")],
                        [Column("persons", "Orang unik (aktif)", ""), Column("reopened", "Dibuka kembali", ""),
                         Column("new_per_10k", "Baru per 10.000", "", 2),
                         Column("active_per_10k", "Aktif per 10.000", "", 2)],
                        note="Kasus aktif = terbuka pada akhir bulan (WITA). Per 10.000 penduduk dari "
                             + cases["population_source"] + ".")


def per_10k_figure(render: _Render, cases: Mapping) -> Figure:
    """Each regency's new and active cases per 10,000 inhabitants in the period's last month."""
    month = cases["months"][-1]
    rows = [{"label": _regency_name(r["regency"]), **r["months"][-1]} for r in cases["regencies"]]
    title = f"Kasus aktif per 10.000 penduduk, {indonesian.month_name(month)}"
    chart = charts.bars(render.chart_id(), title, [r["label"] for r in rows],
                        [Series("Kasus aktif per 10.000", [r["active_per_10k"] for r in rows])], decimals=2)
    render.charts.append(chart)
    return Figure(chart, Table(f"Kasus per 10.000 penduduk per kabupaten/kota, {indonesian.month_name(month)}", [
        Column("label", "Kabupaten/Kota", ""), Column("new", "Kasus baru", ""),
        Column("new_per_10k", "Baru per 10.000", "", 2), Column("active", "Kasus aktif", ""),
        Column("active_per_10k", "Aktif per 10.000", "", 2)], rows),
        note="Angka mentah menguntungkan kota besar: per 10.000 penduduk membandingkan daerah secara adil.")


def tuna_sosial_figure(render: _Render, trend: Mapping, filters: Filters) -> Figure:
    return _line_figure(render, "Tren tuna sosial", trend, filters,
                        [("new", "Tuna sosial baru"), ("active", "Tuna sosial aktif")],
                        [Column("active_year_before", "Aktif setahun sebelumnya", ""),
                         Column("active_change", "Perubahan aktif", ""),
                         Column("active_change_percent", "Perubahan aktif (%)", "", 1),
                         Column("new_year_before", "Baru setahun sebelumnya", ""),
                         Column("new_change", "Perubahan baru", "")],
                        note="Perubahan = dibandingkan bulan yang sama setahun sebelumnya; negatif berarti turun. "
                             "Kosong (tidak ada data) bila salah satu bulan tidak punya data.")


def disability_figure(render: _Render, coverage: Mapping, filters: Filters) -> Figure:
    """Per disability type at the end of the period's last month."""
    month = coverage["months"][-1]
    name, cells = _months_of(coverage, filters)
    rows = [dict(t, label=t["name"]) for t in cells[-1]["types"]]
    title = f"Penyandang disabilitas per jenis, {name}, akhir {indonesian.month_name(month)}"
    chart = charts.bars(render.chart_id(), title, [r["label"] for r in rows],
                        [Series("Terdaftar", [r["registered"] for r in rows]),
                         Series("Dengan kasus aktif", [r["with_active_case"] for r in rows])])
    render.charts.append(chart)
    return Figure(chart, Table(title, [
        Column("label", "Jenis disabilitas", ""), Column("registered", "Terdaftar", ""),
        Column("with_active_case", "Dengan kasus aktif", ""),
        Column("registered_per_10k", "Terdaftar per 10.000", "", 2)], rows))


def referral_table(referrals: Mapping) -> Table:
    rows = [dict(f, label=f"{f['regency_name']} → {f['facility_name'] or f['facility_id']}",
                 rejected=f["outcomes"]["rejected"], waitlisted=f["outcomes"]["waitlisted"])
            for f in referrals["flows"]]
    return Table("Rujukan dari kabupaten/kota ke fasilitas", [
        Column("label", "Dari → ke fasilitas", ""), Column("referrals", "Rujukan", ""),
        Column("admitted", "Masuk panti", ""), Column("waitlisted", "Daftar tunggu", ""),
        Column("rejected", "Ditolak", ""), Column("response_hours_median", "Jawaban, median (jam)", "", 1),
        Column("response_hours_p90", "Jawaban, persentil 90 (jam)", "", 1),
        Column("admission_days_median", "Sampai masuk, median (hari)", "", 1)], rows)


def where_to_build_table(where: Mapping) -> Table:
    rows = []
    for r in where["regencies"]:
        band = (f"{indonesian.number(r['projected_shortfall_low'], 1)} sampai "
                f"{indonesian.number(r['projected_shortfall_high'], 1)}"
                if r["projected_shortfall_low"] is not None else None)
        rows.append(dict(r, label=f"{r['rank']}. {_regency_name(r['regency'])}" if r["rank"]
                         else _regency_name(r["regency"]), band=band,
                         reliability="ya" if r["reliable"] else ("belum dapat diandalkan" if r["months_used"] else None)))
    return Table(f"Di mana membangun berikutnya: proyeksi {indonesian.month_name(where['projected_month'])}", [
        Column("label", "Peringkat dan kabupaten/kota", ""), Column("people_waiting", "Menunggu tempat", ""),
        Column("people_in_bed", "Di panti", ""), Column("beds", "Tempat tidur", ""),
        Column("planned_beds", "Rencana tempat tidur", ""), Column("projected_demand", "Proyeksi kebutuhan", "", 1),
        Column("projected_shortfall", "Proyeksi kekurangan", "", 1),
        Column("band", f"Rentang {where['interval_percent']} % kekurangan", ""),
        Column("months_used", "Bulan riwayat", ""), Column("reliability", "Dapat diandalkan", "")], rows)


def months_without_data(cases: Mapping) -> list[dict]:
    """Each regency with a month of the period its node sent nothing for, and those months."""
    return [{"regency": r["regency"], "name": _regency_name(r["regency"]),
             "months": [indonesian.month_name(c["month"]) for c in r["months"] if not c["has_data"]]}
            for r in cases["regencies"] if not all(c["has_data"] for c in r["months"])]


def report_links(filters: Filters) -> dict:
    """Downloads of the monthly report for the period's last month (and the regency chosen)."""
    month = filters.months()[-1]
    params = {"bulan": month, **({"kabupaten": filters.regency} if filters.regency else {})}
    return {"month": month, **{fmt: "/laporan-bulanan?" + urlencode({**params, "format": fmt})
                               for fmt in ("csv", "xlsx")}}


def age_text(seconds: float | None) -> str | None:
    """``45 detik``, ``12 menit``, ``3 jam``, ``9 hari``: how long ago, in words; None stays None."""
    if seconds is None:
        return None
    for unit, size in (("hari", 86400), ("jam", 3600), ("menit", 60)):
        if seconds >= size:
            return f"{indonesian.number(seconds // size)} {unit}"
    return f"{indonesian.number(seconds)} detik"


def occupancy_figure(render: _Render, occupancy: Mapping) -> Figure:
    """Occupancy per facility and unit; the alert (≥ 90 %) and stale data are said in words."""
    rows = []
    for fac in occupancy["facilities"]:
        stale = fac["data_age_hours"] > STALE_HOURS
        base = {"status_text": ("Hampir penuh (≥ " + indonesian.number(occupancy["alert_percent"]) + " %)"
                                if fac["alert"] else "-")}
        rows.append(dict(fac, **base, label=f"{fac['name']} ({_regency_name(fac['regency'])})",
                         age=f"{age_text(fac['data_age_hours'] * 3600)}{', data lama' if stale else ''}"))
        for unit in fac["units"]:
            rows.append(dict(unit, label=f"{fac['name']}: unit {unit['name']}", waitlisted=None, age="",
                             status_text="Hampir penuh" if unit["alert"] else "-"))
    chart = charts.bars(render.chart_id(), "Okupansi per fasilitas (%)", [f["name"] for f in occupancy["facilities"]],
                        [Series("Okupansi (%)", [f["occupancy_percent"] for f in occupancy["facilities"]])],
                        decimals=1)
    render.charts.append(chart)
    return Figure(chart, Table("Okupansi per fasilitas dan unit", [
        Column("label", "Fasilitas atau unit", ""), Column("beds", "Tempat tidur", ""),
        Column("occupied", "Terisi", ""), Column("free", "Kosong", ""),
        Column("occupancy_percent", "Okupansi (%)", "", 1), Column("status_text", "Peringatan", ""),
        Column("waitlisted", "Daftar tunggu", ""), Column("age", "Umur data", "")], rows),
        note=f"Peringatan bila okupansi {indonesian.number(occupancy['alert_percent'])} % atau lebih. "
             f"Data lebih dari {STALE_HOURS // 24} hari ditandai “data lama”. Daftar tunggu dihitung per fasilitas.")


def demand_beside_plans(where: Mapping) -> Table:
    rows = [dict(r, label=_regency_name(r["regency"])) for r in sorted(where["regencies"], key=lambda r: r["regency"])]
    return Table("Rencana pusat rehabilitasi di samping kebutuhan", [
        Column("label", "Kabupaten/Kota", ""), Column("people_waiting", "Orang menunggu tempat", ""),
        Column("people_in_bed", "Orang di panti", ""), Column("beds", "Tempat tidur", ""),
        Column("plans", "Rencana pusat", ""), Column("planned_beds", "Rencana tempat tidur", "")], rows)


def sync_table(health: Mapping, filters: Filters) -> Table:
    rows = []
    for n in health["nodes"]:
        if filters.regency and n["node"] != filters.regency:
            continue
        gaps = [f"{g['first']}–{g['last']} ({'diminta ulang' if g['repair'] == 'requested' else 'menunggu'})"
                for s in n["services"] for g in s["missing_ranges"]]
        rows.append({
            "label": f"{_regency_name(n['node'])} ({n['node']})", "status": n["status_label"].capitalize(),
            "last_event": age_text(n["last_event"]["age_seconds"]) if n["last_event"] else None,
            "heartbeat": age_text(n["last_heartbeat"]["age_seconds"]) if n["last_heartbeat"] else None,
            "lag": n["lag"]["median_seconds"], "missing": sum(s["missing"] for s in n["services"]),
            "gaps": ", ".join(gaps) or "-", "refused": n["quarantine"]["refused"],
            "dead_letters": n["quarantine"]["dead_letters"],
            "versions": ", ".join(f"{v['event_type']} v{v['schema_version']}" for v in n["schema_versions"]) or "-"})
    return Table("Kesehatan sinkronisasi per kantor", [
        Column("label", "Kantor", ""), Column("status", "Status", ""),
        Column("last_event", "Event terakhir (lalu)", ""), Column("heartbeat", "Heartbeat terakhir (lalu)", ""),
        Column("lag", "Jeda median (detik)", "", 1), Column("missing", "Urutan hilang", ""),
        Column("gaps", "Celah dan perbaikan", ""), Column("refused", "Ditolak", ""),
        Column("dead_letters", "Surat mati", ""), Column("versions", "Versi skema", "")], rows)


def event_gains(coverage: Mapping, filters: Filters) -> Table:
    rows = [dict(e, label=e["title"] or e["event_id"], theme_text=e["theme"] or "-",
                 day=indonesian.long_date(e["start_date"]) if e["start_date"] else "-")
            for e in coverage["events"] if filters.in_period(e["start_date"])]
    return Table("Kenaikan nilai pre-test ke post-test per kegiatan", [
        Column("label", "Kegiatan", ""), Column("theme_text", "Tema", ""), Column("day", "Tanggal mulai", ""),
        Column("completed", "Selesai", ""), Column("pre_average", "Pre-test", "", 1),
        Column("post_average", "Post-test", "", 1), Column("gain", "Kenaikan", "", 1)], rows)


def coverage_table(coverage: Mapping, filters: Filters) -> Table:
    rows = [dict(r, label=_regency_name(r["regency"])) for r in coverage["regencies"]
            if not filters.regency or r["regency"] == filters.regency]
    return Table("Tenaga terlatih per 100 kasus aktif", [
        Column("label", "Kabupaten/Kota", ""), Column("open_cases", "Kasus aktif", ""),
        Column("trained_pekerja_sosial", "Pekerja sosial", ""),
        Column("pekerja_sosial_per_100_open_cases", "Pekerja sosial per 100 kasus", "", 1),
        Column("trained_pendamping_disabilitas", "Pendamping disabilitas", ""),
        Column("pendamping_disabilitas_per_100_open_cases", "Pendamping per 100 kasus", "", 1),
        Column("trained_per_100_open_cases", "Terlatih per 100 kasus", "", 1)], rows)


def _trend_sections(render: _Render, trends: Trends, filters: Filters) -> dict:
    sections = {"monthly": cases_trend_figure(render, trends.cases, filters),
                "tuna": tuna_sosial_figure(render, trends.tuna_sosial, filters) if trends.tuna_sosial["categories"]
                else None,
                "disability": disability_figure(render, trends.disabilities, filters),
                "referrals": referral_table(trends.referrals), "referral_total": trends.referrals["total"],
                "no_data": months_without_data(trends.cases), "report": report_links(filters),
                "period": trends.cases["months"]}
    return sections


# -- pages ----------------------------------------------------------------------------------------------
def _regency_cases(summary: dict, filters: Filters) -> list[dict]:
    """Cases per regency (all, or of the chosen category), with their PPKS groups."""
    rows = []
    for r in summary["by_regency"]:
        if filters.regency and r["regency"] != filters.regency:
            continue
        by_category = ({filters.category: r["by_category"].get(filters.category, 0)} if filters.category
                       else r["by_category"])
        rows.append({"regency": r["regency"], "name": _regency_name(r["regency"]), "cases": sum(by_category.values()),
                     **_group_counts(by_category)})
    return rows


def _capacity_figure(render: _Render, plan: dict, filters: Filters) -> Figure:
    rows = [dict(r, label=_regency_name(r["regency"])) for r in plan["regencies"]
            if not filters.regency or r["regency"] == filters.regency]
    chart = charts.bars(render.chart_id(), "Kasus aktif, tempat tidur, dan rencana per kabupaten/kota",
                        [r["label"] for r in rows],
                        [Series("Kasus aktif", [r["open_cases"] for r in rows]),
                         Series("Tempat tidur", [r["beds"] for r in rows]),
                         Series("Rencana tempat tidur", [r["planned_beds"] for r in rows])])
    render.charts.append(chart)
    columns = [Column("label", "Kabupaten/Kota", ""), Column("open_cases", "Kasus aktif", ""),
               Column("waiting", "Menunggu panti", ""), Column("facilities", "Fasilitas", ""),
               Column("beds", "Tempat tidur", ""), Column("occupied", "Terisi", ""), Column("free", "Kosong", ""),
               Column("planned_beds", "Rencana (tempat tidur)", ""), Column("shortfall", "Kekurangan", "")]
    return Figure(chart, Table("Kebutuhan, kapasitas, dan rencana per kabupaten/kota", columns, rows))


def _plans(plan: dict, filters: Filters) -> list[dict]:
    return [dict(p, kind_name=KIND_NAMES.get(p["kind"], p["kind"]), status_name=PLAN_STATUS[p["status"]],
                 regency_label=_regency_name(p["regency"]),
                 category_names=", ".join(reference.PPKS_CATEGORIES[c].name_id for c in p["categories"]))
            for p in plan["plans"] if not filters.regency or p["regency"] == filters.regency]


def overview(summary: dict, plan: dict, filters: Filters, csrf: str | None = None, *,
             trends: Trends | None = None) -> Page:
    """Ringkasan provinsi: cases per regency and PPKS group, per category, demand beside beds and
    plans; with ``trends`` (the figure APIs for the filters), the months of the period: new and
    active cases, per 10,000 per regency, tuna sosial, disabilities, referral flows, where to
    build next, the regencies without data, and the monthly report to download."""
    render = _Render()
    regency_rows = _regency_cases(summary, filters)
    cases_chart = charts.bars(render.chart_id(), "Kasus terdaftar per kabupaten/kota",
                              [r["name"] for r in regency_rows], [Series("Kasus", [r["cases"] for r in regency_rows])])
    render.charts.append(cases_chart)
    group_columns = [Column(g, name, "") for g, name in GROUP_NAMES.items()]
    cases = Figure(cases_chart, Table(
        "Kasus per kabupaten/kota dan kelompok PPKS",
        [Column("name", "Kabupaten/Kota", ""), *group_columns, Column("cases", "Jumlah", "")], regency_rows))
    figures = [cases]
    sections = {}
    if trends is not None:
        sections = _trend_sections(render, trends, filters)
        sections["per_10k"] = per_10k_figure(render, trends.cases)
        if trends.where_to_build is not None:
            sections["where"] = where_to_build_table(trends.where_to_build)
            sections["method"] = trends.where_to_build["method"].split("\n\n")
        figures += [f for f in (sections["monthly"], sections["per_10k"], sections["tuna"], sections["disability"])
                    if f is not None]
    capacity = _capacity_figure(render, plan, filters)
    figures.append(capacity)
    categories = [c for c in summary["by_category"] if c["cases"] and (not filters.category
                                                                      or c["category"] == filters.category)]
    if filters.regency:
        counts = next(r["by_category"] for r in summary["by_regency"] if r["regency"] == filters.regency)
        categories = [dict(c, cases=counts.get(c["category"], 0)) for c in categories if counts.get(c["category"])]
    category_table = Table("Kasus per kategori PPKS", [
        Column("name", "Kategori", ""), Column("group_name", "Kelompok", ""), Column("cases", "Jumlah", "")],
        [dict(c, group_name=GROUP_NAMES[c["group"]]) for c in categories])
    return _render("overview.html", title="Ringkasan Kasus PPKS Provinsi", path="/", filters=filters, csrf=csrf,
                   figures=figures, summary=summary, plan=plan, cases=cases, trend=bool(sections), s=sections,
                   capacity=capacity, category_table=category_table, plans=_plans(plan, filters),
                   total=sum(r["cases"] for r in regency_rows))


def regency(code: str, summary: dict, plan: dict, training: dict, filters: Filters, csrf: str | None = None, *,
            trends: Trends | None = None) -> Page:
    """One regency: its cases by category, demand beside beds, training coverage, its node's stream;
    with ``trends``, its months: new and active cases, tuna sosial, disabilities, its referral flows
    to facilities, its training per 100 active cases, and its monthly report."""
    render = _Render()
    filters = Filters(filters.first, filters.last, code, filters.category)
    counts = next(r["by_category"] for r in summary["by_regency"] if r["regency"] == code)
    categories = [{"name": c["name"], "group_name": GROUP_NAMES[c["group"]], "cases": counts.get(c["category"], 0)}
                  for c in summary["by_category"]
                  if counts.get(c["category"]) and (not filters.category or c["category"] == filters.category)]
    chart = charts.bars(render.chart_id(), f"Kasus per kategori PPKS, {_regency_name(code)}",
                        [c["name"] for c in categories], [Series("Kasus", [c["cases"] for c in categories])])
    render.charts.append(chart)
    figures = [Figure(chart, Table("Kasus per kategori PPKS", [
        Column("name", "Kategori", ""), Column("group_name", "Kelompok", ""), Column("cases", "Jumlah", "")],
        categories))]
    sections = {}
    if trends is not None:
        sections = _trend_sections(render, trends, filters)
        figures += [f for f in (sections["monthly"], sections["tuna"], sections["disability"]) if f is not None]
        if trends.training is not None:
            sections["training"] = next((r for r in trends.training["regencies"] if r["regency"] == code), None)
    capacity = next(r for r in plan["regencies"] if r["regency"] == code)
    coverage = next((r for r in training["regencies"] if r["regency"] == code), None)
    streams = [s for s in summary["streams"] if s["node"] == code]
    return _render("regency.html", title=f"{_regency_name(code)}", path=f"/kabupaten/{code}", filters=filters,
                   csrf=csrf, figures=figures, filter_fields=("dari", "sampai", "kategori"), code=code,
                   category_figure=figures[0], trend=bool(sections), s=sections, capacity=capacity,
                   coverage=coverage, plans=_plans(plan, filters), streams=_stream_rows(streams),
                   total=sum(c["cases"] for c in categories))


def facilities(plan: dict, filters: Filters, csrf: str | None = None, *, occupancy: Mapping | None = None,
               where: Mapping | None = None) -> Page:
    """Fasilitas: beds in operating facilities beside open cases and waiting referrals, and plans."""
    render = _Render()
    rows = [dict(r, label=_regency_name(r["regency"])) for r in plan["regencies"]
            if not filters.regency or r["regency"] == filters.regency]
    rows.sort(key=lambda r: r["regency"])
    chart = charts.bars(render.chart_id(), "Tempat tidur terisi dan kosong per kabupaten/kota",
                        [r["label"] for r in rows],
                        [Series("Terisi", [r["occupied"] for r in rows]), Series("Kosong", [r["free"] for r in rows])])
    render.charts.append(chart)
    beds = Figure(chart, Table("Tempat tidur di fasilitas yang beroperasi", [
        Column("label", "Kabupaten/Kota", ""), Column("facilities", "Fasilitas", ""),
        Column("beds", "Tempat tidur", ""), Column("occupied", "Terisi", ""), Column("free", "Kosong", ""),
        Column("waiting", "Menunggu panti", "")], rows))
    capacity = _capacity_figure(render, plan, filters)
    occupancy_fig = occupancy_figure(render, occupancy) if occupancy is not None else None
    return _render("facilities.html", title="Fasilitas dan rencana pusat rehabilitasi", path="/fasilitas",
                   filters=filters, csrf=csrf, figures=[f for f in (beds, capacity, occupancy_fig) if f],
                   filter_fields=("kabupaten", "kategori"), beds=beds, capacity=capacity, occupancy=occupancy_fig,
                   alerts=occupancy["alerts"] if occupancy else 0,
                   unknown=occupancy["waitlisted_without_snapshot"] if occupancy else [],
                   demand=demand_beside_plans(where) if where else None, plans=_plans(plan, filters), plan=plan)


def training(overview_: dict, filters: Filters, csrf: str | None = None, *, coverage_: Mapping | None = None) -> Page:
    """Pelatihan: trained social workers and disability companions per regency beside the
    caseload; events in the period; pre/post-test gains per role and theme."""
    render = _Render()
    rows = [dict(r, label=_regency_name(r["regency"])) for r in overview_["regencies"]
            if r["regency"] in reference.REGENCIES and (not filters.regency or r["regency"] == filters.regency)]
    chart = charts.bars(render.chart_id(), "Tenaga terlatih per kabupaten/kota", [r["label"] for r in rows],
                        [Series("Pekerja sosial", [r["trained_pekerja_sosial"] for r in rows]),
                         Series("Pendamping disabilitas", [r["trained_pendamping_disabilitas"] for r in rows])])
    render.charts.append(chart)
    coverage = Figure(chart, Table("Tenaga terlatih dan kasus aktif per kabupaten/kota", [
        Column("label", "Kabupaten/Kota", ""), Column("trained_pekerja_sosial", "Pekerja sosial terlatih", ""),
        Column("trained_pendamping_disabilitas", "Pendamping disabilitas terlatih", ""),
        Column("open_cases", "Kasus aktif", ""),
        Column("trained_per_100_open_cases", "Terlatih per 100 kasus aktif", "", 1)], rows),
        note="Terlatih = peserta yang menyelesaikan pelatihan. Per 100 kasus aktif kosong bila kabupaten/kota "
             "itu tidak punya kasus aktif.")
    events = [dict(e, kind_name={"bimtek": "Bimtek", "rakor": "Rakor"}.get(e["kind"], e["kind"] or "-"),
                   status_name=TRAINING_STATUS.get(e["status"], e["status"]))
              for e in overview_["events"] if filters.in_period(e["start_date"])]
    roles = [dict(r, name=ROLE_NAMES.get(r["role"], r["role"].replace("_", " ").capitalize()))
             for r in overview_["by_role"]]
    return _render("training.html", title="Pelatihan: Bimtek dan Rakor", path="/pelatihan", filters=filters,
                   csrf=csrf, figures=[coverage], filter_fields=("dari", "sampai", "kabupaten"), coverage=coverage,
                   events=events, roles=roles, themes=overview_["by_theme"],
                   per_100=coverage_table(coverage_, filters) if coverage_ else None,
                   gains=event_gains(coverage_, filters) if coverage_ else None)


def _stream_rows(streams: Sequence[dict]) -> list[dict]:
    return [dict(s, node_name=indonesian.region_label(s["node"]) if s["node"] in reference.REGIONS else s["node"],
                 service_name=SERVICE_NAMES.get(s["service"], s["service"]),
                 ranges=", ".join(f"{a}–{b}" if a != b else str(a) for a, b in s["missing_ranges"]))
            for s in streams]


def sync_health(summary: dict, quarantine: Sequence[dict], filters: Filters, csrf: str | None = None, *,
                health: Mapping | None = None) -> Page:
    """Kesehatan sinkronisasi: per node and service what the hub received, what it misses and
    asked again, and the messages it refused or could not apply."""
    streams = [s for s in summary["streams"] if not filters.regency or s["node"] == filters.regency]
    entries = [dict(q, kind_name=QUARANTINE_KINDS.get(q["kind"], q["kind"])) for q in quarantine
               if not filters.regency or (q["sender"] or "").endswith(filters.regency)]
    return _render("sync.html", title="Kesehatan sinkronisasi data", path="/sinkronisasi", filters=filters,
                   csrf=csrf, filter_fields=("kabupaten",), streams=_stream_rows(streams), quarantine=entries,
                   quarantined=summary["quarantined"], generated_at=summary["generated_at"],
                   health=sync_table(health, filters) if health else None)


def filter_error(path: str, title: str, error: FilterError, csrf: str | None = None,
                 filter_fields: Sequence[str] = tuple(FILTER_LABELS)) -> Page:
    """The page again with the form and what is wrong with it (served as 422)."""
    return _render("error.html", title=title, path=path, filters=None, csrf=csrf, filter_fields=filter_fields,
                   errors=error.fields, raw=error.raw, message="Filter tidak dapat diterapkan.")


def not_found(message: str, csrf: str | None = None) -> Page:
    return _render("error.html", title="Halaman tidak ditemukan", path="", filters=None, csrf=csrf,
                   filter_fields=(), errors=None, message=message)


def login(csrf: str, error: str | None = None, *, user: str = "", by_token: bool = False) -> Page:
    return _render("login.html", title="Masuk ke dasbor provinsi", path="/masuk", filters=None, csrf=None,
                   filter_fields=(), form_csrf=csrf, error=error, user=user, by_token=by_token)
