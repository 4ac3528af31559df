"""Province end to end: hub + nodes 6371 and 6303 on the real RabbitMQ, each with its databases."""
import json

import kombu
import requests
import pytest

from rehsos import reference

from tests.support import case_body, wait_until

NODES = ["6371", "6303"]


@pytest.fixture
def province(make_province):
    return make_province(NODES)


def _by_regency(summary):
    return {r["regency"]: r for r in summary["by_regency"]}


def test_cases_registered_at_two_regencies_appear_in_the_hub_summary_under_their_regency(province):
    assert province.register("6371", case_body(category="gelandangan")).status_code == 201
    assert province.register("6371", case_body(category="pengemis", nik=None, name="Siti Aisyah", sex="female")).status_code == 201
    assert province.register("6303", case_body(regency="6303", kecamatan="630305", nik="6303014507900002",
                                               sex="female", category="penyandang_disabilitas")).status_code == 201

    wait_until(lambda: province.hub_cases() == 3, message="3 cases at the hub")
    summary = province.summary()
    regencies = _by_regency(summary)
    assert regencies["6371"]["cases"] == 2
    assert regencies["6371"]["by_category"] == {"gelandangan": 1, "pengemis": 1}
    assert regencies["6303"]["by_category"] == {"penyandang_disabilitas": 1}
    assert regencies["6372"]["cases"] == 0
    streams = {(s["node"], s["service"]): s for s in summary["streams"]}
    assert streams[("6371", "intake")]["last_sequence"] == 4  # person.registered + case.opened, twice
    assert streams[("6371", "intake")]["missing"] == 0
    assert summary["quarantined"] == 0


def test_a_node_keeps_registering_while_the_hub_is_unreachable_and_every_event_arrives_once(province):
    assert province.register("6371", case_body()).status_code == 201
    wait_until(lambda: province.hub_cases() == 1, message="first case at the hub")

    province.block_hub()
    try:
        for i in range(12):
            resp = province.register("6371", case_body(nik=None, name=f"Orang {i}"))
            assert resp.status_code == 201, resp.text
        # The node committed and its relay published locally; the uplink holds what the hub lacks.
        wait_until(lambda: province.count("6371", "intake", "outbox") == 26, message="outbox rows")
        wait_until(lambda: _outbox_pending("6371", province) == 0, message="relay published to the node broker")
        assert province.hub_cases() == 1
    finally:
        province.unblock_hub()

    wait_until(lambda: province.hub_cases() == 13, timeout=40, message="all 13 cases after recovery")
    summary = province.summary()
    stream = next(s for s in summary["streams"] if s["node"] == "6371")
    assert (stream["received"], stream["last_sequence"], stream["missing"]) == (26, 26, 0)
    assert province.count("hub", "reporting", "inbox") == 26
    assert province.count("hub", "reporting", "registered_case") == 13


def _outbox_pending(node, province):
    engine = province.engine(node, "intake")
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM outbox WHERE published_at IS NULL").scalar_one()
    finally:
        engine.dispose()


def test_no_message_reaching_the_hub_carries_a_name_nik_address_or_birth_date(province, broker):
    # A tap on the hub's event exchange sees every raw message the nodes send.
    with kombu.Connection(province.hub_amqp()) as conn:
        tap = kombu.Queue("test.tap", exchange=kombu.Exchange("hub.events", type="topic", passive=True),
                          routing_key="#", durable=False, auto_delete=False)
        tap(conn.channel()).declare()
        people = [
            case_body(name="Ahmad Fauzi Rahman", nik="6371051203850001", birth_date="1985-03-12",
                      kecamatan="637105"),
            case_body(name="Nur Halimah Sari", nik="6303014507900002", birth_date="1990-07-05", sex="female",
                      regency="6303", kecamatan="630306"),
        ]
        assert province.register("6371", people[0]).status_code == 201
        assert province.register("6303", people[1]).status_code == 201
        wait_until(lambda: province.hub_cases() == 2, message="2 cases at the hub")

        raw = []
        bound = tap(conn.channel())
        while (message := bound.get(no_ack=True)) is not None:
            body = message.body.decode() if isinstance(message.body, bytes) else message.body
            raw.append(body + json.dumps(message.headers) + json.dumps({k: str(v) for k, v in message.properties.items()}))
        assert len(raw) == 4  # person.registered and case.opened per person
        forbidden = []
        for person in people:
            forbidden += [person["name"], person["nik"], person["birth_date"], person["kecamatan"],
                          reference.kecamatan_name(person["kecamatan"]),
                          person["birth_date"].replace("-", ""), person["nik"][6:12]]
            forbidden += person["name"].split()
        for text in raw:
            for value in forbidden:
                assert value not in text, f"{value!r} left the node"
        bound.delete()


