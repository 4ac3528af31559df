"""Shapes of reporting's API requests and responses (documented in the OpenAPI document)."""
from marshmallow import ValidationError, validate, validates_schema

from rehsos import reference
from rehsos.contracts import fields as f
from reporting import months


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


MONTH_PATTERN = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"
MAX_MONTHS = 120


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
            if months.count(first, last) > MAX_MONTHS:
                raise ValidationError({"sampai": [f"Rentang paling panjang {MAX_MONTHS} bulan."]})
