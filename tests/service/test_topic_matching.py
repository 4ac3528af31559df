"""The topic matcher of tests/domain/test_topology.py against a real RabbitMQ topic exchange: the
routing tests there only mean something if the matcher routes as the broker does."""
import uuid

import kombu
import pytest

from rehsos import topology
from rehsos.topology import Names
from tests.domain.test_topology import NODES, topic_matches

pytestmark = pytest.mark.broker

# Edge cases of "*" and "#" besides the binding keys the bootstrap declares.
EDGE_PATTERNS = ["#", "#.to.63", "*.to.63", "a.*.c", "a.#.c", "#.*", "*", "a.b.c"]
KEYS = ["", "a", "a.b.c", "a.c", "a.b.b.c", "a..c", "to.63", "a.b.to.63", "6371.intake.x.to.63",
        "6371.intake.x.to.6371", "6371.intake.x.to.63.more", "6371.intake.referral.requested.to.63",
        "hub.reporting.capacity.changed.to.all", "6303.intake.case.opened", "63.x.referral.accepted.to.6371"]


def declared_patterns() -> set[str]:
    """Every binding key the bootstrap declares on a topic exchange, hub and nodes."""
    names = Names()
    patterns = set()
    for decl in [topology.hub_declarations(names, NODES)] + [topology.node_declarations(names, n) for n in NODES]:
        topic = {e["name"] for e in decl["exchanges"] if e["type"] == "topic"}
        patterns |= {b["routing_key"] for b in decl["bindings"] if b["source"] in topic}
    return patterns


PATTERNS = sorted(set(EDGE_PATTERNS) | declared_patterns())


@pytest.fixture
def vhost(broker):
    """A throwaway vhost on the local RabbitMQ, removed after the test."""
    name = f"topic-match-{uuid.uuid4().hex[:8]}"
    broker.request("PUT", "vhosts", name)
    try:
        broker.request("PUT", "permissions", name, "guest", body={"configure": ".*", "write": ".*", "read": ".*"})
        yield name
    finally:
        broker.request("DELETE", "vhosts", name, ok=(200, 204, 404))


def test_topic_matcher_routes_as_rabbitmq_does(vhost):
    exchange = kombu.Exchange("topics", type="topic", durable=False)
    queues = {p: kombu.Queue(f"q{i}", exchange, routing_key=p, durable=False) for i, p in enumerate(PATTERNS)}
    with kombu.Connection(f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
                          transport_options={"confirm_publish": True}) as conn:
        channel = conn.default_channel
        for queue in queues.values():
            queue(channel).declare()
        producer = conn.Producer(channel)
        for key in KEYS:
            # With confirms, each message is in every queue it was routed to before the next line.
            producer.publish(key, exchange=exchange, routing_key=key, serializer="json", retry=False)
        arrived = {}
        for pattern, queue in queues.items():
            bound = queue(channel)
            keys = set()
            while (message := bound.get(no_ack=True)) is not None:
                keys.add(message.decode())
            arrived[pattern] = keys
    assert arrived == {p: {k for k in KEYS if topic_matches(p, k)} for p in PATTERNS}
