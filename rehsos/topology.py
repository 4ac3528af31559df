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

:func:`bootstrap` applies all of it through the management HTTP API, idempotently.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from kombu import Exchange, Queue

EVENTS_EXCHANGE = "rehsos.events"
DOWNLINK_EXCHANGE = "rehsos.downlink"
NODE_UNROUTED_EXCHANGE = "rehsos.unrouted"
UPLINK_QUEUE = "uplink"
NODE_UNROUTED_QUEUE = "unrouted"
NODE_QUARANTINE_EXCHANGE = "rehsos.quarantine"
NODE_QUARANTINE_QUEUE = "quarantine"
INTAKE_DOWNLINK_QUEUE = "intake.downlink"
FACILITIES_DOWNLINK_QUEUE = "facilities.downlink"
# What facilities take from the downlink: referrals addressed to this node's facilities, and
# every facility's capacity snapshots (sent to all nodes) for the province-wide directory.
FACILITIES_DOWNLINK_EVENTS = ("referral.requested", "capacity.changed")
# What intake takes from the downlink: the hub's findings and the answers to its referrals.
INTAKE_DOWNLINK_EVENTS = ("person.duplicate_detected", "referral.accepted", "referral.rejected",
                          "referral.waitlisted", "admission.recorded", "discharge.recorded")

HUB_EVENTS_EXCHANGE = "hub.events"
HUB_DOWNLINK_EXCHANGE = "hub.downlink"
HUB_QUARANTINE_EXCHANGE = "hub.quarantine"
REPORTING_QUEUE = "reporting.events"
REPORTING_QUARANTINE_QUEUE = "reporting.quarantine"
# A message that keeps failing is dead-lettered to the quarantine after this many deliveries.
DELIVERY_LIMIT = 5

QUORUM = {"x-queue-type": "quorum"}


def uplink_exchange(node: str) -> str:
    return f"uplink.{node}"


def downlink_queue(node: str) -> str:
    return f"downlink.{node}"


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


def _queue(vhost, name, arguments=None):
    return {"vhost": vhost, "name": name, "durable": True, "auto_delete": False,
            "arguments": {**QUORUM, **(arguments or {})}}


def _binding(vhost, source, destination, routing_key, destination_type="queue"):
    return {"vhost": vhost, "source": source, "destination": destination,
            "destination_type": destination_type, "routing_key": routing_key, "arguments": {}}


def reporting_queue_arguments() -> dict:
    return consumer_queue_arguments(HUB_QUARANTINE_EXCHANGE)


def hub_declarations(names: Names, nodes: list[str]) -> dict:
    v = names.hub_vhost
    decl = {
        "exchanges": [
            _exchange(v, HUB_EVENTS_EXCHANGE),
            _exchange(v, HUB_DOWNLINK_EXCHANGE),
            _exchange(v, HUB_QUARANTINE_EXCHANGE, "fanout"),
        ],
        "queues": [
            _queue(v, REPORTING_QUEUE, reporting_queue_arguments()),
            _queue(v, REPORTING_QUARANTINE_QUEUE),
        ],
        "bindings": [
            _binding(v, HUB_EVENTS_EXCHANGE, REPORTING_QUEUE, "#"),
            _binding(v, HUB_QUARANTINE_EXCHANGE, REPORTING_QUARANTINE_QUEUE, ""),
            _binding(v, HUB_EVENTS_EXCHANGE, HUB_DOWNLINK_EXCHANGE, "#", "exchange"),
        ],
    }
    for node in nodes:
        decl["exchanges"].append(_exchange(v, uplink_exchange(node)))
        decl["queues"].append(_queue(v, downlink_queue(node)))
        decl["bindings"] += [
            _binding(v, uplink_exchange(node), HUB_EVENTS_EXCHANGE, "#", "exchange"),
            _binding(v, HUB_DOWNLINK_EXCHANGE, downlink_queue(node), f"#.to.{node}"),
            _binding(v, HUB_DOWNLINK_EXCHANGE, downlink_queue(node), "#.to.all"),
        ]
    return decl


