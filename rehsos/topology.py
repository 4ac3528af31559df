"""The RabbitMQ topology of the province: one source of truth for names, queues and shovels.

Uplink (node → hub): services publish on the node's ``rehsos.events`` exchange; the quorum
queue ``uplink`` keeps everything until the node's ``uplink`` shovel, logged in to the hub as
``node-<code>``, has it confirmed by the hub (``ack-mode: on-confirm``). The shovel stamps
``user_id``; RabbitMQ refuses a ``user_id`` that is not the connection's user, so the hub can
trust it. The node user may write to its own ``uplink.<code>`` exchange only.

Downlink (hub → nodes): routing keys ending in ``.to.<code>`` (or ``.to.all``) reach the hub
queue ``downlink.<code>``, which the node's ``downlink`` shovel pulls into the node's
``rehsos.downlink`` exchange. Routing is bindings only: an event a node addresses to another node
travels up and down without forwarding code.

Each service's inbound queue comes from the registry (``rehsos.registry``): a node service's
``<service>.downlink`` bound to the event types it consumes, a hub service's ``<service>.events``
bound to every node's uplink. This module only describes the topology (definitions-file shape
and the kombu objects services consume); ``rehsos_tools.broker`` applies it.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from kombu import Exchange, Queue

from rehsos import registry

EVENTS_EXCHANGE = "rehsos.events"  # the node broker's exchange for domain events
DOWNLINK_EXCHANGE = "rehsos.downlink"
NODE_UNROUTED_EXCHANGE = "rehsos.unrouted"
UPLINK_QUEUE = "uplink"
NODE_UNROUTED_QUEUE = "unrouted"
NODE_QUARANTINE_EXCHANGE = "rehsos.quarantine"
QUARANTINE_QUEUE = "quarantine"

HUB_EVENTS_EXCHANGE = "hub.events"
HUB_DOWNLINK_EXCHANGE = "hub.downlink"
HUB_QUARANTINE_EXCHANGE = "hub.quarantine"
# A message that keeps failing is redelivered with growing delays (rehsos.messaging.retry_delay)
# and, at the last of this many deliveries, recorded as a dead letter and sent to the quarantine:
# with the default delays that is about 13 minutes of a database or a request being away.
DELIVERY_LIMIT = 20
# The quarantine queue is the broker's raw copy; the quarantine table is the record. Bounded, so a
# flood of bad messages cannot fill the broker's disk (beyond it the broker refuses the copy).
QUARANTINE_MAX_LENGTH = 10_000

QUORUM = {"x-queue-type": "quorum"}


def uplink_exchange(node: str) -> str:
    return f"uplink.{node}"


def downlink_queue(node: str) -> str:
    return f"downlink.{node}"


def publish_exchange(site: str) -> str:
    """Where a service's outbox relay publishes: a node's events go up, the hub's straight down."""
    return HUB_DOWNLINK_EXCHANGE if site == registry.HUB else EVENTS_EXCHANGE


@dataclass(frozen=True)
class Names:
    """Vhost and user names; a namespace keeps test topologies apart from the development one."""
    namespace: str = ""

    @property
    def hub_vhost(self) -> str:
        return f"{self.namespace}hub"

    def node_vhost(self, node: str) -> str:
        return f"{self.namespace}node-{node}"

    def node_user(self, node: str) -> str:
        return f"{self.namespace}node-{node}"

    def sender_node(self, user_id: str | None) -> str | None:
        prefix = f"{self.namespace}node-"
        if user_id and user_id.startswith(prefix):
            return user_id[len(prefix):]
        return None


# -- declarations (definitions-file shape) -------------------------------------------------------
def _exchange(vhost, name, type_="topic", arguments=None):
    return {"vhost": vhost, "name": name, "type": type_, "durable": True, "auto_delete": False,
            "internal": False, "arguments": arguments or {}}


def _quarantine_queue(vhost):
    return _queue(vhost, QUARANTINE_QUEUE, {"x-max-length": QUARANTINE_MAX_LENGTH, "x-overflow": "reject-publish"})


def _queue(vhost, name, arguments=None):
    return {"vhost": vhost, "name": name, "durable": True, "auto_delete": False,
            "arguments": {**QUORUM, **(arguments or {})}}


def _binding(vhost, source, destination, routing_key, destination_type="queue"):
    return {"vhost": vhost, "source": source, "destination": destination,
            "destination_type": destination_type, "routing_key": routing_key, "arguments": {}}


def consumer_queue_arguments(site: str) -> dict:
    """Bounded redelivery, then the site's quarantine exchange."""
    quarantine = HUB_QUARANTINE_EXCHANGE if site == registry.HUB else NODE_QUARANTINE_EXCHANGE
    return {"x-delivery-limit": DELIVERY_LIMIT, "x-dead-letter-exchange": quarantine,
            "x-dead-letter-strategy": "at-most-once"}


def forwarded_keys(node: str) -> list[str]:
    """What the hub passes on from a node to other nodes: only the event types the node's services
    publish and some node service consumes, addressed (``.to.*``), so a node cannot flood the
    others' downlinks with anything else. Direct events (officials' names for one other node) go
    as ``direct.``, past hub.events and so past every hub consumer."""
    consumed = {t for spec in registry.at(registry.NODE) for t in spec.consumes}
    keys = []
    for spec in registry.at(registry.NODE):
        for event_type in spec.publishes:
            if event_type in consumed:
                prefix = "direct." if event_type in registry.DIRECT_EVENTS else ""
                keys.append(f"{prefix}{node}.{spec.name}.{event_type}.to.*")
    return keys


