"""Dates, numbers and office names the way an Indonesian reader expects them."""
from __future__ import annotations

from datetime import date

from rehsos import reference

MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")


def long_date(day: date) -> str:
    """``4 Desember 2024``."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def date_range(start: date, end: date) -> str:
    """``26–27 September 2024``; ``30 September – 1 Oktober 2024``; one day is just its date."""
    if start == end:
        return long_date(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.day} {MONTHS[end.month - 1]} {end.year}"
    if start.year == end.year:
        return f"{start.day} {MONTHS[start.month - 1]} – {long_date(end)}"
    return f"{long_date(start)} – {long_date(end)}"


def number(value: float | int, decimals: int = 0) -> str:
    """``1.234,5``: a dot between thousands, a comma before decimals."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def office_name(node: str) -> str:
    """The social office a node is: ``Dinas Sosial Provinsi Kalimantan Selatan``, ``Dinas Sosial Kota Banjarmasin``."""
    region = reference.REGIONS[node]
    if region.kind == "provinsi":
        return "Dinas Sosial Provinsi Kalimantan Selatan"
    return f"Dinas Sosial {'Kota' if region.kind == 'kota' else 'Kabupaten'} {region.name}"
