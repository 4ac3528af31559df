"""Shapes of reporting's API requests and responses (documented in the OpenAPI document)."""
from marshmallow import ValidationError, validate, validates_schema

from rehsos import reference
from rehsos.clock import MONTH
from rehsos.contracts import fields as f


class CellSchema(f.Schema):
    regency = f.Str()
    category = f.Str()
    cases = f.Int()


class RegencyCountSchema(f.Schema):
    regency = f.Str()
    name = f.Str()
    kind = f.Str()
    cases = f.Int()
    by_category = f.Dict(keys=f.Str(), values=f.Int())


class CategoryCountSchema(f.Schema):
    category = f.Str()
    name = f.Str()
    group = f.Str()
    cases = f.Int()


class StreamSchema(f.Schema):
    node = f.Str()
    service = f.Str()
    received = f.Int()
    last_sequence = f.Int()
    missing = f.Int(metadata={"description": "sequence numbers not yet received (gaps)"})
    missing_ranges = f.List(f.List(f.Int()), metadata={"description": "[first, last] of each gap"})
    last_received_at = f.Str(allow_none=True)
    resend_requested_at = f.Str(allow_none=True, metadata={"description": "the hub's last request to resend"})
    resend_requests = f.Int()


class SummarySchema(f.Schema):
    generated_at = f.Str()
    total_cases = f.Int()
    unique_persons = f.Int()
    by_regency = f.List(f.Nested(RegencyCountSchema))
    by_category = f.List(f.Nested(CategoryCountSchema))
    cells = f.List(f.Nested(CellSchema))
    streams = f.List(f.Nested(StreamSchema))
    quarantined = f.Int()


class QuarantineEntrySchema(f.Schema):
    id = f.Int()
    received_at = f.Str()
    queue = f.Str()
    sender = f.Str(allow_none=True)
    routing_key = f.Str(allow_none=True)
    event_id = f.Str(allow_none=True)
    reason = f.Str()
    kind = f.Str(metadata={"description": "refused (invalid or not allowed; kept as digest and field names) or "
                                          "dead_letter (a valid event that kept failing; can be redriven)"})
    fields = f.List(f.Str(), allow_none=True, metadata={"description": "the field names the message had"})
    attempts = f.Int(allow_none=True)
    redriven_at = f.Str(allow_none=True)
    redrive_outcome = f.Str(allow_none=True)


class RedriveResultSchema(f.Schema):
    id = f.Int()
    outcome = f.Str(metadata={"description": "applied, duplicate, ignored, refused, or failed (still failing; kept)"})
    error = f.Str(allow_none=True)


class CapacityPlanQuerySchema(f.Schema):
    category = f.Str(validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES), error="Kategori PPKS tidak dikenal."),
                     metadata={"description": "only this PPKS category's cases, facilities and plans"})


class RegencyCapacitySchema(f.Schema):
    regency = f.Str()
    name = f.Str()
    kind = f.Str()
    open_cases = f.Int(metadata={"description": "cases registered and not closed (demand)"})
    waiting = f.Int(metadata={"description": "cases referred to a facility and not yet admitted or refused"})
    facilities = f.Int(metadata={"description": "operating facilities in the regency"})
    beds = f.Int()
    occupied = f.Int()
    free = f.Int()
    plans = f.Int(metadata={"description": "planned centres not yet operating"})
    planned_beds = f.Int()
    shortfall = f.Int(metadata={"description": "open cases beyond beds and planned beds (a pressure indicator)"})


class PlanSummarySchema(f.Schema):
    plan_id = f.Str()
    node = f.Str()
    regency = f.Str()
    regency_name = f.Str()
    name = f.Str()
    kind = f.Str()
    categories = f.List(f.Str())
    planned_capacity = f.Int()
    target_year = f.Int()
    status = f.Str()


class CapacityPlanSchema(f.Schema):
    generated_at = f.Str()
    category = f.Str(allow_none=True)
    capacity_as_of = f.Str(allow_none=True, metadata={"description": "the oldest capacity snapshot used"})
    regencies = f.List(f.Nested(RegencyCapacitySchema))
    plans = f.List(f.Nested(PlanSummarySchema))


