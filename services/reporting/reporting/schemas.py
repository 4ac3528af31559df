"""Shapes of reporting's API requests and responses (documented in the OpenAPI document)."""
from marshmallow import ValidationError, post_load, validate, validates_schema

from rehsos import clock, reference
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


# -- sync health ------------------------------------------------------------------------------------
class SyncLastEventSchema(f.Schema):
    event_type = f.Str(metadata={"description": "type of the newest event from the node (heartbeats not counted)"})
    service = f.Str(metadata={"description": "the node service that published it"})
    occurred_at = f.Str(metadata={"description": "when it happened at the node (UTC, ISO 8601)"})
    received_at = f.Str(metadata={"description": "when the hub accepted it (UTC, ISO 8601)"})
    age_seconds = f.Float(metadata={"description": "seconds since the hub accepted it"})


class SyncHeartbeatServiceSchema(f.Schema):
    service = f.Str(metadata={"description": "the node service that sent the heartbeat"})
    as_of = f.Str(metadata={"description": "the time in its newest heartbeat (node clock, UTC)"})
    outbox_waiting = f.Int(metadata={"description": "its outbox rows not yet published at that time"})


class SyncHeartbeatSchema(f.Schema):
    received_at = f.Str(metadata={"description": "when the hub accepted the node's newest heartbeat"})
    age_seconds = f.Float(metadata={"description": "seconds since then"})
    services = f.List(f.Nested(SyncHeartbeatServiceSchema),
                      metadata={"description": "the newest heartbeat of each of the node's services"})


class SyncLagSchema(f.Schema):
    events = f.Int(metadata={"description": "how many of the node's most recent events were measured (at most 100)"})
    median_seconds = f.Float(allow_none=True, metadata={
        "description": "median of received_at − occurred_at over those events; null without events"})
    max_seconds = f.Float(allow_none=True, metadata={"description": "largest received_at − occurred_at among them"})


class SyncMissingRangeSchema(f.Schema):
    first = f.Int(metadata={"description": "first missing sequence number"})
    last = f.Int(metadata={"description": "last missing sequence number"})
    repair = f.Str(metadata={"description": "waiting (seen; the hub asks once it is still open at the next check) "
                                            "or requested (the hub asked the node to send it again)"})


class SyncServiceSchema(f.Schema):
    service = f.Str(metadata={"description": "node service (its own stream of sequence numbers)"})
    received = f.Int(metadata={"description": "events received from it"})
    last_sequence = f.Int(allow_none=True, metadata={"description": "highest sequence received; null if none"})
    last_received_at = f.Str(allow_none=True, metadata={"description": "when its newest event was accepted"})
    missing = f.Int(metadata={"description": "sequence numbers below the highest not received (gaps)"})
    missing_ranges = f.List(f.Nested(SyncMissingRangeSchema), metadata={"description": "each gap and its repair"})
    resend_requested_at = f.Str(allow_none=True, metadata={"description": "the hub's last request to resend"})
    resend_requests = f.Int(metadata={"description": "how often the hub asked this stream to resend"})


class SyncQuarantineSchema(f.Schema):
    refused = f.Int(metadata={"description": "messages from the node refused as invalid or not allowed"})
    dead_letters = f.Int(metadata={"description": "valid events from the node that kept failing"})
    dead_letters_waiting = f.Int(metadata={"description": "dead letters not yet redriven"})
    last_at = f.Str(allow_none=True, metadata={"description": "when the newest of them arrived"})


class SyncSchemaVersionSchema(f.Schema):
    event_type = f.Str(metadata={"description": "event type received from the node"})
    schema_version = f.Int(metadata={"description": "contract version it came in"})
    events = f.Int(metadata={"description": "events of this type and version in the event store"})
    last_received_at = f.Str(metadata={"description": "when the newest of them was accepted"})


