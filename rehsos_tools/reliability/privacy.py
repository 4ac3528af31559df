"""Privacy scan: nothing personal the run registered reaches the hub.

A tap queue bound at the start to every exchange of the hub's vhost (each node's uplink, the
event and downlink exchanges, the quarantine) gets a copy of every message the hub receives
during the run; at the end each is searched for the names, NIKs, addresses and birth dates the
run registered. The messages the run forged itself are left out (one carries personal data on
purpose); what the hub made of them is in its database and logs, which are searched too.
"""
from __future__ import annotations

import logging
from pathlib import Path

import kombu
import sqlalchemy as sa

from rehsos_tools.reliability.hostile import FORGED_HEADER
from rehsos_tools.reliability.people import Register, find_personal_data
from rehsos_tools.reliability.province import HUB, Province
from rehsos_tools.reliability.report import Section

log = logging.getLogger("rehsos.reliability")

TAP_QUEUE = "reliability.tap"


def bind_tap(province: Province) -> list[str]:
    """Declare the tap queue and bind it to every exchange of the hub's vhost; returns them."""
    vhost = province.names.hub_vhost
    exchanges = [e for e in province.mgmt.request("GET", "exchanges", vhost) or []
                 if e["name"] and not e["name"].startswith("amq.")]
    province.mgmt.request("PUT", "queues", vhost, TAP_QUEUE, body={"durable": True, "auto_delete": False,
                                                                   "arguments": {}})
    for exchange in exchanges:
        key = "" if exchange["type"] == "fanout" else "#"
        province.mgmt.request("POST", "bindings", vhost, "e", exchange["name"], "q", TAP_QUEUE,
                              body={"routing_key": key, "arguments": {}})
    return sorted(e["name"] for e in exchanges)


def _drain_tap(province: Province):
    with kombu.Connection(province.hub_amqp()) as conn:
        channel = conn.channel()
        while (message := channel.basic_get(TAP_QUEUE, no_ack=True)) is not None:
            yield message


def _database_text(province: Province, name: str, service: str):
    """Every row of every table of a database, as text, table by table."""
    engine = province.engine(name, service)
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            yield table.name, "\n".join(str(tuple(row)) for row in conn.execute(sa.select(table)))


def run(province: Province, people: Register, tapped: list[str]) -> Section:
    section = Section("privacy")
    needles = people.needles()
    section.figures["persons_registered"] = len(people.persons)
    section.figures["exchanges_tapped"] = tapped
    messages = forged = 0
    hits_by_type: dict[str, int] = {}
    for message in _drain_tap(province):
        headers = message.properties.get("application_headers") or {}
        if FORGED_HEADER in headers:
            forged += 1
            continue
        messages += 1
        body = message.body  # py-amqp decodes bodies that declare an encoding
        found = find_personal_data(body if isinstance(body, str) else body.decode("utf-8", errors="replace"), needles)
        if found:
            routing_key = message.delivery_info.get("routing_key")
            hits_by_type[routing_key] = hits_by_type.get(routing_key, 0) + 1
            if hits_by_type[routing_key] <= 3:  # a few examples per kind of message is enough to act on
                section.add(False, where="message", routing_key=routing_key, found=found)
    section.figures.update(messages_scanned=messages, forged_messages_left_out=forged)
    if hits_by_type:
        section.figures["messages_with_personal_data"] = hits_by_type
    # One case for the wire as a whole when it is clean, so a clean run still shows what was tried.
    if not hits_by_type:
        section.add(messages > 0, where="messages", scanned=messages)
    for table, text in _database_text(province, HUB, "reporting"):
        found = find_personal_data(text, needles)
        section.add(not found, where="hub database", table=table, **({"found": found} if found else {}))
    for log_file in sorted(Path(province.paths.log).glob("*.log")):
        found = find_personal_data(log_file.read_text(errors="replace"), needles)
        section.add(not found, where="log", file=log_file.name, **({"found": found} if found else {}))
    return section
