"""Shapes of reporting's API responses (documented in the OpenAPI document)."""
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
    last_received_at = f.Str(allow_none=True)


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