def hub_declarations(names: Names, nodes: list[str]) -> dict:
    v = names.hub_vhost
    decl = {
        "exchanges": [
            _exchange(v, HUB_EVENTS_EXCHANGE),
            _exchange(v, HUB_DOWNLINK_EXCHANGE),
            _exchange(v, HUB_QUARANTINE_EXCHANGE, "fanout"),
        ],
        "queues": [_quarantine_queue(v)],
        "bindings": [_binding(v, HUB_QUARANTINE_EXCHANGE, QUARANTINE_QUEUE, "")],
    }
    for spec in registry.at(registry.HUB):
        decl["queues"].append(_queue(v, spec.queue, consumer_queue_arguments(registry.HUB)))
        decl["bindings"].append(_binding(v, HUB_EVENTS_EXCHANGE, spec.queue, "#"))
    for node in nodes:
        decl["exchanges"].append(_exchange(v, uplink_exchange(node)))
        decl["queues"].append(_queue(v, downlink_queue(node)))
        decl["bindings"] += [
            # Everything a node says under its own code reaches the hub's consumers, which check it
            # (and quarantine what is wrong); nothing under another code does.
            _binding(v, uplink_exchange(node), HUB_EVENTS_EXCHANGE, f"{node}.#", "exchange"),
            _binding(v, HUB_DOWNLINK_EXCHANGE, downlink_queue(node), f"#.to.{node}"),
            _binding(v, HUB_DOWNLINK_EXCHANGE, downlink_queue(node), "#.to.all"),
        ] + [_binding(v, uplink_exchange(node), HUB_DOWNLINK_EXCHANGE, key, "exchange")
             for key in forwarded_keys(node)]
    return decl


def node_declarations(names: Names, node: str) -> dict:
    v = names.node_vhost(node)
    decl = {
        "exchanges": [
            _exchange(v, EVENTS_EXCHANGE),
            # Downlink messages no service has bound yet wait in `unrouted` instead of vanishing.
            _exchange(v, DOWNLINK_EXCHANGE, arguments={"alternate-exchange": NODE_UNROUTED_EXCHANGE}),
            _exchange(v, NODE_UNROUTED_EXCHANGE, "fanout"),
            _exchange(v, NODE_QUARANTINE_EXCHANGE, "fanout"),
        ],
        # Unrouted downlink messages are kept for a look, within a bound (no consumer reads them).
        "queues": [_queue(v, UPLINK_QUEUE),
                   _queue(v, NODE_UNROUTED_QUEUE, {"x-max-length": QUARANTINE_MAX_LENGTH, "x-overflow": "reject-publish"}),
                   _quarantine_queue(v)],
        "bindings": [
            _binding(v, EVENTS_EXCHANGE, UPLINK_QUEUE, "#"),
            _binding(v, NODE_UNROUTED_EXCHANGE, NODE_UNROUTED_QUEUE, ""),
            _binding(v, NODE_QUARANTINE_EXCHANGE, QUARANTINE_QUEUE, ""),
        ],
    }
    for spec in registry.at(registry.NODE):
        if spec.queue is None:
            continue
        decl["queues"].append(_queue(v, spec.queue, consumer_queue_arguments(registry.NODE)))
        decl["bindings"] += [_binding(v, DOWNLINK_EXCHANGE, spec.queue, f"#.{event}.to.#") for event in spec.consumes]
    return decl


def hub_permissions(names: Names, node: str) -> dict:
    """What a node's user may do on the hub: publish to its uplink, pull its downlink."""
    return {"user": names.node_user(node), "vhost": names.hub_vhost, "configure": "^$",
            "write": f"^{uplink_exchange(node)}$".replace(".", r"\."),
            "read": f"^{downlink_queue(node)}$".replace(".", r"\.")}


def with_credentials(amqp_uri: str, user: str, password: str, vhost: str) -> str:
    parts = urlsplit(amqp_uri)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme or "amqp", netloc, "/" + quote(vhost, safe=""), "", ""))


def shovels(names: Names, node: str, hub_uri: str) -> dict[str, dict]:
    """The node's two shovels; ``hub_uri`` carries the node user's credentials on the hub."""
    local = "amqp:///" + quote(names.node_vhost(node), safe="")
    common = {"ack-mode": "on-confirm", "reconnect-delay": 2, "src-delete-after": "never"}
    return {
        "uplink": {**common, "src-protocol": "amqp091", "src-uri": local, "src-queue": UPLINK_QUEUE,
                   "dest-protocol": "amqp091", "dest-uri": hub_uri, "dest-exchange": uplink_exchange(node),
                   "dest-publish-properties": {"user_id": names.node_user(node), "delivery_mode": 2}},
        "downlink": {**common, "src-protocol": "amqp091", "src-uri": hub_uri, "src-queue": downlink_queue(node),
                     "dest-protocol": "amqp091", "dest-uri": local, "dest-exchange": DOWNLINK_EXCHANGE},
    }


# -- kombu objects for the services (never declared by them: the bootstrap owns the topology) -----
def inbound_queue(service: str) -> Queue:
    """The queue a service consumes (see the module docstring), as its bootstrap declared it."""
    spec = registry.get(service)
    if spec.queue is None:
        raise ValueError(f"{service} consumes no events: give it `consumes` in the registry")
    arguments = {**QUORUM, **consumer_queue_arguments(spec.site)}
    if spec.site == registry.HUB:
        exchange = Exchange(HUB_EVENTS_EXCHANGE, type="topic", durable=True, no_declare=True)
        return Queue(spec.queue, exchange=exchange, routing_key="#", durable=True, no_declare=True,
                     queue_arguments=arguments)
    return Queue(spec.queue, durable=True, no_declare=True, queue_arguments=arguments)
