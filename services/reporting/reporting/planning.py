"""Planned centres beside demand, and where to build next: each regency's demand for a bed,
month by month from the referral timelines (summed in the demand tally the flows projection
keeps), carried a year ahead from its own trend."""
from __future__ import annotations

from collections import Counter
from datetime import datetime

import sqlalchemy as sa

from rehsos import reference
from rehsos.clock import add_months, month_of, months_between, now
from reporting import domain, flows, trend
from reporting.models import DemandTally

HORIZON_MONTHS = 12
# The line is fitted on at most this many months: older ones say little about next year.
WINDOW_MONTHS = 24

METHOD = f"""\
Apa yang dihitung. Untuk setiap kabupaten/kota, kebutuhan tempat tidur pada akhir setiap bulan \
(pukul 24.00 WITA) adalah jumlah orang yang sedang menunggu tempat di panti (rujukannya sudah \
diajukan, masuk daftar tunggu atau sudah diterima, tetapi orangnya belum masuk panti dan rujukannya \
tidak ditolak) ditambah jumlah orang yang sedang tinggal di panti (sudah masuk dan belum keluar). \
Orang dihitung menurut kabupaten/kota asal kasusnya, bukan menurut letak panti; satu orang dengan \
dua rujukan dihitung satu kali.

Cara memproyeksikan. Dari angka akhir bulan itu (paling banyak {WINDOW_MONTHS} bulan terakhir yang \
sudah selesai) ditarik satu garis lurus yang paling dekat dengan semua titik (metode kuadrat \
terkecil). Kemiringan garis itu adalah kenaikan atau penurunan rata-rata per bulan. Garis itu \
diteruskan {HORIZON_MONTHS} bulan ke depan. Kekurangan tempat tidur adalah proyeksi kebutuhan \
dikurangi tempat tidur di panti yang sudah beroperasi di kabupaten/kota itu dan tempat tidur pusat \
rehabilitasi yang direncanakan di sana (usulan, disetujui atau sedang dibangun). Angka negatif \
berarti tempat tidur yang ada dan yang direncanakan lebih dari proyeksi kebutuhan. Daftar diurutkan \
dari kekurangan terbesar.

Arti rentang. Rentang bawah sampai atas adalah rentang prediksi {trend.INTERVAL_PERCENT} %: bila \
kecenderungan bulan-bulan lalu berlanjut dengan naik-turun yang sama besarnya, kebutuhan \
{HORIZON_MONTHS} bulan lagi diperkirakan berada di dalam rentang itu kira-kira 8 dari 10 kali. \
Makin tidak teratur angka bulanannya atau makin pendek riwayatnya, makin lebar rentangnya. Bila \
riwayatnya kurang dari {trend.MIN_RELIABLE_MONTHS} bulan, proyeksi ditandai "belum dapat \
diandalkan"; bila kurang dari 3 bulan, rentangnya tidak dapat dihitung.

Hal yang perlu diingat. Ini perkiraan, bukan kepastian: kecenderungan dapat berubah karena \
kebijakan, penjangkauan, bencana, atau karena sebuah kantor baru mulai atau berhenti mencatat di \
sistem. Hanya rujukan yang tercatat di sistem yang terhitung; orang yang membutuhkan panti tetapi \
tidak dirujuk tidak terlihat. Panti milik provinsi melayani warga dari semua kabupaten/kota: \
tempat tidurnya dihitung di kabupaten/kota tempat panti itu berdiri, padahal penghuninya datang \
dari mana-mana, sehingga kekurangan suatu daerah dapat sebagian tertutup oleh panti provinsi di \
daerah lain."""


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def last_complete_month(at: datetime) -> str:
    return add_months(month_of(at), -1)


def demand_history(session, category: str | None, last: str) -> dict[str, tuple[list[str], list[int]]]:
    """Per regency: the months of its history (from its first request, at most the last
    WINDOW_MONTHS up to ``last``) and the people waiting for a bed or in one at each month's end,
    as the referrals' timelines give them (tests/demand_reference.py): summed from the demand tally."""
    t = DemandTally
    changes: dict[str, dict[str, Counter]] = {}
    for region, month, measure, n in session.execute(
            sa.select(t.region, t.month, t.measure, t.n)
            .where(t.category == (category or flows.ANY), t.region.in_(list(reference.REGENCIES)), t.n != 0)):
        changes.setdefault(measure, {}).setdefault(region, Counter())[month] += n
    result = {}
    for code, requested in changes.get("requested", {}).items():
        months = months_between(min(requested), last)[-WINDOW_MONTHS:]
        demand = changes.get("demand", {}).get(code, Counter())
        level = sum(n for month, n in demand.items() if months and month < months[0])
        series = []
        for month in months:
            level += demand[month]
            series.append(level)
        result[code] = (months, series)
    return result


def where_to_build(session, regency: str | None = None, category: str | None = None) -> dict:
    """Per regency: people waiting for a bed and in one now, beside beds in service and planned;
    the monthly demand, its projection a year ahead with an 80 % band, and the shortfall it leaves,
    ranked from the largest."""
    at = now()
    last = last_complete_month(at)
    capacity = {row["regency"]: row for row in domain.capacity_plan(session, category)["regencies"]}
    histories = demand_history(session, category, last)
    people = flows.people_now(session, at, category)
    rows = []
    for code, region in reference.REGENCIES.items():
        place, (months, history) = capacity[code], histories.get(code, ([], []))
        waiting, in_bed = people.get(code, (0, 0))
        supply = place["beds"] + place["planned_beds"]
        row = {"regency": code, "name": region.name, "kind": region.kind,
               "people_waiting": waiting, "people_in_bed": in_bed,
               "open_cases": place["open_cases"], "facilities": place["facilities"], "beds": place["beds"],
               "plans": place["plans"], "planned_beds": place["planned_beds"],
               "history": [{"month": m, "demand": d} for m, d in zip(months, history)],
               "months_used": len(history), "reliable": False, "trend_per_month": None,
               "projected_demand": None, "projected_demand_low": None, "projected_demand_high": None,
               "projected_shortfall": None, "projected_shortfall_low": None, "projected_shortfall_high": None}
        # TODO(issue 12): projected_shortfall_per_10000 once population reference data is on this
        # branch (another helper adds it); not invented here.
        if history:
            p = trend.project(history, HORIZON_MONTHS)
            row.update(reliable=p.reliable, trend_per_month=_round(p.slope), projected_demand=_round(p.value),
                       projected_demand_low=_round(p.low), projected_demand_high=_round(p.high),
                       projected_shortfall=_round(p.value - supply),
                       projected_shortfall_low=_round(None if p.low is None else p.low - supply),
                       projected_shortfall_high=_round(None if p.high is None else p.high - supply))
        rows.append(row)
    ranked = sorted((r for r in rows if r["projected_shortfall"] is not None),
                    key=lambda r: (-r["projected_shortfall"], r["regency"]))
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank
    unranked = [dict(r, rank=None) for r in rows if r["projected_shortfall"] is None]
    regencies = ranked + unranked
    if regency:
        regencies = [r for r in regencies if r["regency"] == regency]
    return {"generated_at": at.isoformat(), "regency": regency, "category": category,
            "history_until": last, "projected_month": add_months(last, HORIZON_MONTHS),
            "horizon_months": HORIZON_MONTHS,
            "window_months": WINDOW_MONTHS, "interval_percent": trend.INTERVAL_PERCENT,
            "min_reliable_months": trend.MIN_RELIABLE_MONTHS, "method": METHOD, "regencies": regencies}
