"""Calendar months as the province counts them: in WITA (Asia/Makassar, UTC+8), as "YYYY-MM".

The one place that turns a moment into a month: an event at 20:00 UTC on the last day of a month
already belongs to the next month in Banjarmasin.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rehsos.clock import now

# WITA has kept UTC+8 without daylight saving since 1988; a fixed offset needs no tz database
# (containers often lack one).
WITA = timezone(timedelta(hours=8), "WITA")


def month_of(moment: datetime) -> str:
    """The WITA month ("YYYY-MM") of an aware moment."""
    return moment.astimezone(WITA).strftime("%Y-%m")


def _parts(month: str) -> tuple[int, int]:
    year, number = month.split("-")
    return int(year), int(number)


def shift(month: str, months: int) -> str:
    """``month`` moved by ``months`` (negative: back); ``shift("2026-01", -12) == "2025-01"``."""
    year, number = _parts(month)
    index = year * 12 + number - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both included (empty when first > last)."""
    months = []
    while first <= last:
        months.append(first)
        first = shift(first, 1)
    return months


def count(first: str, last: str) -> int:
    (y1, m1), (y2, m2) = _parts(first), _parts(last)
    return (y2 - y1) * 12 + m2 - m1 + 1


def start(month: str) -> datetime:
    """The first moment of the month in WITA, as an aware UTC datetime."""
    year, number = _parts(month)
    return datetime(year, number, 1, tzinfo=WITA).astimezone(timezone.utc)


def current(moment: datetime | None = None) -> str:
    return month_of(moment or now())
