"""The hub's pages, in Bahasa Indonesia. Plain server-rendered HTML: it must work on a slow
regency connection and in any browser an office has."""
from __future__ import annotations

from html import escape

from rehsos import reference

GROUP_NAMES = {
    "anak": "Anak", "disabilitas": "Disabilitas", "lansia": "Lanjut Usia", "tuna_sosial": "Tuna Sosial",
    "napza": "NAPZA", "bencana": "Korban Bencana", "lainnya": "Lainnya",
}
# Inline, so a page is one request on a slow connection; the page's CSP admits it by its hash.
STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
header{background:#0b5d3b;color:#fff;padding:1rem 1.5rem}header h1{margin:0;font-size:1.3rem}
header p{margin:.2rem 0 0;opacity:.85}main{padding:1rem 1.5rem;max-width:80rem}
table{border-collapse:collapse;background:#fff;margin:.5rem 0 1.5rem;font-size:.92rem}
th,td{border:1px solid #d5dbe3;padding:.35rem .6rem;text-align:right}th{background:#e8eef4}
td.l,th.l{text-align:left}.num{font-variant-numeric:tabular-nums}.warn{color:#a33}
form.card{background:#fff;padding:1.5rem;max-width:28rem;border:1px solid #d5dbe3}
input[type=password]{width:100%;padding:.5rem;margin:.5rem 0}button{padding:.5rem 1rem}
nav form{margin:0}nav button{background:none;border:1px solid #fff;color:#fff;cursor:pointer}
"""


def _csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{escape(csrf)}">'


def _page(title: str, body: str, csrf: str | None = None) -> str:
    """A page; with the session's CSRF token, a signed-in one with its sign-out form."""
    nav = (f'<nav><form method="post" action="/keluar">{_csrf_field(csrf)}<button type="submit">Keluar</button>'
           "</form></nav>" if csrf else "")
    return (f'<!doctype html><html lang="id"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)} · Rehsos Kalsel</title><style>{STYLE}</style></head><body>"
            f"<header><h1>Rehsos Kalsel — Dinas Sosial Provinsi Kalimantan Selatan</h1>"
            f"<p>{escape(title)}</p>{nav}</header><main>{body}</main></body></html>")


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")  # Indonesian thousands separator


PLAN_STATUS = {"usulan": "Usulan", "disetujui": "Disetujui", "dibangun": "Dibangun", "beroperasi": "Beroperasi"}
KIND_NAMES = {"panti": "Panti", "sentra": "Sentra", "lks": "LKS", "rumah_singgah": "Rumah Singgah"}


def capacity_section(plan: dict) -> str:
    """Open cases beside beds and planned centres, per regency: where capacity is missing."""
    rows = "".join(
        f'<tr><td class="l">{"Kota" if r["kind"] == "kota" else "Kabupaten"} {escape(r["name"])}</td>'
        f'<td class="num">{_n(r["open_cases"])}</td><td class="num">{_n(r["waiting"])}</td>'
        f'<td class="num">{_n(r["facilities"])}</td>'
        f'<td class="num">{_n(r["beds"])}</td><td class="num">{_n(r["occupied"])}</td><td class="num">{_n(r["free"])}</td>'
        f'<td class="num">{_n(r["planned_beds"])}</td>'
        f'<td class="num{" warn" if r["shortfall"] else ""}">{_n(r["shortfall"])}</td></tr>'
        for r in plan["regencies"])
    plan_rows = "".join(
        f'<tr><td class="l">{escape(p["name"])}</td><td class="l">{escape(KIND_NAMES.get(p["kind"], p["kind"]))}</td>'
        f'<td class="l">{escape(p["regency_name"])}</td>'
        f'<td class="l">{escape(", ".join(reference.PPKS_CATEGORIES[c].name_id for c in p["categories"]))}</td>'
        f'<td class="num">{_n(p["planned_capacity"])}</td><td class="num">{p["target_year"]}</td>'
        f'<td class="l">{PLAN_STATUS[p["status"]]}</td></tr>'
        for p in plan["plans"])
    as_of = plan["capacity_as_of"]
    return (
        "<h2>Kebutuhan, kapasitas, dan rencana per kabupaten/kota</h2>"
        "<p><small>Kasus aktif = terdaftar dan belum ditutup. Menunggu panti = sudah dirujuk, belum masuk "
        "dan belum ditolak. Tempat tidur dari fasilitas yang beroperasi"
        + (f" (data tertua {escape(as_of[:16].replace('T', ' '))} UTC)" if as_of else "")
        + ". Kekurangan = kasus aktif di atas tempat tidur yang ada dan yang direncanakan: petunjuk tekanan, "
        "bukan jumlah tempat tidur yang dibutuhkan (panti provinsi melayani semua kabupaten/kota).</small></p>"
        '<table><tr><th class="l">Kabupaten/Kota</th><th>Kasus aktif</th><th>Menunggu panti</th><th>Fasilitas</th><th>Tempat tidur</th>'
        f"<th>Terisi</th><th>Kosong</th><th>Rencana (tempat tidur)</th><th>Kekurangan</th></tr>{rows}</table>"
        "<h2>Rencana pusat rehabilitasi</h2>"
        + (f'<table><tr><th class="l">Nama</th><th class="l">Jenis</th><th class="l">Kabupaten/Kota</th>'
           f'<th class="l">Kategori PPKS</th><th>Kapasitas</th><th>Target</th><th class="l">Status</th></tr>{plan_rows}</table>'
           if plan_rows else "<p>Belum ada rencana pusat rehabilitasi.</p>"))


def dashboard(summary: dict, plan: dict, csrf: str | None = None) -> str:
    groups = list(GROUP_NAMES)
    regency_rows = []
    for r in summary["by_regency"]:
        per_group = {g: 0 for g in groups}
        for category, n in r["by_category"].items():
            per_group[reference.PPKS_CATEGORIES[category].group] += n
        cells = "".join(f'<td class="num">{_n(per_group[g])}</td>' for g in groups)
        kind = "Kota" if r["kind"] == "kota" else "Kabupaten"
        regency_rows.append(f'<tr><td class="l">{kind} {escape(r["name"])}</td><td class="l">{r["regency"]}</td>'
                            f'{cells}<td class="num"><b>{_n(r["cases"])}</b></td></tr>')
    group_heads = "".join(f"<th>{escape(GROUP_NAMES[g])}</th>" for g in groups)
    category_rows = "".join(
        f'<tr><td class="l">{escape(c["name"])}</td><td class="l">{escape(GROUP_NAMES[c["group"]])}</td>'
        f'<td class="num">{_n(c["cases"])}</td></tr>'
        for c in summary["by_category"] if c["cases"])
    stream_rows = "".join(
        f'<tr><td class="l">{escape(reference.region_name(s["node"]))} ({s["node"]})</td><td class="l">{s["service"]}</td>'
        f'<td class="num">{_n(s["received"])}</td><td class="num">{s["last_sequence"]}</td>'
        f'<td class="num{" warn" if s["missing"] else ""}">{_n(s["missing"])}</td></tr>'
        for s in summary["streams"])
    quarantined = summary["quarantined"]
    body = (
        f'<p>Jumlah kasus terdaftar: <b>{_n(summary["total_cases"])}</b> · '
        f'orang unik: <b>{_n(summary["unique_persons"])}</b> · '
        f'pesan dikarantina: <b class="{"warn" if quarantined else ""}">{_n(quarantined)}</b></p>'
        f"<h2>Kasus per kabupaten/kota dan kelompok PPKS</h2>"
        f'<table><tr><th class="l">Kabupaten/Kota</th><th class="l">Kode</th>{group_heads}<th>Jumlah</th></tr>'
        f'{"".join(regency_rows)}</table>'
        f"<h2>Kasus per kategori PPKS</h2>"
        + (f'<table><tr><th class="l">Kategori</th><th class="l">Kelompok</th><th>Jumlah</th></tr>{category_rows}</table>'
           if category_rows else "<p>Belum ada kasus yang diterima dari kabupaten/kota.</p>")
        + capacity_section(plan)
        + "<h2>Aliran data dari node</h2>"
        + (f'<table><tr><th class="l">Node</th><th class="l">Layanan</th><th>Event diterima</th>'
           f"<th>Urutan terakhir</th><th>Hilang</th></tr>{stream_rows}</table>"
           if stream_rows else "<p>Belum ada event yang diterima.</p>")
        + f'<p><small>Diperbarui {escape(summary["generated_at"][:19].replace("T", " "))} UTC. '
        f"Data bersifat pseudonim: nama, NIK, alamat, dan tanggal lahir tetap di kantor yang mendaftarkan.</small></p>"
    )
    return _page("Ringkasan Kasus PPKS Provinsi", body, csrf)


def login(csrf: str, error: str | None = None) -> str:
    message = f'<p class="warn">{escape(error)}</p>' if error else ""
    body = (f'<form class="card" method="post" action="/masuk"><h2>Masuk</h2>{message}{_csrf_field(csrf)}'
            f'<label for="token">Token akses (analis atau admin provinsi)</label>'
            f'<input type="password" id="token" name="token" required autocomplete="off">'
            f"<button type=submit>Masuk</button></form>")
    return _page("Masuk ke dasbor provinsi", body)