class SyncNodeSchema(f.Schema):
    node = f.Str(metadata={"description": "office code (63 the province office, 63xx a kabupaten/kota)"})
    name = f.Str(metadata={"description": "office's region name"})
    status = f.Str(metadata={"description": (
        "ok (label *lancar*: heard from within two heartbeat intervals), late (*terlambat*: no event and no "
        "heartbeat for more than two heartbeat intervals), silent (*tidak ada data*: nothing ever received)")})
    status_label = f.Str(metadata={"description": "the status in Bahasa Indonesia: lancar, terlambat, tidak ada data"})
    last_heard_at = f.Str(allow_none=True, metadata={"description": "newest event or heartbeat accepted from it"})
    last_heard_age_seconds = f.Float(allow_none=True, metadata={"description": "seconds since last_heard_at"})
    last_event = f.Nested(SyncLastEventSchema, allow_none=True, metadata={"description": "null if none yet"})
    last_heartbeat = f.Nested(SyncHeartbeatSchema, allow_none=True, metadata={"description": "null if none yet"})
    lag = f.Nested(SyncLagSchema, metadata={"description": "delay between an event at the node and at the hub"})
    services = f.List(f.Nested(SyncServiceSchema), metadata={"description": "per node service: events and gaps"})
    quarantine = f.Nested(SyncQuarantineSchema, metadata={"description": "messages from the node not applied"})
    schema_versions = f.List(f.Nested(SyncSchemaVersionSchema),
                             metadata={"description": "event types and contract versions the node sends"})


class SyncHealthSchema(f.Schema):
    generated_at = f.Str(metadata={"description": "when this answer was made (UTC)"})
    heartbeat_interval_seconds = f.Float(metadata={"description": "the hub's heartbeat_interval setting"})
    late_after_seconds = f.Float(metadata={"description": "silence after which a node that was heard is late"})
    nodes = f.List(f.Nested(SyncNodeSchema), metadata={"description": "all 14 offices, heard from or not"})


# -- case figures over time ----------------------------------------------------------------------------
# Years 1900-2099: a month a year before must still be a month (year 0000 has none before it).
# Years 1900-2099 only: a year 0000 has no month before it (the figures' ranges step back a year).
MONTH_PATTERN = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"
MONTH = validate.Regexp(MONTH_PATTERN, error="Bulan harus berformat YYYY-MM, mis. 2026-01.")
MAX_MONTHS = 120


class FiguresQuerySchema(f.Schema):
    """The filters every figure shares: a range of months (WITA), a regency, a PPKS category."""

    RULES = {"from": f"not after `to` (default: this month, WITA); at most {MAX_MONTHS} months up to it"}
    from_ = f.Str(data_key="from", attribute="from", validate=MONTH,
                  metadata={"description": "first month, YYYY-MM (default: 11 months before `to`)"})
    to = f.Str(validate=MONTH, metadata={"description": "last month, YYYY-MM (default: this month, WITA)"})
    regency = f.Str(validate=f.one_of(tuple(reference.REGENCIES), "Kode kabupaten/kota"),
                    metadata={"description": "only this regency (Kemendagri code, e.g. 6371)"})
    category = f.Str(validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES), error="Kategori PPKS tidak dikenal."),
                     metadata={"description": "only cases of this PPKS category"})

    @validates_schema
    def _a_range_of_at_most_120_months(self, data, **kwargs):
        last = data.get("to") or clock.current_month()
        first = data.get("from") or clock.add_months(last, -11)
        if first > last:
            raise ValidationError("Bulan awal tidak boleh sesudah bulan akhir.", "from")
        if clock.months_count(first, last) > MAX_MONTHS:
            raise ValidationError(f"Rentang paling banyak {MAX_MONTHS} bulan.", "from")

    @post_load
    def _defaults(self, data, **kwargs):
        data["to"] = data.get("to") or clock.current_month()
        data["from"] = data.get("from") or clock.add_months(data["to"], -11)
        data.setdefault("regency", None)
        data.setdefault("category", None)
        return data