def test_running_the_bootstrap_again_changes_nothing(province, broker):
    from rehsos_tools import broker as mq, devrun

    before = {v: broker.request("GET", "definitions", v) for v in
              [province.names.hub_vhost] + [province.names.node_vhost(n) for n in NODES]}
    links = devrun.node_links([province.settings[n] for n in NODES])
    report = mq.bootstrap(mq.Management(broker.base.replace("/api", "").replace("http://", "http://guest:guest@")),
                                province.names, links)
    assert report.changes == []
    after = {v: broker.request("GET", "definitions", v) for v in before}
    assert after == before


def test_one_nik_registered_in_two_regencies_is_reported_to_both_nodes_without_the_nik_leaving(province):
    from rehsos import auth

    nik = "6371051203850001"
    a = province.register("6371", case_body(nik=nik)).json()
    b = province.register("6303", case_body(nik=nik, regency="6303", kecamatan="630303", name="M. Rizki")).json()
    province.register("6303", case_body(nik="6303014507900002", regency="6303", kecamatan="630303",
                                        sex="female", name="Orang Lain"))

    def matches(node):
        resp = requests.get(province.url(node, "/api/v1/duplicates/cross-node"),
                            headers=province.headers(node, auth.OPERATOR), timeout=5)
        return resp.json()

    wait_until(lambda: matches("6371") and matches("6303"), timeout=20, message="both nodes told")
    [at_6371] = matches("6371")
    [at_6303] = matches("6303")
    assert (at_6371["person_id"], at_6371["other_nodes"]) == (a["person"]["id"], ["6303"])
    assert (at_6303["person_id"], at_6303["other_nodes"]) == (b["person"]["id"], ["6371"])
    assert province.summary()["unique_persons"] == 2


def test_events_lost_on_the_way_are_asked_for_again_and_the_gap_closes(province, broker):
    """Messages lost between a node and the hub (here: purged from the node's uplink queue while
    the hub was away) leave a gap; the hub names it, asks the node, and the node sends them again."""
    assert province.register("6371", case_body(nik=None)).status_code == 201
    wait_until(lambda: province.hub_cases() == 1, message="first case counted")
    province.block_hub()
    try:
        assert province.register("6371", case_body(nik=None, name="Ahmad Fauzi")).status_code == 201
        vhost = province.names.node_vhost("6371")
        wait_until(lambda: (broker.get("queues", vhost, "uplink") or {}).get("messages") == 2, timeout=30,
                   message="both events of the second case waiting in the node's uplink queue")
        broker.request("DELETE", "queues", vhost, "uplink", "contents")  # lost on the way
    finally:
        province.unblock_hub()
    assert province.register("6371", case_body(nik=None, name="Siti Aisyah", sex="female")).status_code == 201
    wait_until(lambda: province.hub_cases() == 3, timeout=40, message="the lost case counted after the resend")
    stream = next(s for s in province.summary()["streams"] if s["node"] == "6371" and s["service"] == "intake")
    assert stream["missing"] == 0 and stream["missing_ranges"] == []
    assert stream["resend_requests"] >= 1 and stream["last_sequence"] == 6
