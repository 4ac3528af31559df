"""Shapes of reporting's API requests and responses (documented in the OpenAPI document)."""
from marshmallow import validate

from rehsos import reference
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