class _Gain(f.Schema):
    scored = f.Int(metadata={"description": "participants with both a pre-test and a post-test score"})
    pre_average = f.Float(allow_none=True)
    post_average = f.Float(allow_none=True)
    gain = f.Float(allow_none=True, metadata={"description": "average post-test minus average pre-test"})


class TrainingEventCountsSchema(_Gain):
    event_id = f.Str()
    node = f.Str(metadata={"description": "the organiser"})
    kind = f.Str(allow_none=True)
    title = f.Str(allow_none=True)
    theme = f.Str(allow_none=True)
    start_date = f.Date(allow_none=True)
    end_date = f.Date(allow_none=True)
    days = f.Int(allow_none=True)
    quota = f.Int(allow_none=True)
    status = f.Str()
    topics = f.List(f.Str())
    demo = f.Bool()
    registered = f.Int()
    waitlisted = f.Int()
    attended = f.Int(metadata={"description": "registered participants present on at least one day"})
    completed = f.Int()


class TrainingCoverageSchema(f.Schema):
    regency = f.Str()
    name = f.Str()
    open_cases = f.Int()
    registered = f.Int()
    attended = f.Int()
    completed = f.Int()
    trained_pekerja_sosial = f.Int(metadata={"description": "completions by social workers from the regency"})
    trained_pendamping_disabilitas = f.Int(metadata={"description": "completions by disability companions"})
    trained_per_100_open_cases = f.Float(allow_none=True)


class _RoleGain(_Gain):
    role = f.Str()
    completed = f.Int()


class _ThemeGain(_Gain):
    theme = f.Str()


class TrainingOverviewSchema(f.Schema):
    generated_at = f.Str()
    events = f.List(f.Nested(TrainingEventCountsSchema))
    regencies = f.List(f.Nested(TrainingCoverageSchema))
    by_role = f.List(f.Nested(_RoleGain))
    by_theme = f.List(f.Nested(_ThemeGain))


# -- figures: referral flows, occupancy, training coverage, where to build next ---------------------
_REGENCY = f.Str(validate=validate.OneOf(tuple(reference.REGENCIES), error="Kabupaten/kota tidak dikenal."),
                 metadata={"description": "only this regency (code, e.g. 6371)"})
_CATEGORY = f.Str(validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES), error="Kategori PPKS tidak dikenal."),
                  metadata={"description": "only this PPKS category"})
_MONTH = validate.Regexp(MONTH, error="Bulan harus berformat YYYY-MM (misalnya 2026-01).")


class FiguresQuerySchema(f.Schema):
    regency = _REGENCY
    category = _CATEGORY


class ReferralFlowQuerySchema(FiguresQuerySchema):
    from_month = f.Str(data_key="from", validate=_MONTH,
                       metadata={"description": "first month (YYYY-MM, WITA) of the requests counted"})
    to_month = f.Str(data_key="to", validate=_MONTH,
                     metadata={"description": "last month (YYYY-MM, WITA) of the requests counted"})

    @validates_schema
    def _months_in_order(self, data, **kwargs):
        if data.get("from_month") and data.get("to_month") and data["from_month"] > data["to_month"]:
            raise ValidationError("Bulan akhir tidak boleh sebelum bulan awal.", "to")


class TrainingQuerySchema(f.Schema):
    regency = f.Str(validate=validate.OneOf(reference.NODES, error="Kabupaten/kota tidak dikenal."),
                    metadata={"description": "only this office's participants (63: the province office)"})
    category = f.Str(validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES), error="Kategori PPKS tidak dikenal."),
                     metadata={"description": "the caseload counts only this PPKS category's open cases"})


def _d(text: str) -> dict:
    return {"description": text}


class ReferralOutcomesSchema(f.Schema):
    requested = f.Int(metadata=_d("no answer yet"))
    waitlisted = f.Int(metadata=_d("on the facility's waiting list (no later answer)"))
    accepted = f.Int(metadata=_d("a bed reserved, not yet admitted"))
    rejected = f.Int(metadata=_d("refused, or an acceptance whose reservation lapsed"))
    admitted = f.Int(metadata=_d("in the facility"))
    discharged = f.Int(metadata=_d("left the facility"))


