"""Tables for a spreadsheet: the same rows as CSV (UTF-8 with a BOM, so Excel reads the accents)
and as XLSX with a "Keterangan" sheet that says what each column means, for which month and
regency, when the file was made and where the figures come from.

A missing value (a regency that sent nothing that month) is an empty cell, never 0, and the
Keterangan sheet says so: an empty cell means *tidak ada data*.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from rehsos import indonesian
from rehsos.clock import WITA

NO_DATA = "tidak ada data"
SOURCE = ("Hub Rehsos Kalsel (Dinas Sosial Provinsi Kalimantan Selatan): event pseudonim yang dikirim node "
          "kabupaten/kota; tanpa nama, NIK, alamat, atau tanggal lahir.")
CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    """One column of an export: the row's ``key``, its Indonesian header, and what it means."""
    key: str
    header: str
    description: str
    decimals: int = 0  # how a number is shown in the spreadsheet (the value itself is kept whole)


def to_csv(columns: Iterable[Column], rows: Iterable[Mapping]) -> bytes:
    """Comma-separated, a header line of Indonesian headers, numbers with a decimal point (what
    other programs read); a missing value is an empty field."""
    columns = list(columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    for row in rows:
        writer.writerow(["" if row.get(c.key) is None else row[c.key] for c in columns])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(columns: Iterable[Column], rows: Iterable[Mapping], *, title: str, scope: Mapping[str, str],
            generated_at: datetime, source: str = SOURCE) -> bytes:
    """A workbook with the data sheet "Data" and the header sheet "Keterangan". ``scope`` names
    what the figures cover, e.g. ``{"Bulan": "November 2026", "Kabupaten/Kota": "Semua"}``."""
    columns = list(columns)
    book = Workbook()
    data = book.active
    data.title = "Data"
    data.append([c.header for c in columns])
    for cell in data[1]:
        cell.font = Font(bold=True)
    for row in rows:
        data.append([row.get(c.key) for c in columns])  # None is an empty cell
    for index, column in enumerate(columns, start=1):
        letter = data.cell(row=1, column=index).column_letter
        data.column_dimensions[letter].width = max(12, min(40, len(column.header) + 2))
        number_format = "#,##0" if column.decimals == 0 else "#,##0." + "0" * column.decimals
        for (cell,) in data.iter_rows(min_row=2, min_col=index, max_col=index):
            if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                cell.number_format = number_format
    data.freeze_panes = "A2"

    notes = book.create_sheet("Keterangan")
    notes.append([title])
    notes["A1"].font = Font(bold=True, size=13)
    notes.append([])
    for label, value in scope.items():
        notes.append([label, value])
    local = generated_at.astimezone(WITA)
    notes.append(["Dibuat", f"{indonesian.long_date(local.date())} pukul {local:%H.%M} WITA"])
    notes.append(["Sumber data", source])
    notes.append(["Sel kosong", f"{NO_DATA.capitalize()}: kabupaten/kota itu tidak mengirim data untuk periode "
                                "tersebut (bukan nol)."])
    notes.append([])
    notes.append(["Kolom", "Keterangan"])
    notes.cell(row=notes.max_row, column=1).font = Font(bold=True)
    notes.cell(row=notes.max_row, column=2).font = Font(bold=True)
    for column in columns:
        notes.append([column.header, column.description])
    notes.column_dimensions["A"].width = 28
    notes.column_dimensions["B"].width = 90
    for (cell,) in notes.iter_rows(min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
