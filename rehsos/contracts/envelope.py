"""The event envelope every office sends (architecture.md, "Events").

``schema_version`` versions an event type's contract: a consumer validates the payload with the
schema registered for exactly that (event_type, schema_version) pair, so a producer can move to
version 2 while consumers still read version 1.
"""
from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from marshmallow import ValidationError, validate, validates_schema

from rehsos import registry
from rehsos.clock import now
from rehsos.config import HUB
from rehsos.contracts import fields as f, jsontext
from rehsos.contracts.events import PAYLOAD_SCHEMAS, latest_version, payload_schema
from rehsos.reference import NODES

CONTENT_TYPE = "application/json"


class InvalidEvent(Exception):
    """A message that is not a valid event; ``details`` holds per-field messages."""

    def __init__(self, reason: str, details: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class Event:
    event_type: str
    schema_version: int
    node: str
    service: str
    payload: dict
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=now)
    sequence: int | None = None  # assigned by the outbox in the producing transaction

    def with_sequence(self, sequence: int) -> "Event":
        return replace(self, sequence=sequence)

    def to_json(self) -> str:
        return json.dumps(_event_schema().dump(self), separators=(",", ":"), sort_keys=True)


class _Payload(f.Dict):
    """The envelope's payload: an object of at most 64 fields named by text of 1 to 64 storable
    characters, any JSON values (the payload's own contract bounds them). A payload of that shape,
    which is nearly every one, is taken (and written back) in one pass instead of one key field
    per name; any other takes the Dict's own way, for its messages."""

    def _shaped(self, value) -> bool:
        return type(value) is dict and all(type(k) is str and 0 < len(k) <= 64 and not f.UNSTORABLE.search(k)
                                           for k in value)

    def _deserialize(self, value, attr, data, **kwargs):
        return dict(value) if self._shaped(value) else super()._deserialize(value, attr, data, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return dict(value) if self._shaped(value) else super()._serialize(value, attr, obj, **kwargs)


class EventSchema(f.Schema):
    event_id = f.UUID(required=True)
    event_type = f.Str(required=True, validate=validate.OneOf(
        sorted({t for t, _ in PAYLOAD_SCHEMAS}), error="Jenis event tidak dikenal."))
    schema_version = f.Int(required=True, strict=True, validate=validate.Range(min=1))
    node = f.Str(required=True, validate=validate.OneOf(NODES + (HUB,), error="Node tidak dikenal."))
    service = f.Str(required=True, validate=validate.OneOf(registry.NAMES, error="Layanan tidak dikenal."))
    sequence = f.Int(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = f.AwareDateTime(required=True)
    # Only the shape here; the payload's own contract bounds each field (_payload_matches_type).
    payload = _Payload(required=True, keys=f.Str(validate=validate.Length(1, 64)), values=f.Raw(allow_none=True),
                       validate=validate.Length(max=64))

    @validates_schema
    def _payload_matches_type(self, data, **kwargs):
        key = (data.get("event_type"), data.get("schema_version"))
        if None in key or "payload" not in data:
            return
        schema = PAYLOAD_SCHEMAS.get(key)
        if schema is None:
            raise ValidationError("Versi skema event tidak dikenal.", "schema_version")
        errors = payload_schema(*key).validate(data["payload"])
        if errors:
            raise ValidationError(errors, "payload")


@functools.cache
def _event_schema() -> "EventSchema":
    return EventSchema()  # one, shared (see payload_schema)


def make_event(event_type: str, payload: dict, *, node: str, service: str,
               schema_version: int | None = None) -> Event:
    """Build an event the way producers must: the payload goes through its contract schema, and
    the service publishes this type (its registry entry says so)."""
    if not registry.publishes(service, event_type):
        raise ValueError(f"{service} does not publish {event_type}: add it to its entry in rehsos.registry")
    version = schema_version or latest_version(event_type)
    schema = payload_schema(event_type, version)
    # dump() would silently drop undeclared keys; a producer that adds one (a name, a NIK) must hear of it.
    undeclared = sorted(set(payload) - set(schema.fields))
    if undeclared:
        raise ValueError(f"{event_type} v{version} payload has fields outside its contract: {undeclared}")
    dumped = schema.dump(payload)
    errors = schema.validate(dumped)
    if errors:  # a producer bug, never user input: fail loudly before anything is written
        raise ValueError(f"{event_type} v{version} payload does not match its contract: {errors}")
    return Event(event_type=event_type, schema_version=version, node=node, service=service, payload=dumped)


def parse_event(body: bytes | str) -> Event:
    """Validate a raw message body against the envelope and its payload contract."""
    try:
        data = jsontext.loads(body)
    except jsontext.TooDeep as exc:
        raise InvalidEvent(f"body is nested too deep: {exc}") from None
    except (TypeError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidEvent("body is not a JSON object")
    try:
        loaded = _event_schema().load(data)
    except ValidationError as exc:
        raise InvalidEvent("envelope or payload fails its schema", exc.messages) from None
    loaded["payload"] = data["payload"]  # keep the wire form; consumers read it through the schema
    return Event(**loaded)


def routing_key(event: Event, target: str | None = None) -> str:
    """``<node>.<service>.<event_type>[.to.<target>]``; ``to.<node>`` routes down to one node.

    A direct event (personal data of officials, ``DIRECT_EVENTS``) is ``direct.<node>...to.<node>``:
    the hub's broker passes it from the sender's uplink to the target's downlink only, past its
    event exchange, so no hub consumer ever receives or stores it.
    """
    key = f"{event.node}.{event.service}.{event.event_type}"
    if event.event_type in registry.DIRECT_EVENTS:
        if not target or target == "all":
            raise ValueError(f"{event.event_type} goes to one node: name the target")
        return f"direct.{key}.to.{target}"
    return f"{key}.to.{target}" if target else key