class FiltersSchema(f.Schema):
    from_ = f.Str(data_key="from", attribute="from", metadata={"description": "first month shown (YYYY-MM, WITA)"})
    to = f.Str(metadata={"description": "last month shown"})
    regency = f.Str(allow_none=True, metadata={"description": "the regency asked for, or null for all 13"})
    category = f.Str(allow_none=True, metadata={"description": "the PPKS category asked for, or null for all"})


_NO_DATA = " (null when the regency's node sent nothing for the month: tidak ada data)"


class OutcomeCountsSchema(f.Schema):
    positive = f.Int(allow_none=True)
    neutral = f.Int(allow_none=True)
    negative = f.Int(allow_none=True)


class OutcomeRatesSchema(f.Schema):
    positive = f.Float(allow_none=True)
    neutral = f.Float(allow_none=True)
    negative = f.Float(allow_none=True)


class _CaseValues(f.Schema):
    new = f.Int(allow_none=True, metadata={"description": "cases opened in the month" + _NO_DATA})
    active = f.Int(allow_none=True, metadata={"description": "cases open at the month's end" + _NO_DATA})
    closed = f.Nested(OutcomeCountsSchema, metadata={"description": "closures in the month by outcome" + _NO_DATA})
    reopened = f.Int(allow_none=True, metadata={"description": "reopenings in the month" + _NO_DATA})
    persons = f.Int(allow_none=True, metadata={
        "description": "unique persons (by person key, after NIK attachments and merges) with a case open at the "
                       "month's end" + _NO_DATA})
    new_persons = f.Int(allow_none=True, metadata={"description": "unique persons among the new cases" + _NO_DATA})
    new_per_10k = f.Float(allow_none=True, metadata={"description": "new per 10,000 inhabitants"})
    active_per_10k = f.Float(allow_none=True, metadata={"description": "active per 10,000 inhabitants"})
    closed_per_10k = f.Nested(OutcomeRatesSchema, metadata={"description": "closures per 10,000 inhabitants"})
    reopened_per_10k = f.Float(allow_none=True)
    persons_per_10k = f.Float(allow_none=True)
    new_persons_per_10k = f.Float(allow_none=True)


class RegencyMonthSchema(_CaseValues):
    month = f.Str(metadata={"description": "YYYY-MM (WITA)"})
    has_data = f.Bool(metadata={"description": "whether the regency's node sent anything that occurred in the month; "
                                               "false: every figure is null (tidak ada data), never 0"})


class _Regency(f.Schema):
    regency = f.Str(metadata={"description": "Kemendagri code"})
    name = f.Str()
    population = f.Int(metadata={"description": "inhabitants (see population_source)"})


class RegencyCasesSchema(_Regency):
    months = f.List(f.Nested(RegencyMonthSchema))


class _ProvinceMonth(f.Schema):
    month = f.Str()
    regencies_with_data = f.List(f.Str(), metadata={"description": "regencies whose figures the totals add up"})
    regencies_without_data = f.List(f.Str(), metadata={
        "description": "regencies whose node sent nothing for the month: left out of the totals (tidak ada data)"})


class ProvinceMonthSchema(_CaseValues, _ProvinceMonth):
    population_with_data = f.Int(metadata={"description": "inhabitants of the regencies with data (the base of "
                                                          "the per-10,000 figures)"})


class ProvinceCasesSchema(f.Schema):
    population = f.Int(metadata={"description": "inhabitants of the regencies selected"})
    months = f.List(f.Nested(ProvinceMonthSchema), metadata={
        "description": "totals over the selected regencies with data; persons are unique across regencies"})


class StageMonthSchema(f.Schema):
    month = f.Str()
    active = f.Int(allow_none=True, metadata={"description": "cases open at the month's end in this stage, over "
                                                             "the regencies with data (null: none has data)"})


class StageSeriesSchema(f.Schema):
    stage = f.Str()
    name = f.Str()
    months = f.List(f.Nested(StageMonthSchema))


class CategoryMonthSchema(f.Schema):
    month = f.Str()
    new = f.Int(allow_none=True)
    active = f.Int(allow_none=True)


