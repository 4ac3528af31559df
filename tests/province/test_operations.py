"""What operators see of a running province: /metrics (Prometheus), the health check, JSON log lines."""
import json
import os
import signal
import subprocess
import sys

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from rehsos import auth

from tests.support import case_body, wait_until

pytestmark = pytest.mark.broker

PERSON = {"name": "Rahmawati Nurhaliza Putri", "nik": "6371054410920003", "birth_date": "1992-10-04"}


def metrics(province, name: str) -> tuple[str, dict]:
    resp = requests.get(province.url(name, "/metrics"), timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return resp.text, samples


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def health(province, name: str) -> requests.Response:
    return requests.get(province.url(name, "/api/v1/health"), timeout=10)


def test_metrics_count_requests_by_route_template_and_carry_no_personal_value(make_province):
    province = make_province(["6371"])
    registered = province.register("6371", case_body(sex="female", **PERSON))
    assert registered.status_code == 201, registered.text
    case_id = registered.json()["id"]
    headers = province.headers("6371", auth.OPERATOR)
    assert requests.get(province.url("6371", f"/api/v1/cases/{case_id}"), headers=headers, timeout=10).status_code == 200
    search = requests.get(province.url("6371", "/api/v1/cases"), params={"q": PERSON["name"]}, headers=headers, timeout=10)
    assert search.status_code == 200
    assert requests.post(province.url("6371", "/api/v1/cases"), json={}, headers=headers, timeout=10).status_code == 422
    assert requests.get(province.url("6371", "/api/v1/no-such-thing"), timeout=10).status_code == 404
    wait_until(lambda: province.hub_cases() == 1, message="the case at the hub")

    text, samples = metrics(province, "6371")
    count = "rehsos_http_request_duration_seconds_count"
    assert value(samples, count, method="POST", route="/api/v1/cases", status="2xx") == 1
    assert value(samples, count, method="POST", route="/api/v1/cases", status="4xx") == 1
    assert value(samples, count, method="GET", route="/api/v1/cases/<string(length=36):case_id>", status="2xx") == 1
    assert value(samples, count, method="GET", route="/api/v1/cases", status="2xx") == 1
    assert value(samples, count, method="GET", route="unmatched", status="4xx") == 1
    # The registration's two events (person.registered, case.opened) left the outbox; nothing waits.
    assert value(samples, "rehsos_events_published_total", service="intake") == 2
    assert value(samples, "rehsos_outbox_waiting", service="intake") == 0
    assert value(samples, "rehsos_outbox_oldest_waiting_seconds", service="intake") == 0
    assert value(samples, "rehsos_dependency_up", service="intake", dependency="broker") == 1
    assert value(samples, "rehsos_consumer_ready_messages", service="intake", queue="intake.downlink") == 0
    # Route templates, never raw paths: no id, and nothing the person's record holds.
    assert case_id not in text and "no-such-thing" not in text
    for personal in PERSON.values():
        assert personal not in text

    _, hub = metrics(province, "hub")
    wait_until(lambda: value(metrics(province, "hub")[1], "rehsos_events_consumed_total", service="reporting",
                             outcome="applied") == 2, message="the hub counted two events applied")
    assert value(hub, "rehsos_consumer_ready_messages", service="reporting", queue="reporting.events") == 0


def test_outbox_backlog_and_health_while_the_node_broker_is_away_and_uplink_backlog_while_the_hub_is(make_province):
    province = make_province(["6371"])
    ready = health(province, "6371")
    assert ready.status_code == 200
    assert ready.json()["checks"]["intake"] == {"database": "ok", "broker": "ok", "outbox_waiting": 0,
                                                "oldest_waiting_seconds": 0.0, "quarantined": 0, "queue_ready": 0}
    vhost = province.names.node_vhost("6371")
    province.mgmt.request("PUT", "vhost-limits", vhost, "max-connections", body={"value": 0})
    try:
        def cut():
            # The management API lists a new connection only after its next stats tick: cut until none is left.
            for conn in province.mgmt.request("GET", "connections") or []:
                if conn.get("vhost") == vhost:
                    province.mgmt.request("DELETE", "connections", conn["name"], ok=(200, 204, 404))
            return health(province, "6371").status_code == 503
        wait_until(cut, timeout=20, interval=0.5, message="the node's broker connections cut")
        for i in range(3):  # the node still registers: its events wait in the outbox
            assert province.register("6371", case_body(nik=None, name=f"Orang {i}")).status_code == 201
        # Health and metrics share one reading for two seconds (rehsos.metrics.STATE_SECONDS).
        wait_until(lambda: value(metrics(province, "6371")[1], "rehsos_outbox_waiting", service="intake") == 6,
                   timeout=10, interval=0.5, message="six events waiting in the outbox")
        _, samples = metrics(province, "6371")
        assert value(samples, "rehsos_outbox_waiting", service="intake") == 6
        assert value(samples, "rehsos_outbox_oldest_waiting_seconds", service="intake") > 0
        assert value(samples, "rehsos_dependency_up", service="intake", dependency="broker") == 0
        assert value(samples, "rehsos_dependency_up", service="intake", dependency="database") == 1
        away = health(province, "6371")
        assert away.status_code == 503
        assert away.json()["status"] == "unavailable"
        assert away.json()["checks"]["intake"]["broker"].startswith("error: ")
        assert away.json()["checks"]["intake"]["outbox_waiting"] == 6
    finally:
        province.mgmt.request("DELETE", "vhost-limits", vhost, "max-connections", ok=(200, 204, 404))
    wait_until(lambda: value(metrics(province, "6371")[1], "rehsos_outbox_waiting", service="intake") == 0,
               timeout=30, message="the outbox drained once the broker is back")
    wait_until(lambda: health(province, "6371").status_code == 200, message="healthy again")
    wait_until(lambda: province.hub_cases() == 3, timeout=30, message="the three cases at the hub")

    province.block_hub()
    try:
        assert province.register("6371", case_body(nik=None, name="Orang 3")).status_code == 201
        wait_until(lambda: value(metrics(province, "6371")[1], "rehsos_uplink_ready_messages") == 2,
                   message="two events waiting in the uplink")
        assert health(province, "6371").json()["uplink_waiting"] == 2
    finally:
        province.unblock_hub()
    wait_until(lambda: value(metrics(province, "6371")[1], "rehsos_uplink_ready_messages") == 0, timeout=40,
               message="the uplink drained")


def test_a_refused_message_shows_in_the_hub_quarantine_count(make_province):
    province = make_province(["6371"], start_nodes=False)
    _, before = metrics(province, "hub")
    assert value(before, "rehsos_quarantined", service="reporting", kind="refused") == 0
    province.publish_as("6371", b"{not json")
    wait_until(lambda: value(metrics(province, "hub")[1], "rehsos_quarantined", service="reporting",
                             kind="refused") == 1, message="one refused message counted")
    _, samples = metrics(province, "hub")
    assert value(samples, "rehsos_events_consumed_total", service="reporting", outcome="quarantined") == 1
    assert health(province, "hub").json()["checks"]["reporting"]["quarantined"] == 1


def test_metrics_need_the_metrics_token_when_not_public(make_province):
    province = make_province(["6371"], start_hub=False, start_nodes=False)
    import dataclasses

    province.settings["6371"] = dataclasses.replace(province.settings["6371"], metrics_public=False,
                                                    metrics_token="scrape-token-0123456789")
    province.start_runner("6371")
    url = province.url("6371", "/metrics")
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers=province.headers("6371", auth.ADMIN), timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer scrape-token-0123456789"}, timeout=10).status_code == 200


def test_a_served_node_logs_json_lines_without_personal_values_or_queries(make_province):
    province = make_province(["6371"], start_nodes=False)
    env = {**os.environ, "REHSOS_LOG_FORMAT": "json"}
    config_file = province.paths.config / "node-6371.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "rehsos.serve", "--config", str(config_file)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def up():
            assert proc.poll() is None, "rehsos-serve exited"
            try:
                return requests.get(province.url("6371", "/api/v1/health"), timeout=2).ok
            except requests.ConnectionError:
                return False
        wait_until(up, timeout=60, interval=0.3, message="the served node is up")
        headers = province.headers("6371", auth.OPERATOR)
        assert province.register("6371", case_body(sex="female", **PERSON)).status_code == 201
        assert requests.get(province.url("6371", "/api/v1/cases"), params={"q": PERSON["name"]}, headers=headers,
                            timeout=10).status_code == 200
        assert requests.post(province.url("6371", "/api/v1/cases"), json={**case_body(sex="female", **PERSON), "sex": "x"},
                             headers=headers, timeout=10).status_code == 422
        # A case that is not there: the worker answers 404, and nameko logs it from the worker's greenthread.
        assert requests.get(province.url("6371", "/api/v1/cases/00000000-0000-4000-8000-000000000000"),
                            headers=headers, timeout=10).status_code == 404
        wait_until(lambda: province.hub_cases() == 1, message="the case at the hub")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=40)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message", "node"} <= line.keys() for line in lines)
    assert all(line["node"] == "6371" and line["time"].endswith("+00:00") for line in lines)
    access = [line["message"] for line in lines if line["logger"] == "rehsos.access"]
    assert any("GET /api/v1/cases?… " in message for message in access), access
    worker = [line for line in lines if line["logger"] == "nameko.containers" and "(expected)" in line["message"]]
    assert worker and worker[0]["service"] == "intake" and worker[0]["level"] == "warning", lines
    assert any("stopped" in line["message"] for line in lines)
    for personal in PERSON.values():
        assert personal not in out
    assert PERSON["name"].replace(" ", "+") not in out and PERSON["name"].replace(" ", "%20") not in out
