"""Payload contracts, one schema per (event_type, schema_version).

Payloads that leave a node are pseudonymous: no name, NIK, address or exact birth date
(domain.md, UU 27/2022). A person is a keyed hash (`person_key`), an age is a band.
"""
from __future__ import annotations

from marshmallow import Schema, validate

from rehsos import reference
from rehsos.contracts import fields as f
from rehsos.privacy import AGE_BANDS, PERSON_KEY_KINDS, SEXES


class CaseRegisteredV1(f.Schema):
    """``case.registered`` v1: a regency registered a PPKS case (*kasus*)."""
    case_id = f.UUID(required=True)
    person_key = f.Str(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    person_key_kind = f.Str(required=True, validate=validate.OneOf(PERSON_KEY_KINDS))
    age_band = f.Str(required=True, validate=validate.OneOf(AGE_BANDS))
    sex = f.Str(required=True, validate=validate.OneOf(SEXES))
    category = f.Str(required=True, validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES)))
    region = f.Str(required=True, validate=validate.OneOf(tuple(reference.REGENCIES)))


PAYLOAD_SCHEMAS: dict[tuple[str, int], type[Schema]] = {
    ("case.registered", 1): CaseRegisteredV1,
}


def latest_version(event_type: str) -> int:
    versions = [v for t, v in PAYLOAD_SCHEMAS if t == event_type]
    if not versions:
        raise KeyError(f"no contract for event type {event_type!r}")
    return max(versions)


def payload_schema(event_type: str, version: int) -> Schema:
    return PAYLOAD_SCHEMAS[(event_type, version)]()
