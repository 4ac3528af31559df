"""The one clock: aware UTC datetimes everywhere (stored, sent and compared), and the province's
months ("YYYY-MM"): Kalimantan Selatan keeps WITA (UTC+8) all year, so a month starts at 00:00
WITA. Every service and tool turns moments into months here, nowhere else."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

WITA = timezone(timedelta(hours=8), "WITA")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")  # "YYYY-MM"


def now() -> datetime:
    return datetime.now(timezone.utc)


def month_of(moment: datetime) -> str:
    """The province's month ("YYYY-MM") an aware moment falls in: 23:30 UTC on 31 January is
    already February in Banjarmasin."""
    return moment.astimezone(WITA).strftime("%Y-%m")


def month_start(month: str) -> datetime:
    """The first instant of a month ("YYYY-MM") in WITA, as an aware UTC datetime."""
    found = MONTH.match(month)
    if not found:
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return datetime(int(found[1]), int(found[2]), 1, tzinfo=WITA).astimezone(timezone.utc)


def add_months(month: str, count: int) -> str:
    """The month ``count`` months after ``month`` (before it when negative)."""
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def next_month(month: str) -> str:
    return add_months(month, 1)


def month_end(month: str) -> datetime:
    """The end of a month (exclusive): the first instant of the next one, in WITA."""
    return month_start(next_month(month))


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both included (empty when ``first`` is later)."""
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def months_count(first: str, last: str) -> int:
    """How many months ``months_between(first, last)`` holds, without listing them (0 when
    ``first`` is later): a request's range is checked before anything is built for it."""
    index = int(last[:4]) * 12 + int(last[5:7]) - int(first[:4]) * 12 - int(first[5:7]) + 1
    return max(index, 0)


def current_month() -> str:
    """The province's month now."""
    return month_of(now())
