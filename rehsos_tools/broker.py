"""The broker's set-up through the RabbitMQ management HTTP API: bootstrap, teardown, definitions.

Operations tooling (``rehsos bootstrap``, ``rehsos up``, the tests): it applies the topology the
kernel describes (``rehsos.topology``) and needs ``requests``, which no service process imports.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from rehsos.topology import (Names, hub_declarations, hub_permissions, node_declarations, shovels,
                             with_credentials)

class ManagementUnavailable(Exception):
    pass


PLUGIN_HINT = ("Enable the plugins on the RabbitMQ server (as root):\n"
               "  rabbitmq-plugins enable rabbitmq_management rabbitmq_shovel rabbitmq_shovel_management")


class Management:
    def __init__(self, uri: str, timeout: float = 30.0):
        parts = urlsplit(uri)
        self.base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", "/api", "", ""))
        self.auth = (parts.username or "guest", parts.password or "guest")
        self.timeout = timeout
        self.session = requests.Session()
        self.changes: list[str] = []

    def _url(self, *segments: str) -> str:
        return self.base + "/" + "/".join(quote(s, safe="") for s in segments)

    # A busy broker (vhosts being deleted, two cores loaded) can take longer than the timeout to
    # answer; every call here is idempotent (PUT/DELETE of a named object, GET, POST of a binding
    # RabbitMQ keeps once), so it is asked again rather than failing the bootstrap or teardown.
    ATTEMPTS = 3

    def request(self, method: str, *segments: str, body=None, ok=(200, 201, 204)):
        for attempt in range(1, self.ATTEMPTS + 1):
            try:
                resp = self.session.request(method, self._url(*segments), auth=self.auth, timeout=self.timeout,
                                            json=body)
                break
            except requests.ConnectionError:
                raise ManagementUnavailable(
                    f"RabbitMQ management API is not reachable at {self.base}.\n{PLUGIN_HINT}") from None
            except requests.Timeout:
                if attempt == self.ATTEMPTS:
                    raise
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
        current = mgmt.get("queues", q["vhost"], q["name"])
        if current is not None and current.get("arguments") != q["arguments"]:
            _replace_queue(mgmt, q, current)
            current = None
        mgmt.ensure(f"queue {q['vhost']}/{q['name']}", current, desired, "queues", q["vhost"], q["name"])
    _remove_undeclared_bindings(mgmt, decl)
    for b in decl["bindings"]:
        kind = "q" if b["destination_type"] == "queue" else "e"
        existing = mgmt.get("bindings", b["vhost"], "e", b["source"], kind, b["destination"]) or []
        if not any(e.get("routing_key") == b["routing_key"] for e in existing):
            mgmt.request("POST", "bindings", b["vhost"], "e", b["source"], kind, b["destination"],
                         body={"routing_key": b["routing_key"], "arguments": {}})
            mgmt.changes.append(f"binding {b['vhost']}/{b['source']}->{b['destination']} {b['routing_key']}")


def _remove_undeclared_bindings(mgmt: Management, decl: dict) -> None:
    """A binding an older release declared and this one does not (a route since closed) goes."""
    declared = {(b["source"], b["destination"], b["destination_type"], b["routing_key"]) for b in decl["bindings"]}
    for ex in decl["exchanges"]:
        for b in mgmt.get("exchanges", ex["vhost"], ex["name"], "bindings", "source") or []:
            key = (b["source"], b["destination"], b["destination_type"], b["routing_key"])
            if key in declared:
                continue
            kind = "q" if b["destination_type"] == "queue" else "e"
            mgmt.request("DELETE", "bindings", ex["vhost"], "e", b["source"], kind, b["destination"],
                         b["properties_key"], ok=(200, 204, 404))
            mgmt.changes.append(f"binding {ex['vhost']}/{b['source']}->{b['destination']} {b['routing_key']} removed")


def _replace_queue(mgmt: Management, q: dict, current: dict) -> None:
    """A queue's arguments cannot change in place (a newer release bounds or retries differently):
    an empty queue is deleted and declared again; one holding messages is left for an operator."""
    if current.get("messages", 0) or current.get("messages_unacknowledged", 0):
        raise RuntimeError(f"queue {q['vhost']}/{q['name']} holds {current.get('messages')} messages and has other "
                           f"arguments than this release declares ({current.get('arguments')} instead of "
                           f"{q['arguments']}): drain it (or move its messages with a shovel), then bootstrap again")
    mgmt.request("DELETE", "queues", q["vhost"], q["name"], ok=(200, 204, 404))
    mgmt.changes.append(f"queue {q['vhost']}/{q['name']} replaced (new arguments)")


@dataclass
class _BrokerPlan:
    """What one broker holds of a province: its vhosts, users, permissions, topology and shovels."""
    vhosts: list[str] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)  # name -> password
    permissions: list[dict] = field(default_factory=list)  # user, vhost, configure, write, read
    topology: dict = field(default_factory=lambda: {"exchanges": [], "queues": [], "bindings": []})
    shovels: list[dict] = field(default_factory=list)  # vhost, name, value

    def add_topology(self, decl: dict) -> None:
        for kind, items in self.topology.items():
            items.extend(decl[kind])


def bootstrap(mgmt: Management, names: Names, links: list[NodeLink], *, admin_user: str | None = None,
              node_mgmt: dict[str, Management] | None = None) -> BootstrapReport:
    """Create or confirm vhosts, users, permissions, exchanges, queues, bindings and shovels.

    ``mgmt`` is the hub broker's management API; ``node_mgmt`` maps a node to its own broker's
    (in development every node shares the hub's broker, and the default is ``mgmt``). A broker that
    holds none of the province's vhosts yet gets them in one definitions import (a 14-office
    province in about 2 s instead of 7); otherwise each object is compared and put right.
    """
    node_mgmt = node_mgmt or {}
    plans: dict[int, tuple[Management, _BrokerPlan]] = {}

    def plan_of(m: Management) -> _BrokerPlan:
        return plans.setdefault(id(m), (m, _BrokerPlan()))[1]

    full = {"configure": ".*", "write": ".*", "read": ".*"}
    # The hub broker: its vhost, topology, and one user per node with least privilege.
    hub = plan_of(mgmt)
    hub.vhosts.append(names.hub_vhost)
    hub.add_topology(hub_declarations(names, [link.node for link in links]))
    for link in links:
        hub.users[names.node_user(link.node)] = link.password
        hub.permissions.append({"user": names.node_user(link.node), **hub_permissions(names, link.node)})
    # Each node's broker: its vhost, topology, and the shovels that dial out to the hub.
    for link in links:
        node = plan_of(node_mgmt.get(link.node, mgmt))
        vhost = names.node_vhost(link.node)
        node.vhosts.append(vhost)
        node.add_topology(node_declarations(names, link.node))
        hub_uri = with_credentials(link.hub_amqp_uri, names.node_user(link.node), link.password, names.hub_vhost)
        node.shovels += [{"vhost": vhost, "name": name, "value": value}
                         for name, value in shovels(names, link.node, hub_uri).items()]
    changes = []
    for m, plan in plans.values():
        m.check_shovel_plugin()
        m.changes = []
        admin = admin_user or m.auth[0]
        plan.permissions += [{"user": admin, "vhost": v, **full} for v in plan.vhosts]
        # An entry of a vhost deleted meanwhile (another test run's) can come without its name.
        existing = {v.get("name") for v in m.request("GET", "vhosts")}
        (_import if existing.isdisjoint(plan.vhosts) else _put_right)(m, plan)
        changes += m.changes
    return BootstrapReport(changes)


def _import(m: Management, plan: _BrokerPlan) -> None:
    """A broker new to the province: everything in one definitions import, the shovels in a second
    (an import applies parameters before queues, and a shovel started first would declare its
    source queue itself, as a classic queue)."""
    m.request("POST", "definitions", body={
        "vhosts": [{"name": v, "description": "rehsos", "tracing": False} for v in plan.vhosts],
        "users": [{"name": user, "password_hash": _hash(password),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ""}
                  for user, password in plan.users.items()],
        "permissions": plan.permissions, **plan.topology})
    m.request("POST", "definitions", body={
        "parameters": [{"component": "shovel", **shovel} for shovel in plan.shovels]})
    m.changes += [f"vhost {v}" for v in plan.vhosts]
    m.changes += [f"exchange {ex['vhost']}/{ex['name']}" for ex in plan.topology["exchanges"]]
    m.changes += [f"queue {q['vhost']}/{q['name']}" for q in plan.topology["queues"]]
    m.changes += [f"binding {b['vhost']}/{b['source']}->{b['destination']} {b['routing_key']}"
                  for b in plan.topology["bindings"]]
    m.changes += [f"user {user}" for user in plan.users]
    m.changes += [f"permissions {p['user']}@{p['vhost']}" for p in plan.permissions]
    m.changes += [f"shovel {shovel['vhost']}/{shovel['name']}" for shovel in plan.shovels]


def _put_right(m: Management, plan: _BrokerPlan) -> None:
    """A broker that holds some of the province: compare each object and put right what differs
    (a second bootstrap changes nothing; a new release's topology replaces the old)."""
    for vhost in plan.vhosts:
        if m.get("vhosts", vhost) is None:
            m.request("PUT", "vhosts", vhost, body={"description": "rehsos", "tracing": False})
            m.changes.append(f"vhost {vhost}")
    for user, password in plan.users.items():
        if not _password_works(m, user, password):
            m.request("PUT", "users", user, body={"password": password, "tags": ""})
            m.changes.append(f"user {user}")
    for perm in plan.permissions:
        m.ensure(f"permissions {perm['user']}@{perm['vhost']}", m.get("permissions", perm["vhost"], perm["user"]),
                 {k: perm[k] for k in ("configure", "write", "read")}, "permissions", perm["vhost"], perm["user"])
    _apply(m, plan.topology)
    for shovel in plan.shovels:
        current = m.get("parameters", "shovel", shovel["vhost"], shovel["name"])
        if current is None or current.get("value") != shovel["value"]:
            m.request("PUT", "parameters", "shovel", shovel["vhost"], shovel["name"], body={"value": shovel["value"]})
            m.changes.append(f"shovel {shovel['vhost']}/{shovel['name']}")


def _password_works(mgmt: Management, user: str, password: str) -> bool:
    current = mgmt.get("users", user)
    return current is not None and _hash_matches(current, password)


def _hash(password: str) -> str:
    """RabbitMQ's salted SHA-256 password hash (4-byte salt + digest), as a definitions file holds it."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


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
    """Remove the vhosts and node users of a namespace (tests; `rehsos bootstrap --remove`).
    The shovels go first: deleting a vhost under a running shovel makes it crash and restart
    against a vhost that is going away, which holds up the broker for everyone."""
    for node in nodes:
        m = (node_mgmt or {}).get(node, mgmt)
        for shovel in m.get("parameters", "shovel", names.node_vhost(node)) or []:
            m.request("DELETE", "parameters", "shovel", names.node_vhost(node), shovel["name"], ok=(200, 204, 404))
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
