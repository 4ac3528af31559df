"""Where to build next: the monthly demand counted by spells (planning.demand_series) is what
counting each timeline's state at every month's end gives (Timeline.waiting_at / in_bed_at),
for timelines of every shape: answered in any order, unanswered, refused, admitted, discharged."""
import random
from datetime import timedelta

from rehsos.clock import month_end, month_start, months_between
from reporting.flows import Timeline
from tests.demand_reference import demand_series

MONTHS = months_between("2024-01", "2025-12")


def by_state(items, months):
    return [len({t.person for t in items if t.waiting_at(month_end(m)) or t.in_bed_at(month_end(m))})
            for m in months]


def test_demand_by_spells_equals_demand_by_state_at_each_month_end():
    rng = random.Random(7)
    start = month_start("2023-10")

    def moment():
        if rng.random() < 0.25:
            return None
        # now and then exactly at a month's end, where < and <= part
        return month_end(rng.choice(MONTHS)) if rng.random() < 0.2 else start + timedelta(hours=rng.randrange(24 * 900))

    items = [Timeline(referral_id=str(i), regency="6371", facility_id="f", category=None,
                      person=f"p{rng.randrange(300)}", requested_at=moment(), accepted_at=moment(),
                      rejected_at=moment(), waitlisted_at=moment(), admitted_at=moment(), discharged_at=moment())
             for i in range(2000)]
    expected = by_state(items, MONTHS)
    assert demand_series(items, MONTHS) == expected and max(expected) > 0
    assert demand_series(items[:1], MONTHS[:3]) == by_state(items[:1], MONTHS[:3])
