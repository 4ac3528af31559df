"""The hub applies its uplink queue in batches (one transaction each), on a real hub vhost, on
SQLite and on PostgreSQL: a poison message in the middle of a batch is quarantined alone, a batch
delivered again changes nothing, and a node stream's events apply in sequence order.

Each test publishes while the hub's runner is stopped, then starts it with a long batch wait, so
the waiting messages reach the consumer as one batch."""
import dataclasses
import logging
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from rehsos import contracts, registry
from tests.domain.test_case_tally import tallies
from tests.service.test_reporting_consumer import dead_lettered, queue_depth
from tests.support import read_models, wait_until

NODES = ["6371", "6303"]


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request, make_province, pg):
    province = make_province(NODES, start_nodes=False, start_hub=False,
                             **({"database": "postgresql", "pg": pg} if request.param == "postgresql" else {}))
    # Everything published before the start arrives within the wait: one batch.
    province.settings["hub"] = dataclasses.replace(
        province.settings["hub"], consumer={**province.settings["hub"].consumer, "batch_wait": 1.0, "batch_size": 200})
    return province


def case_opened(sequence, node="6371", region=None):
    return contracts.make_event("case.opened", {
        "case_id": str(uuid.uuid4()), "person_key": uuid.uuid4().hex * 2, "stage": "pendekatan_awal",
        "age_band": "30-34", "sex": "female", "category": "gelandangan", "region": region or node},
        node=node, service="intake").with_sequence(sequence)


def rows(hub, sql, **params):
    engine = hub.engine("hub", "reporting")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def scalar(hub, sql):
    [(value,)] = rows(hub, sql)
    return value


def stored(hub, node="6371"):
    """(sequence, event type) of a node's stored events, in the order the hub stored them."""
    return rows(hub, "SELECT sequence, event_type FROM event_store WHERE node = :n ORDER BY id", n=node)


def hub_read_models(hub):
    engine = hub.engine("hub", "reporting")
    try:
        return read_models(engine, summaries=False)  # they count in place: compared with the facts below
    finally:
        engine.dispose()


def settled(hub):
    return queue_depth(hub, registry.get("reporting").queue) == 0


def test_a_poison_message_in_the_middle_of_a_batch_is_quarantined_alone(hub, caplog):
    caplog.set_level(logging.INFO, logger="rehsos.messaging")
    before = [case_opened(s) for s in (1, 2, 3, 4)]
    refused = case_opened(5, region="6303")  # 6371 reporting a case of 6303: the domain refuses it
    after = [case_opened(s) for s in (6, 7, 8)]
    for event in before:
        hub.publish_as("6371", event.to_json())
    hub.publish_as("6371", "{not json")  # invalid: quarantined before the batch
    hub.publish_as("6371", refused.to_json())
    for event in after:
        hub.publish_as("6371", event.to_json())
    hub.start_runner("hub")
    wait_until(lambda: scalar(hub, "SELECT count(*) FROM quarantine") == 2
               and scalar(hub, "SELECT count(*) FROM inbox") == 7, timeout=30, message="7 applied, 2 quarantined")
    wait_until(lambda: dead_lettered(hub) == 2, message="both dead-lettered by the broker")
    wait_until(lambda: settled(hub), message="queue empty")
    assert scalar(hub, "SELECT count(*) FROM registered_case") == 7
    assert scalar(hub, "SELECT count(*) FROM case_fact") == 7
    assert stored(hub) == [(s, "case.opened") for s in (1, 2, 3, 4, 6, 7, 8)]  # each once, in order
    reasons = sorted(reason for (reason,) in rows(hub, "SELECT reason FROM quarantine"))
    assert reasons[0].startswith("invalid event") and "outside its jurisdiction" in reasons[1]
    # It was one batch, which failed on the refused event and was applied again more carefully.
    assert any(r.getMessage().startswith("a batch of 8 events") for r in caplog.records)


def test_a_batch_delivered_again_after_its_commit_changes_nothing(hub):
    events = [case_opened(s) for s in range(1, 11)]
    for event in events + events[:3]:  # three delivered twice within the batch too
        hub.publish_as("6371", event.to_json())
    hub.start_runner("hub")
    wait_until(lambda: scalar(hub, "SELECT count(*) FROM inbox") == 10, timeout=30, message="applied")
    wait_until(lambda: settled(hub), message="queue empty")
    models = hub_read_models(hub)
    hub.stop_runner("hub")
    # The whole batch again, as the broker redelivers it when the hub died after the commit and
    # before its acks; then one new event, to know when the redelivered ones have been handled.
    late = case_opened(11)
    for event in events:
        hub.publish_as("6371", event.to_json())
    hub.publish_as("6371", late.to_json())
    hub.start_runner("hub")
    wait_until(lambda: scalar(hub, "SELECT count(*) FROM inbox") == 11, timeout=30, message="the new one applied")
    wait_until(lambda: settled(hub), message="queue empty")
    again = hub_read_models(hub)
    assert scalar(hub, "SELECT count(*) FROM event_store") == 11
    assert scalar(hub, "SELECT count(*) FROM quarantine") == 0
    late_keys = {late.payload["case_id"], late.payload["person_key"]}
    for table, now in again.items():  # only the new event's rows were added
        assert now >= models[table], table
        assert all(late_keys & set(row) for row in now - models[table]), table
    # The summaries count in place: redelivered, they must still equal what the facts sum to.
    engine = hub.engine("hub", "reporting")
    with Session(engine) as session:
        kept, summed = tallies(session)
    engine.dispose()
    assert kept == summed and kept["case_tally"]


def test_a_stream_s_events_apply_in_sequence_order_whatever_order_they_arrive_in(hub):
    events = {s: case_opened(s) for s in (1, 2, 3, 4)}
    other = [case_opened(s, node="6303") for s in (2, 1)]
    for s, event in ((3, events[3]), (1, events[1]), (4, events[4]), (2, events[2])):
        hub.publish_as("6371", event.to_json())
    for event in other:
        hub.publish_as("6303", event.to_json())
    hub.start_runner("hub")
    wait_until(lambda: scalar(hub, "SELECT count(*) FROM inbox") == 6, timeout=30, message="applied")
    assert stored(hub) == [(s, "case.opened") for s in (1, 2, 3, 4)]
    assert stored(hub, "6303") == [(1, "case.opened"), (2, "case.opened")]
