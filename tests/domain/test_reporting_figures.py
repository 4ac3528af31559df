"""The hub's figure math on known inputs: months in WITA, percentiles, referral timelines, the
monthly demand for beds and its projection (least squares, 80 % prediction interval)."""
import math
import statistics
from datetime import datetime, timedelta, timezone

import pytest

from rehsos.clock import add_months, month_end, month_of, month_start, months_between
from reporting.flows import Timeline, flow_figures, percentile
from reporting.planning import last_complete_month
from tests.demand_reference import demand_series
from reporting.trend import least_squares, project

UTC = timezone.utc


def test_a_month_is_the_provinces_month_wita():
    assert month_of(datetime(2026, 1, 31, 15, 59, tzinfo=UTC)) == "2026-01"
    assert month_of(datetime(2026, 1, 31, 16, 0, tzinfo=UTC)) == "2026-02"  # 00:00 WITA on 1 February
    assert month_start("2026-02") == datetime(2026, 1, 31, 16, 0, tzinfo=UTC)
    assert month_end("2025-12") == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    assert add_months("2026-01", -1) == "2025-12" and add_months("2025-11", 14) == "2027-01"
    assert months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months_between("2026-03", "2026-02") == []
    assert last_complete_month(datetime(2026, 1, 1, 1, tzinfo=UTC)) == "2025-12"
    with pytest.raises(ValueError):
        month_start("2026-13")


def test_percentiles_interpolate_between_ranks_as_the_standard_library_does():
    values = [7.0, 1.0, 3.0, 2.0, 4.0, 10.0, 5.5]
    assert percentile(values, 0.5) == statistics.median(values)
    assert percentile(values, 0.9) == pytest.approx(statistics.quantiles(values, n=10, method="inclusive")[8])
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)
    assert percentile([5.0], 0.9) == 5.0 and percentile([], 0.5) is None


T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def timeline(person="p", **steps):
    return Timeline(referral_id=person, regency="6371", facility_id="f", category="gelandangan", person=person,
                    requested_at=steps.pop("requested_at", T0), **steps)


def test_the_outcome_is_the_furthest_step_whatever_came_first():
    hours = lambda n: T0 + timedelta(hours=n)  # noqa: E731
    assert timeline().outcome == "requested"
    assert timeline(waitlisted_at=hours(1), accepted_at=hours(30)).outcome == "accepted"
    assert timeline(accepted_at=hours(1), rejected_at=hours(50)).outcome == "rejected"  # reservation lapsed
    assert timeline(rejected_at=hours(2), admitted_at=hours(3)).outcome == "admitted"
    assert timeline(admitted_at=hours(3), discharged_at=hours(300)).outcome == "discharged"


def test_response_and_admission_times():
    hours = lambda n: T0 + timedelta(hours=n)  # noqa: E731
    figures = flow_figures([
        timeline("a", waitlisted_at=hours(4), accepted_at=hours(2), admitted_at=hours(48)),  # first answer: 2 h
        timeline("b", rejected_at=hours(10)),
        timeline("c"),
        timeline("d", accepted_at=hours(6), admitted_at=hours(24 * 5)),
        timeline("e", accepted_at=T0 - timedelta(minutes=5)),  # a node's clock a little behind: 0, not negative
    ])
    assert figures["referrals"] == 5 and figures["answered"] == 4 and figures["admitted"] == 2
    assert figures["outcomes"] == {"requested": 1, "waitlisted": 0, "accepted": 1, "rejected": 1, "admitted": 2,
                                   "discharged": 0}
    assert figures["response_hours_median"] == 4.0  # of 0, 2, 6, 10
    assert figures["response_hours_p90"] == pytest.approx(8.8)  # 6 + 0.7 * 4
    assert figures["admission_days_median"] == 3.5  # of 2 and 5 days
    assert figures["admission_days_p90"] == pytest.approx(4.7)