class _FlowFigures(f.Schema):
    referrals = f.Int(metadata=_d("referrals requested (in the months chosen)"))
    outcomes = f.Nested(ReferralOutcomesSchema, metadata=_d("referrals by the furthest step reached"))
    answered = f.Int(metadata=_d("referrals with an answer and a known request time"))
    response_hours_median = f.Float(allow_none=True, metadata=_d("median hours from request to first answer"))
    response_hours_p90 = f.Float(allow_none=True, metadata=_d("90th percentile of hours from request to first answer"))
    admitted = f.Int(metadata=_d("referrals admitted (including discharged since)"))
    admission_days_median = f.Float(allow_none=True, metadata=_d("median days from request to admission"))
    admission_days_p90 = f.Float(allow_none=True, metadata=_d("90th percentile of days from request to admission"))


class ReferralFlowSchema(_FlowFigures):
    regency = f.Str(metadata=_d("the referring regency: the referred case's region"))
    regency_name = f.Str()
    facility_id = f.Str()
    facility_name = f.Str(allow_none=True, metadata=_d("null until the facility's capacity snapshot arrives"))
    facility_regency = f.Str(allow_none=True, metadata=_d("where the facility stands"))


class ReferralFlowsSchema(f.Schema):
    generated_at = f.Str()
    regency = f.Str(allow_none=True)
    category = f.Str(allow_none=True)
    from_month = f.Str(data_key="from", allow_none=True)
    to_month = f.Str(data_key="to", allow_none=True)
    flows = f.List(f.Nested(ReferralFlowSchema), metadata=_d("per referring regency × facility"))
    total = f.Nested(_FlowFigures, metadata=_d("all referrals chosen"))


class _Beds(f.Schema):
    beds = f.Int()
    occupied = f.Int()
    free = f.Int()
    occupancy_percent = f.Float(allow_none=True, metadata=_d("occupied / beds × 100; null without beds"))
    alert = f.Bool(metadata=_d("occupancy at or above alert_percent"))


class UnitOccupancySchema(_Beds):
    name = f.Str()
    sex = f.Str()


class FacilityOccupancySchema(_Beds):
    facility_id = f.Str()
    name = f.Str()
    kind = f.Str()
    node = f.Str(metadata=_d("the node that reports it"))
    regency = f.Str()
    regency_name = f.Str()
    categories = f.List(f.Str())
    status = f.Str(metadata=_d("operational, temporarily_closed or planned"))
    waitlisted = f.Int(metadata=_d("referrals on its waiting list now (a referral names the facility, not a unit)"))
    as_of = f.Str(metadata=_d("time of the newest capacity snapshot"))
    data_age_hours = f.Float(metadata=_d("hours since as_of: how stale the figures may be"))
    units = f.List(f.Nested(UnitOccupancySchema))


class _Waitlisted(f.Schema):
    facility_id = f.Str()
    waitlisted = f.Int()


class FacilitiesFiguresSchema(f.Schema):
    generated_at = f.Str()
    regency = f.Str(allow_none=True)
    category = f.Str(allow_none=True)
    alert_percent = f.Float(metadata=_d("occupancy from which a facility or unit raises the alert"))
    alerts = f.Int(metadata=_d("facilities with the alert"))
    facilities = f.List(f.Nested(FacilityOccupancySchema))
    waitlisted_without_snapshot = f.List(f.Nested(_Waitlisted), metadata=_d(
        "waitlisted referrals at facilities whose capacity the hub has not received"))