def consumer_queue_arguments(quarantine_exchange: str) -> dict:
    return {"x-delivery-limit": DELIVERY_LIMIT, "x-dead-letter-exchange": quarantine_exchange,
            "x-dead-letter-strategy": "at-most-once"}


def node_declarations(names: Names, node: str) -> dict:
    v = names.node_vhost(node)
    return {
        "exchanges": [
            _exchange(v, EVENTS_EXCHANGE),
            # Downlink messages no service has bound yet wait in `unrouted` instead of vanishing.
            _exchange(v, DOWNLINK_EXCHANGE, arguments={"alternate-exchange": NODE_UNROUTED_EXCHANGE}),
            _exchange(v, NODE_UNROUTED_EXCHANGE, "fanout"),
            _exchange(v, NODE_QUARANTINE_EXCHANGE, "fanout"),
        ],
        "queues": [_queue(v, UPLINK_QUEUE), _queue(v, NODE_UNROUTED_QUEUE), _queue(v, NODE_QUARANTINE_QUEUE),
                   _queue(v, INTAKE_DOWNLINK_QUEUE, consumer_queue_arguments(NODE_QUARANTINE_EXCHANGE)),
                   _queue(v, FACILITIES_DOWNLINK_QUEUE, consumer_queue_arguments(NODE_QUARANTINE_EXCHANGE))],
        "bindings": [
            _binding(v, EVENTS_EXCHANGE, UPLINK_QUEUE, "#"),
            _binding(v, NODE_UNROUTED_EXCHANGE, NODE_UNROUTED_QUEUE, ""),
            _binding(v, NODE_QUARANTINE_EXCHANGE, NODE_QUARANTINE_QUEUE, ""),
        ] + [_binding(v, DOWNLINK_EXCHANGE, INTAKE_DOWNLINK_QUEUE, f"#.{event}.to.#")
             for event in INTAKE_DOWNLINK_EVENTS]
          + [_binding(v, DOWNLINK_EXCHANGE, FACILITIES_DOWNLINK_QUEUE, f"#.{event}.to.#")
             for event in FACILITIES_DOWNLINK_EVENTS],
    }


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
def reporting_queue() -> Queue:
    exchange = Exchange(HUB_EVENTS_EXCHANGE, type="topic", durable=True, no_declare=True)
    return Queue(REPORTING_QUEUE, exchange=exchange, routing_key="#", durable=True, no_declare=True,
                 queue_arguments={**QUORUM, **reporting_queue_arguments()})


def downlink_queue_for(name: str) -> Queue:
    """A node service's downlink queue (declared by the bootstrap, consumed by the service)."""
    return Queue(name, durable=True, no_declare=True,
                 queue_arguments={**QUORUM, **consumer_queue_arguments(NODE_QUARANTINE_EXCHANGE)})


def intake_downlink_queue() -> Queue:
    return downlink_queue_for(INTAKE_DOWNLINK_QUEUE)


def facilities_downlink_queue() -> Queue:
    return downlink_queue_for(FACILITIES_DOWNLINK_QUEUE)


# -- bootstrap through the management API ---------------------------------------------------------
class ManagementUnavailable(Exception):
    pass


PLUGIN_HINT = ("Enable the plugins on the RabbitMQ server (as root):\n"
               "  rabbitmq-plugins enable rabbitmq_management rabbitmq_shovel rabbitmq_shovel_management")