def test_demand_at_each_month_end_counts_people_waiting_or_in_a_bed_once():
    wita = lambda y, m, d: datetime(y, m, d, 12, tzinfo=timezone(timedelta(hours=8)))  # noqa: E731
    items = [
        # Requested in January, admitted in March, discharged in May.
        timeline("ana", requested_at=wita(2026, 1, 10), admitted_at=wita(2026, 3, 1), discharged_at=wita(2026, 5, 3)),
        # The same person referred to a second facility: still one person.
        Timeline(referral_id="ana-2", regency="6371", facility_id="g", category=None, person="ana",
                 requested_at=wita(2026, 1, 20)),
        # Waitlisted in February, refused in April.
        timeline("budi", requested_at=wita(2026, 2, 5), waitlisted_at=wita(2026, 2, 6), rejected_at=wita(2026, 4, 9)),
        # Requested on the last day of March at 23:30 WITA: waiting at the end of March.
        timeline("citra", requested_at=datetime(2026, 3, 31, 15, 30, tzinfo=UTC)),
        # Requested at 00:30 WITA on 1 April: not yet at the end of March.
        timeline("dewi", requested_at=datetime(2026, 3, 31, 16, 30, tzinfo=UTC)),
    ]
    months = ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    assert demand_series(items, months) == [0, 1, 2, 3, 3, 3]
    # May: ana still waiting on her second referral; citra and dewi waiting; budi refused.


def test_least_squares_matches_the_standard_library():
    ys = [3.0, 5.0, 4.0, 8.0, 9.0, 8.0, 12.0]
    fitted = statistics.linear_regression(range(len(ys)), ys)
    line = least_squares(ys)
    assert line.slope == pytest.approx(fitted.slope) and line.intercept == pytest.approx(fitted.intercept)
    assert least_squares([4.0]).slope == 0 and least_squares([4.0]).at(12) == 4.0


def test_projection_with_its_80_percent_prediction_interval_worked_by_hand():
    # ys = 1, 3, 2, 4 at x = 0..3: x̄ = 1.5, Sxx = 5, Sxy = 4, slope 0.8, intercept 1.3; residuals
    # -0.3, 0.9, -0.9, 0.3: SSR 1.8, s = √0.9. Twelve months after x = 3 is x₀ = 15: 1.3 + 0.8·15 = 13.3.
    # Half-width t(0.90; 2 df) = 1.886 × s × √(1 + 1/4 + 13.5²/5).
    p = project([1.0, 3.0, 2.0, 4.0], ahead=12)
    half = 1.886 * math.sqrt(0.9) * math.sqrt(1 + 0.25 + 13.5 ** 2 / 5)
    assert p.slope == pytest.approx(0.8) and p.value == pytest.approx(13.3)
    assert p.low == pytest.approx(13.3 - half) and p.high == pytest.approx(13.3 + half)
    assert not p.reliable and p.months == 4


def test_a_straight_history_projects_exactly_and_a_short_one_is_not_reliable():
    straight = project([float(10 + 2 * x) for x in range(8)], ahead=12)  # 10, 12, ..., 24
    assert straight.value == pytest.approx(24 + 24) and straight.low == pytest.approx(48) and straight.reliable
    two = project([5.0, 7.0])
    assert two.value == pytest.approx(7 + 24) and two.low is None and two.high is None and not two.reliable
    assert project([5.0] * 6).reliable and not project([5.0] * 5).reliable


def test_demand_never_projects_below_nobody():
    falling = project([30.0, 25.0, 21.0, 14.0, 10.0, 6.0])
    assert falling.value == 0.0 and falling.low == 0.0 and falling.high >= 0.0


def test_every_month_filter_refuses_a_year_the_figures_cannot_step_back_from():
    from reporting.schemas import FiguresQuerySchema, ReferralFlowQuerySchema
    assert "to" in ReferralFlowQuerySchema().validate({"to": "0000-01"})
    assert "from" in ReferralFlowQuerySchema().validate({"from": "0000-01"})
    assert "to" in FiguresQuerySchema().validate({"to": "0000-01"})
    assert ReferralFlowQuerySchema().validate({"from": "2025-01", "to": "2026-01"}) == {}
