"""The monthly report (*laporan bulanan*) as a file: one row per regency (or the one asked for) for
one month, from :func:`reporting.caseload.monthly_report`, with Indonesian headers and what each
column means. A regency that sent nothing that month has empty cells (tidak ada data), never 0.
"""
from __future__ import annotations

from dataclasses import dataclass

from rehsos import indonesian
from rehsos.clock import now
from reporting import caseload, exports
from reporting.exports import Column

FORMATS = {"csv": exports.CSV_MIMETYPE, "xlsx": exports.XLSX_MIMETYPE}
_PER_10K = " per 10.000 penduduk (jumlah penduduk: kolom Penduduk)"
_OUTCOMES = {"positive": "hasil positif", "neutral": "hasil netral", "negative": "hasil negatif"}
_TS = ("kasus tuna sosial (gelandangan, pengemis, pemulung, tuna susila, bekas warga binaan lembaga "
       "pemasyarakatan, korban perdagangan orang)")

COLUMNS: tuple[Column, ...] = (
    Column("month", "Bulan", "Bulan laporan (YYYY-MM), dihitung dalam WITA."),
    Column("regency", "Kode wilayah", "Kode Kemendagri kabupaten/kota."),
    Column("name", "Kabupaten/Kota", "Nama kabupaten/kota."),
    Column("population", "Penduduk", "Jumlah penduduk, dasar angka per 10.000 penduduk."),
    Column("has_data_text", "Ada data", "\"ya\" bila node kabupaten/kota mengirim data untuk bulan ini; "
                                        "\"tidak\": semua angka baris ini kosong (tidak ada data), bukan nol."),
    Column("new", "Kasus baru", "Kasus yang dibuka dalam bulan ini."),
    Column("new_per_10k", "Kasus baru per 10.000", "Kasus baru" + _PER_10K + ".", 2),
    Column("active", "Kasus aktif", "Kasus yang masih terbuka pada akhir bulan."),
    Column("active_per_10k", "Kasus aktif per 10.000", "Kasus aktif" + _PER_10K + ".", 2),
    *(Column(f"closed_{o}", f"Ditutup, {label}", f"Kasus yang ditutup dalam bulan ini dengan {label}.")
      for o, label in _OUTCOMES.items()),
    *(Column(f"closed_{o}_per_10k", f"Ditutup, {label}, per 10.000",
             f"Kasus ditutup dengan {label}" + _PER_10K + ".", 2) for o, label in _OUTCOMES.items()),
    Column("reopened", "Dibuka kembali", "Kasus yang dibuka kembali dalam bulan ini."),
    Column("reopened_per_10k", "Dibuka kembali per 10.000", "Kasus dibuka kembali" + _PER_10K + ".", 2),
    Column("persons", "Orang unik (kasus aktif)", "Orang berbeda (menurut kunci pseudonim) yang punya kasus "
                                                  "terbuka pada akhir bulan."),
    Column("persons_per_10k", "Orang unik per 10.000", "Orang unik dengan kasus aktif" + _PER_10K + ".", 2),
    Column("new_persons", "Orang unik (kasus baru)", "Orang berbeda di antara kasus baru bulan ini."),
    Column("new_persons_per_10k", "Orang unik kasus baru per 10.000", "Orang unik kasus baru" + _PER_10K + ".", 2),
    Column("tuna_sosial_new", "Tuna sosial baru", f"Jumlah {_TS} yang dibuka dalam bulan ini."),
    Column("tuna_sosial_new_per_10k", "Tuna sosial baru per 10.000", "Tuna sosial baru" + _PER_10K + ".", 2),
    Column("tuna_sosial_active", "Tuna sosial aktif", f"Jumlah {_TS} yang terbuka pada akhir bulan."),
    Column("tuna_sosial_active_per_10k", "Tuna sosial aktif per 10.000", "Tuna sosial aktif" + _PER_10K + ".", 2),
    Column("tuna_sosial_new_year_before", "Tuna sosial baru setahun sebelumnya",
           "Tuna sosial baru pada bulan yang sama setahun sebelumnya (kosong: tidak ada data bulan itu)."),
    Column("tuna_sosial_active_year_before", "Tuna sosial aktif setahun sebelumnya",
           "Tuna sosial aktif pada akhir bulan yang sama setahun sebelumnya."),
    Column("tuna_sosial_new_change", "Perubahan tuna sosial baru",
           "Tuna sosial baru dikurangi angka setahun sebelumnya; negatif berarti turun."),
    Column("tuna_sosial_new_change_percent", "Perubahan tuna sosial baru (%)",
           "Perubahan dalam persen dari angka setahun sebelumnya; kosong bila angka itu nol atau tidak ada.", 1),
    Column("tuna_sosial_active_change", "Perubahan tuna sosial aktif",
           "Tuna sosial aktif dikurangi angka setahun sebelumnya; negatif berarti turun."),
    Column("tuna_sosial_active_change_percent", "Perubahan tuna sosial aktif (%)",
           "Perubahan dalam persen dari angka setahun sebelumnya; kosong bila angka itu nol atau tidak ada.", 1),
)


@dataclass(frozen=True)
class ReportFile:
    content: bytes
    media_type: str
    filename: str


def filename(month: str, regency: str | None, fmt: str) -> str:
    """``laporan-bulanan-6371-2026-10.xlsx``; the province's: ``laporan-bulanan-63-2026-10.csv``."""
    return f"laporan-bulanan-{regency or '63'}-{month}.{fmt}"


def monthly_report_file(session, month: str, regency: str | None, fmt: str) -> ReportFile:
    rows = [dict(r, has_data_text="ya" if r["has_data"] else "tidak")
            for r in caseload.monthly_report(session, month, regency)]
    if fmt == "csv":
        content = exports.to_csv(COLUMNS, rows)
    else:
        scope = {"Bulan": indonesian.month_name(month),
                 "Kabupaten/Kota": indonesian.region_label(regency) if regency else "Semua kabupaten/kota (provinsi)"}
        content = exports.to_xlsx(COLUMNS, rows, title=f"Laporan bulanan kasus PPKS, {indonesian.month_name(month)}",
                                  scope=scope, generated_at=now())
    return ReportFile(content, FORMATS[fmt], filename(month, regency, fmt))
