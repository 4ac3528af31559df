"""Dates, numbers and office names the way an Indonesian reader expects them."""
from __future__ import annotations

from datetime import date

from rehsos import reference

MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")


def long_date(day: date) -> str:
    """``4 Desember 2024``."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def month_name(month: str) -> str:
    """``November 2026`` for the month ``"2026-11"``."""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def short_month(month: str) -> str:
    """``Nov 2026``: for a chart's axis, where the full name does not fit."""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1][:3]} {year}"


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


def region_label(code: str) -> str:
    """``Kota Banjarmasin``, ``Kabupaten Banjar``, ``Provinsi Kalimantan Selatan``."""
    region = reference.REGIONS[code]
    return region.name if region.kind == "provinsi" else f"{region.kind.capitalize()} {region.name}"


def office_name(node: str) -> str:
    """The social office a node is: ``Dinas Sosial Provinsi Kalimantan Selatan``, ``Dinas Sosial Kota Banjarmasin``."""
    region = reference.REGIONS[node]
    if region.kind == "provinsi":
        return "Dinas Sosial Provinsi Kalimantan Selatan"
    return f"Dinas Sosial {'Kota' if region.kind == 'kota' else 'Kabupaten'} {region.name}"