class CategorySeriesSchema(f.Schema):
    category = f.Str()
    name = f.Str()
    group = f.Str()
    months = f.List(f.Nested(CategoryMonthSchema), metadata={"description": "over the regencies with data"})


class CaseFiguresSchema(f.Schema):
    generated_at = f.Str()
    filters = f.Nested(FiltersSchema)
    months = f.List(f.Str(), metadata={"description": "the months shown, oldest first"})
    population_source = f.Str(metadata={"description": "where the inhabitants come from"})
    province = f.Nested(ProvinceCasesSchema)
    regencies = f.List(f.Nested(RegencyCasesSchema))
    by_stage = f.List(f.Nested(StageSeriesSchema), metadata={"description": "active cases per rehabilitation stage"})
    by_category = f.List(f.Nested(CategorySeriesSchema))


class _TrendValues(f.Schema):
    new = f.Int(allow_none=True, metadata={"description": "tuna sosial cases opened in the month" + _NO_DATA})
    active = f.Int(allow_none=True, metadata={"description": "tuna sosial cases open at the month's end" + _NO_DATA})
    new_per_10k = f.Float(allow_none=True)
    active_per_10k = f.Float(allow_none=True)
    new_year_before = f.Int(allow_none=True, metadata={"description": "new in the same month a year earlier"})
    active_year_before = f.Int(allow_none=True, metadata={"description": "active in the same month a year earlier"})
    new_change = f.Int(allow_none=True, metadata={
        "description": "new minus new a year earlier; null when either month has no data"})
    new_change_percent = f.Float(allow_none=True, metadata={
        "description": "the change in percent of a year earlier; null also when that was 0"})
    active_change = f.Int(allow_none=True)
    active_change_percent = f.Float(allow_none=True)


class TrendMonthSchema(_TrendValues):
    month = f.Str()
    has_data = f.Bool()


class RegencyTrendSchema(_Regency):
    months = f.List(f.Nested(TrendMonthSchema))


class ProvinceTrendMonthSchema(_TrendValues, _ProvinceMonth):
    regencies_compared = f.List(f.Str(), metadata={
        "description": "regencies with data in both the month and a year earlier: the change is over these only"})


class ProvinceTrendSchema(f.Schema):
    population = f.Int()
    months = f.List(f.Nested(ProvinceTrendMonthSchema))


class TunaSosialTrendSchema(f.Schema):
    generated_at = f.Str()
    filters = f.Nested(FiltersSchema)
    months = f.List(f.Str())
    categories = f.List(f.Str(), metadata={"description": "the PPKS categories of the tuna sosial group counted"})
    population_source = f.Str()
    province = f.Nested(ProvinceTrendSchema)
    regencies = f.List(f.Nested(RegencyTrendSchema))


class DisabilityTypeSchema(f.Schema):
    disability = f.Str()
    name = f.Str()
    registered = f.Int(allow_none=True, metadata={
        "description": "unique persons registered with this type by the month's end (in the regency where they "
                       "were registered)" + _NO_DATA})
    with_active_case = f.Int(allow_none=True, metadata={
        "description": "of them, persons with a case open at the month's end (of the category asked for, if any)"})
    registered_per_10k = f.Float(allow_none=True)
    with_active_case_per_10k = f.Float(allow_none=True)


class DisabilityMonthSchema(f.Schema):
    month = f.Str()
    has_data = f.Bool()
    types = f.List(f.Nested(DisabilityTypeSchema))


class RegencyDisabilitySchema(_Regency):
    months = f.List(f.Nested(DisabilityMonthSchema))


class ProvinceDisabilityMonthSchema(_ProvinceMonth):
    population_with_data = f.Int()
    types = f.List(f.Nested(DisabilityTypeSchema), metadata={"description": "persons unique across regencies"})


class ProvinceDisabilitySchema(f.Schema):
    population = f.Int()
    months = f.List(f.Nested(ProvinceDisabilityMonthSchema))


