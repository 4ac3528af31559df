"""Event contracts shared by every producer and consumer.

``envelope`` defines the versioned envelope; ``events`` the payload schemas per event type and
version. Producers build events with :func:`make_event`; consumers parse raw messages with
:func:`parse_event`. Both run the same schemas.
"""
from rehsos.contracts.envelope import (  # noqa: F401
    Event,
    EventSchema,
    InvalidEvent,
    make_event,
    parse_event,
    routing_key,
)
from rehsos.contracts.events import PAYLOAD_SCHEMAS, payload_schema  # noqa: F401