class Management:
    def __init__(self, uri: str, timeout: float = 10.0):
        parts = urlsplit(uri)
        self.base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", "/api", "", ""))
        self.auth = (parts.username or "guest", parts.password or "guest")
        self.timeout = timeout
        self.session = requests.Session()
        self.changes: list[str] = []

    def _url(self, *segments: str) -> str:
        return self.base + "/" + "/".join(quote(s, safe="") for s in segments)

    def request(self, method: str, *segments: str, body=None, ok=(200, 201, 204)):
        try:
            resp = self.session.request(method, self._url(*segments), auth=self.auth, timeout=self.timeout,
                                        json=body)
        except requests.ConnectionError:
            raise ManagementUnavailable(
                f"RabbitMQ management API is not reachable at {self.base}.\n{PLUGIN_HINT}") from None
        if resp.status_code == 401:
            raise ManagementUnavailable(f"RabbitMQ management API refused the credentials for {self.base}.")
        if resp.status_code not in ok:
            raise RuntimeError(f"{method} {'/'.join(segments)} -> {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content and resp.headers.get("content-type", "").startswith("application/json") else None

    def get(self, *segments):
        try:
            return self.request("GET", *segments)
        except RuntimeError as exc:
            if "-> 404" in str(exc):
                return None
            raise

    def ensure(self, what: str, current, desired: dict, *segments: str):
        """PUT ``desired`` unless ``current`` already has it: a second bootstrap changes nothing."""
        if current is not None and all(current.get(k) == v for k, v in desired.items()):
            return
        self.request("PUT", *segments, body=desired)
        self.changes.append(what)

    def overview(self) -> dict:
        return self.request("GET", "overview")

    def check_shovel_plugin(self) -> None:
        kinds = {e.get("name") for e in self.overview().get("exchange_types", [])}
        if not kinds:
            raise ManagementUnavailable("RabbitMQ management API answered without exchange types.")
        try:
            self.request("GET", "shovels")
        except RuntimeError:
            raise ManagementUnavailable(f"The RabbitMQ shovel plugin is not enabled.\n{PLUGIN_HINT}") from None


@dataclass
class NodeLink:
    node: str
    password: str
    hub_amqp_uri: str  # where the node's shovels reach the hub (host/port; credentials are added)


@dataclass
class BootstrapReport:
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _apply(mgmt: Management, decl: dict) -> None:
    for ex in decl["exchanges"]:
        desired = {k: ex[k] for k in ("type", "durable", "auto_delete", "internal", "arguments")}
        mgmt.ensure(f"exchange {ex['vhost']}/{ex['name']}", mgmt.get("exchanges", ex["vhost"], ex["name"]),
                    desired, "exchanges", ex["vhost"], ex["name"])
    for q in decl["queues"]:
        desired = {k: q[k] for k in ("durable", "auto_delete", "arguments")}
        mgmt.ensure(f"queue {q['vhost']}/{q['name']}", mgmt.get("queues", q["vhost"], q["name"]),
                    desired, "queues", q["vhost"], q["name"])
    for b in decl["bindings"]:
        kind = "q" if b["destination_type"] == "queue" else "e"
        existing = mgmt.get("bindings", b["vhost"], "e", b["source"], kind, b["destination"]) or []
        if not any(e.get("routing_key") == b["routing_key"] for e in existing):
            mgmt.request("POST", "bindings", b["vhost"], "e", b["source"], kind, b["destination"],
                         body={"routing_key": b["routing_key"], "arguments": {}})
            mgmt.changes.append(f"binding {b['vhost']}/{b['source']}->{b['destination']} {b['routing_key']}")


def bootstrap(mgmt: Management, names: Names, links: list[NodeLink], *, admin_user: str | None = None,
              node_mgmt: dict[str, Management] | None = None) -> BootstrapReport:
    """Create or confirm vhosts, users, permissions, exchanges, queues, bindings and shovels.

    ``mgmt`` is the hub broker's management API; ``node_mgmt`` maps a node to its own broker's
    (in development every node shares the hub's broker, and the default is ``mgmt``).
    """
    node_mgmt = node_mgmt or {}
    managers = list({id(m): m for m in [mgmt, *node_mgmt.values()]}.values())
    for m in managers:
        m.check_shovel_plugin()
        m.changes = []
    full = {"configure": ".*", "write": ".*", "read": ".*"}

    def ensure_vhost(m: Management, vhost: str) -> None:
        if m.get("vhosts", vhost) is None:
            m.request("PUT", "vhosts", vhost, body={"description": "rehsos", "tracing": False})
            m.changes.append(f"vhost {vhost}")
        admin = admin_user or m.auth[0]
        m.ensure(f"permissions {admin}@{vhost}", m.get("permissions", vhost, admin), full, "permissions", vhost, admin)

    # The hub broker: its vhost, topology, and one user per node with least privilege.
    ensure_vhost(mgmt, names.hub_vhost)
    _apply(mgmt, hub_declarations(names, [link.node for link in links]))
    for link in links:
        user = names.node_user(link.node)
        if not _password_works(mgmt, user, link.password):
            mgmt.request("PUT", "users", user, body={"password": link.password, "tags": ""})
            mgmt.changes.append(f"user {user}")
        perm = hub_permissions(names, link.node)
        mgmt.ensure(f"permissions {user}@{perm['vhost']}", mgmt.get("permissions", perm["vhost"], user),
                    {k: perm[k] for k in ("configure", "write", "read")}, "permissions", perm["vhost"], user)
    # Each node's broker: its vhost, topology, and the shovels that dial out to the hub.
    for link in links:
        m = node_mgmt.get(link.node, mgmt)
        vhost = names.node_vhost(link.node)
        ensure_vhost(m, vhost)
        _apply(m, node_declarations(names, link.node))
        hub_uri = with_credentials(link.hub_amqp_uri, names.node_user(link.node), link.password, names.hub_vhost)
        for name, value in shovels(names, link.node, hub_uri).items():
            current = m.get("parameters", "shovel", vhost, name)
            if current is None or current.get("value") != value:
                m.request("PUT", "parameters", "shovel", vhost, name, body={"value": value})
                m.changes.append(f"shovel {vhost}/{name}")
    return BootstrapReport([c for m in managers for c in m.changes])


def _password_works(mgmt: Management, user: str, password: str) -> bool:
    current = mgmt.get("users", user)
    return current is not None and _hash_matches(current, password)


def _hash_matches(user: dict, password: str) -> bool:
    """Check ``password`` against RabbitMQ's salted SHA-256 hash (4-byte salt + digest)."""
    encoded = user.get("password_hash")
    if not encoded or user.get("hashing_algorithm") != "rabbit_password_hashing_sha256":
        return False
    raw = base64.b64decode(encoded)
    salt, digest = raw[:4], raw[4:]
    return hashlib.sha256(salt + password.encode()).digest() == digest


def teardown(mgmt: Management, names: Names, nodes: list[str], *,
             node_mgmt: dict[str, Management] | None = None) -> None:
    """Remove the vhosts and node users of a namespace (tests; `rehsos bootstrap --remove`)."""
    for node in nodes:
        (node_mgmt or {}).get(node, mgmt).request("DELETE", "vhosts", names.node_vhost(node), ok=(200, 204, 404))
        mgmt.request("DELETE", "users", names.node_user(node), ok=(200, 204, 404))
    mgmt.request("DELETE", "vhosts", names.hub_vhost, ok=(200, 204, 404))


def new_password() -> str:
    return secrets.token_urlsafe(24)


def definitions(names: Names, nodes: list[str], broker: str) -> dict:
    """A RabbitMQ definitions document for one broker of a containerised province.

    Users, passwords and shovels carry secrets and are applied by ``rehsos bootstrap`` from the
    environment; the definitions hold only the secret-free topology.
    """
    if broker == "hub":
        decl = hub_declarations(names, nodes)
        vhosts = [names.hub_vhost]
    else:
        decl = node_declarations(names, broker)
        vhosts = [names.node_vhost(broker)]
    return {"rabbit_version": "3.10.8", "vhosts": [{"name": v} for v in vhosts], **decl}


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