class DisabilityCoverageSchema(f.Schema):
    generated_at = f.Str()
    filters = f.Nested(FiltersSchema)
    months = f.List(f.Str())
    population_source = f.Str()
    province = f.Nested(ProvinceDisabilitySchema)
    regencies = f.List(f.Nested(RegencyDisabilitySchema))


# -- figures: referral flows, occupancy, training coverage, where to build next ---------------------
_REGENCY = f.Str(validate=validate.OneOf(tuple(reference.REGENCIES), error="Kabupaten/kota tidak dikenal."),
                 metadata={"description": "only this regency (code, e.g. 6371)"})
_CATEGORY = f.Str(validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES), error="Kategori PPKS tidak dikenal."),
                  metadata={"description": "only this PPKS category"})


class PlaceQuerySchema(f.Schema):
    """Where: one regency and one PPKS category, or all."""
    regency = _REGENCY
    category = _CATEGORY


class ReferralFlowQuerySchema(PlaceQuerySchema):
    RULES = {"to": "not before `from`"}
    from_month = f.Str(data_key="from", validate=MONTH,
                       metadata={"description": "first month (YYYY-MM, WITA) of the requests counted"})
    to_month = f.Str(data_key="to", validate=MONTH,
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


class MonthlyReportQuerySchema(f.Schema):
    """Which monthly report (laporan bulanan), and as which file."""
    month = f.Str(required=True, validate=MONTH, metadata=_d("the month reported, YYYY-MM (WITA)"))
    regency = f.Str(validate=validate.OneOf(tuple(reference.REGENCIES), error="Kabupaten/kota tidak dikenal."),
                    load_default=None, metadata=_d("only this regency (code, e.g. 6371); default: all 13"))
    format = f.Str(validate=validate.OneOf(("csv", "xlsx"), error="Format harus csv atau xlsx."), load_default="xlsx",
                   metadata=_d("csv (UTF-8 with BOM) or xlsx (with a Keterangan sheet); default xlsx"))


class MonthlyReportPageSchema(f.Schema):
    """The monthly report's download link on the pages (Indonesian names, like the page filters)."""
    bulan = f.Str(required=True, validate=MONTH, metadata=_d("the month reported, YYYY-MM (WITA)"))
    kabupaten = f.Str(validate=validate.OneOf(tuple(reference.REGENCIES), error="Kabupaten/kota tidak dikenal."),
                      load_default=None, metadata=_d("only this regency"))
    format = f.Str(validate=validate.OneOf(("csv", "xlsx"), error="Format harus csv atau xlsx."),
                   load_default="xlsx", metadata=_d("csv or xlsx"))




class PageFilterSchema(f.Schema):
    """The filters of the dashboard pages, as their GET form sends them (Indonesian names: they
    show in the address a person shares). An empty field means "all"."""
    dari = f.Str(validate=validate.Regexp(MONTH_PATTERN, error="Gunakan format TTTT-BB, misalnya 2026-01."),
                 metadata={"description": "first month (YYYY-MM, WITA)"})
    sampai = f.Str(validate=validate.Regexp(MONTH_PATTERN, error="Gunakan format TTTT-BB, misalnya 2026-12."),
                   metadata={"description": "last month (YYYY-MM, WITA), included"})
    kabupaten = f.Str(validate=validate.OneOf(tuple(reference.REGENCIES), error="Kabupaten/kota tidak dikenal."),
                      metadata={"description": "one regency's code"})
    kategori = f.Str(validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES), error="Kategori PPKS tidak dikenal."),
                     metadata={"description": "one PPKS category"})

    @validates_schema
    def _range(self, data, **kwargs):
        first, last = data.get("dari"), data.get("sampai")
        if first and last:
            if first > last:
                raise ValidationError({"sampai": ["Bulan akhir tidak boleh sebelum bulan awal."]})
            if clock.months_count(first, last) > MAX_MONTHS:
                raise ValidationError({"sampai": [f"Rentang paling panjang {MAX_MONTHS} bulan."]})