class TrainingRegencySchema(f.Schema):
    regency = f.Str(metadata=_d("the participants' office (63: the province office)"))
    name = f.Str()
    open_cases = f.Int(metadata=_d("the caseload: cases registered and not closed"))
    registered = f.Int()
    attended = f.Int()
    completed = f.Int(metadata=_d("completions in every role"))
    trained_pekerja_sosial = f.Int(metadata=_d("completions by social workers (one person twice counts twice)"))
    trained_pendamping_disabilitas = f.Int(metadata=_d("completions by disability companions"))
    trained = f.Int(metadata=_d("social workers and disability companions together"))
    pekerja_sosial_per_100_open_cases = f.Float(allow_none=True)
    pendamping_disabilitas_per_100_open_cases = f.Float(allow_none=True)
    trained_per_100_open_cases = f.Float(allow_none=True, metadata=_d("null without open cases"))
    open_cases_per_trained = f.Float(allow_none=True, metadata=_d("open cases per trained worker; null without any"))


class TrainingEventGainSchema(_Gain):
    event_id = f.Str()
    node = f.Str(metadata=_d("the organiser"))
    kind = f.Str(allow_none=True)
    title = f.Str(allow_none=True)
    theme = f.Str(allow_none=True)
    start_date = f.Date(allow_none=True)
    end_date = f.Date(allow_none=True)
    status = f.Str()
    completed = f.Int()


class TrainingFiguresSchema(f.Schema):
    generated_at = f.Str()
    regency = f.Str(allow_none=True)
    category = f.Str(allow_none=True)
    regencies = f.List(f.Nested(TrainingRegencySchema))
    events = f.List(f.Nested(TrainingEventGainSchema), metadata=_d(
        "events not cancelled, with the gain of the participants chosen; per topic is not sent to the hub"))
    by_theme = f.List(f.Nested(_ThemeGain))


class DemandMonthSchema(f.Schema):
    month = f.Str(metadata=_d("YYYY-MM (WITA)"))
    demand = f.Int(metadata=_d("people waiting for a bed or in one at the month's end"))


class WhereToBuildRegencySchema(f.Schema):
    rank = f.Int(allow_none=True, metadata=_d("1 = the largest projected shortfall; null without history"))
    regency = f.Str()
    name = f.Str()
    kind = f.Str()
    people_waiting = f.Int(metadata=_d("people referred and not yet admitted nor refused (requested, waitlisted, "
                                       "accepted), now"))
    people_in_bed = f.Int(metadata=_d("people admitted and not discharged, now"))
    open_cases = f.Int()
    facilities = f.Int(metadata=_d("operating facilities in the regency"))
    beds = f.Int(metadata=_d("beds in service in the regency"))
    plans = f.Int(metadata=_d("planned centres not yet operating"))
    planned_beds = f.Int()
    history = f.List(f.Nested(DemandMonthSchema), metadata=_d("the months fitted (at most window_months)"))
    months_used = f.Int()
    reliable = f.Bool(metadata=_d("at least min_reliable_months months of history"))
    trend_per_month = f.Float(allow_none=True, metadata=_d("slope of the least-squares line: people per month"))
    projected_demand = f.Float(allow_none=True, metadata=_d("demand at projected_month on the line (>= 0)"))
    projected_demand_low = f.Float(allow_none=True, metadata=_d("lower end of the prediction interval; null "
                                                                "with fewer than 3 months"))
    projected_demand_high = f.Float(allow_none=True, metadata=_d("upper end of the prediction interval"))
    projected_shortfall = f.Float(allow_none=True, metadata=_d("projected_demand - beds - planned_beds; "
                                                               "negative: more beds than demand"))
    projected_shortfall_low = f.Float(allow_none=True)
    projected_shortfall_high = f.Float(allow_none=True)


class WhereToBuildSchema(f.Schema):
    generated_at = f.Str()
    regency = f.Str(allow_none=True)
    category = f.Str(allow_none=True)
    history_until = f.Str(metadata=_d("the last complete month (WITA) of the history"))
    projected_month = f.Str(metadata=_d("the month projected: history_until + horizon_months"))
    horizon_months = f.Int()
    window_months = f.Int(metadata=_d("at most this many months are fitted"))
    interval_percent = f.Int(metadata=_d("the prediction interval's coverage"))
    min_reliable_months = f.Int()
    method = f.Str(metadata=_d("the method and its uncertainty, in plain Indonesian, for the page"))
    regencies = f.List(f.Nested(WhereToBuildRegencySchema), metadata=_d("ranked by projected shortfall, those "
                                                                         "without history last"))
