"""The where-to-build reference the demand summary is tested against: people waiting for a bed or
in one at each month's end, counted from the referral timelines themselves (what the hub did
before the summary, reporting_0013)."""
from __future__ import annotations

import bisect

from rehsos.clock import month_end, month_of
from reporting.flows import Timeline


def demand_series(items: list[Timeline], months: list[str]) -> list[int]:
    """People waiting for a bed or in one at the end of each month (WITA), each person once."""
    ends = [month_end(month) for month in months]
    people: list[set] = [set() for _ in months]
    for t in items:
        # Waiting at a moment after the request up to the first admission, refusal or discharge
        # (Timeline.waiting_at), in a bed after the admission up to the discharge (in_bed_at).
        stops = [at for at in (t.admitted_at, t.rejected_at, t.discharged_at) if at is not None]
        spells = [(t.requested_at, min(stops) if stops else None), (t.admitted_at, t.discharged_at)]
        counted = set()
        for start, stop in spells:
            if start is not None:
                counted.update(range(bisect.bisect_right(ends, start),
                                     len(ends) if stop is None else bisect.bisect_right(ends, stop)))
        for i in counted:
            people[i].add(t.person)
    return [len(p) for p in people]


def first_month(items: list[Timeline]) -> str | None:
    months = [month_of(t.requested_at) for t in items if t.requested_at is not None]
    return min(months) if months else None
