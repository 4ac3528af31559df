"""The RabbitMQ topology as data: permissions, shovels, declarations and routing (rehsos/topology.py)."""
import re
from urllib.parse import urlsplit, unquote

import pytest

from rehsos import registry, topology
from rehsos.topology import Names

NODES = ["63", "6371", "6303"]
HUB_URI = "amqp://node-6371:secret@hub.example:5672/hub"


# -- a tiny AMQP topic exchange, to evaluate the declared bindings ---------------------------------
def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: words split on ".", "*" is exactly one word, "#" zero or more.

    tests/service/test_topic_matching.py checks it against a real RabbitMQ topic exchange.
    """
    def match(p, k):
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])
    return match(pattern.split(".") if pattern else [], key.split(".") if key else [])


def route(decl: dict, exchange: str, key: str) -> set[str]:
    """The queues a message published to ``exchange`` with ``key`` reaches, following e2e bindings."""
    types = {e["name"]: e["type"] for e in decl["exchanges"]}
    queues, seen, todo = set(), set(), [exchange]
    while todo:
        source = todo.pop()
        if source in seen:
            continue
        seen.add(source)
        for b in decl["bindings"]:
            if b["source"] != source:
                continue
            if types[source] == "fanout" or topic_matches(b["routing_key"], key):
                (queues.add if b["destination_type"] == "queue" else todo.append)(b["destination"])
    return queues


# -- hub permissions -------------------------------------------------------------------------------
def test_node_user_may_configure_nothing_on_the_hub():
    perm = topology.hub_permissions(Names(), "6371")
    assert perm["configure"] == "^$"
    assert perm["user"] == "node-6371" and perm["vhost"] == "hub"


@pytest.mark.parametrize("name, allowed", [
    ("uplink.6371", True), ("uplink.6303", False), ("uplinkx6371", False), ("hub.events", False),
    ("downlink.6371", False),
])
def test_node_user_may_write_only_its_own_uplink_exchange(name, allowed):
    write = topology.hub_permissions(Names(), "6371")["write"]
    assert bool(re.fullmatch(write, name)) is allowed


@pytest.mark.parametrize("name, allowed", [
    ("downlink.6371", True), ("downlink.6303", False), ("downlinkx6371", False), ("reporting.events", False),
    ("uplink.6371", False),
])
def test_node_user_may_read_only_its_own_downlink_queue(name, allowed):
    read = topology.hub_permissions(Names(), "6371")["read"]
    assert bool(re.fullmatch(read, name)) is allowed


# -- shovels ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("namespace", ["", "t1-"])
def test_uplink_shovel_confirms_and_stamps_the_node_user(namespace):
    names = Names(namespace)
    uplink = topology.shovels(names, "6371", HUB_URI)["uplink"]
    assert uplink["ack-mode"] == "on-confirm"
    assert uplink["dest-publish-properties"]["user_id"] == names.node_user("6371")
    assert uplink["dest-exchange"] == "uplink.6371"
    assert uplink["src-queue"] == topology.UPLINK_QUEUE
    assert uplink["dest-uri"] == HUB_URI
    assert uplink["src-uri"] == f"amqp:///{namespace}node-6371"


def test_downlink_shovel_pulls_the_nodes_downlink_queue_into_the_node():
    downlink = topology.shovels(Names(), "6371", HUB_URI)["downlink"]
    assert downlink["src-queue"] == "downlink.6371"
    assert downlink["src-uri"] == HUB_URI
    assert downlink["dest-exchange"] == topology.DOWNLINK_EXCHANGE
    assert downlink["ack-mode"] == "on-confirm"


# -- declarations ----------------------------------------------------------------------------------
def all_declarations():
    names = Names()
    return [topology.hub_declarations(names, NODES)] + [topology.node_declarations(names, n) for n in NODES]


def test_every_declared_queue_is_a_durable_quorum_queue():
    queues = [q for decl in all_declarations() for q in decl["queues"]]
    assert queues
    for q in queues:
        assert q["arguments"]["x-queue-type"] == "quorum", q["name"]
        assert q["durable"], q["name"]


def test_reporting_queue_dead_letters_to_a_bound_quarantine_after_a_delivery_limit():
    decl = topology.hub_declarations(Names(), NODES)
    reporting = next(q for q in decl["queues"] if q["name"] == registry.get("reporting").queue)
    assert reporting["arguments"]["x-delivery-limit"] >= 1
    dlx = reporting["arguments"]["x-dead-letter-exchange"]
    assert dlx in {e["name"] for e in decl["exchanges"]}
    assert route(decl, dlx, "6371.intake.case.opened") == {topology.QUARANTINE_QUEUE}


def test_every_nodes_downlink_queue_is_bound_to_its_node_and_to_all():
    decl = topology.hub_declarations(Names(), NODES)
    for node in NODES:
        keys = {b["routing_key"] for b in decl["bindings"]
                if b["destination"] == f"downlink.{node}" and b["source"] == topology.HUB_DOWNLINK_EXCHANGE}
        assert keys == {f"#.to.{node}", "#.to.all"}


@pytest.mark.parametrize("spec", [s for s in registry.SERVICES if s.queue], ids=lambda s: s.name)
def test_every_consuming_service_reads_the_queue_the_bootstrap_declares_with_its_arguments(spec):
    decl = (topology.hub_declarations(Names(), NODES) if spec.site == registry.HUB
            else topology.node_declarations(Names(), "6371"))
    declared = next(q for q in decl["queues"] if q["name"] == spec.queue)
    assert topology.inbound_queue(spec.name).queue_arguments == declared["arguments"]


@pytest.mark.parametrize("spec", [s for s in registry.at(registry.NODE) if s.consumes], ids=lambda s: s.name)
def test_a_node_service_receives_from_the_downlink_exactly_the_events_it_consumes(spec):
    decl = topology.node_declarations(Names(), "6371")
    every_type = {t for s in registry.SERVICES for t in (*s.publishes, *s.consumes)}
    reached = {t for t in every_type
               if spec.queue in route(decl, topology.DOWNLINK_EXCHANGE, f"63.x.{t}.to.6371")}
    assert reached == set(spec.consumes)


# -- routing through the declared bindings ---------------------------------------------------------
def test_event_addressed_to_the_province_reaches_only_the_provinces_downlink():
    decl = topology.hub_declarations(Names(), NODES)
    reached = route(decl, "uplink.6371", "6371.intake.referral.requested.to.63")
    assert {q for q in reached if q.startswith("downlink.")} == {"downlink.63"}
    assert registry.get("reporting").queue in reached


def test_event_addressed_to_all_reaches_every_nodes_downlink():
    decl = topology.hub_declarations(Names(), NODES)
    reached = route(decl, "uplink.6371", "6371.facilities.capacity.changed.to.all")
    assert {f"downlink.{n}" for n in NODES} <= reached
    assert route(decl, topology.HUB_DOWNLINK_EXCHANGE, "hub.reporting.person.duplicate_detected.to.all") == {
        f"downlink.{n}" for n in NODES}


@pytest.mark.parametrize("key", [
    "6371.intake.case.opened.to.6303",        # a type no node consumes from the downlink
    "6371.facilities.person.duplicate_detected.to.6303",  # the hub's, not the node's
    "6371.intake.capacity.changed.to.all",    # facilities', not intake's
    "6303.facilities.capacity.changed.to.all",  # under another node's code
])
def test_the_hub_passes_on_only_what_the_sending_node_may_send_to_other_nodes(key):
    decl = topology.hub_declarations(Names(), NODES)
    assert not {q for q in route(decl, "uplink.6371", key) if q.startswith("downlink.")}


def test_a_direct_event_reaches_only_its_target_and_no_hub_consumer():
    decl = topology.hub_declarations(Names(), NODES)
    assert route(decl, "uplink.6371", "direct.6371.training.training.nominated.to.63") == {"downlink.63"}


@pytest.mark.parametrize("event_type", ["referral.dossier_sent", "referral.dossier_withdrawn"])
def test_a_referral_dossier_reaches_only_the_facilitys_node_and_no_hub_consumer(event_type):
    decl = topology.hub_declarations(Names(), NODES)
    assert route(decl, "uplink.6371", f"direct.6371.intake.{event_type}.to.63") == {"downlink.63"}
    # Not the undirected form either: without `direct.` it goes nowhere (the hub forwards the direct one only).
    assert not {q for q in route(decl, "uplink.6371", f"6371.intake.{event_type}.to.63") if q.startswith("downlink.")}
    node = topology.node_declarations(Names(), "63")
    assert route(node, topology.DOWNLINK_EXCHANGE, f"direct.6371.intake.{event_type}.to.63") == {"facilities.downlink"}


def test_event_without_target_reaches_reporting_and_no_downlink():
    decl = topology.hub_declarations(Names(), NODES)
    assert route(decl, "uplink.6303", "6303.intake.case.opened") == {registry.get("reporting").queue}


def test_every_event_published_on_a_node_waits_in_its_uplink_queue():
    decl = topology.node_declarations(Names(), "6371")
    assert route(decl, topology.EVENTS_EXCHANGE, "6371.intake.case.opened") == {topology.UPLINK_QUEUE}


def test_downlink_message_no_service_bound_waits_in_unrouted():
    decl = topology.node_declarations(Names(), "6371")
    downlink = next(e for e in decl["exchanges"] if e["name"] == topology.DOWNLINK_EXCHANGE)
    alternate = downlink["arguments"]["alternate-exchange"]
    assert route(decl, alternate, "hub.reporting.capacity.changed.to.all") == {topology.NODE_UNROUTED_QUEUE}


# -- names -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("namespace, user_id, node", [
    ("", "node-6371", "6371"),
    ("t1-", "t1-node-6371", "6371"),
    ("", "guest", None),
    ("t1-", "guest", None),
    ("t1-", "node-6371", None),
    ("", "t1-node-6371", None),
    ("", None, None),
    ("", "", None),
])
def test_sender_node_is_read_from_the_user_of_this_namespace_only(namespace, user_id, node):
    assert Names(namespace).sender_node(user_id) == node


def test_namespace_prefixes_vhosts_and_users():
    names = Names("t1-")
    assert (names.hub_vhost, names.node_vhost("6371"), names.node_user("6371")) == (
        "t1-hub", "t1-node-6371", "t1-node-6371")


# -- credentials -----------------------------------------------------------------------------------
@pytest.mark.parametrize("password", ["p@ss:w/rd", "a#b?c%d", "s p a c e", "plain"])
def test_with_credentials_quotes_special_characters_in_the_password(password):
    uri = topology.with_credentials("amqp://hub.example:5672/ignored", "node-6371", password, "t1-hub")
    parts = urlsplit(uri)
    assert unquote(parts.password) == password
    assert parts.username == "node-6371"
    assert (parts.hostname, parts.port) == ("hub.example", 5672)
    assert unquote(parts.path) == "/t1-hub"
    assert parts.query == "" and parts.fragment == ""


def test_with_credentials_replaces_existing_credentials_and_keeps_no_port_when_none_given():
    uri = topology.with_credentials("amqp://old:old@hub.example/hub", "node-63", "new", "hub")
    assert uri == "amqp://node-63:new@hub.example/hub"
