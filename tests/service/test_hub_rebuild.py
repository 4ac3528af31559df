"""The event store and ``rehsos hub rebuild`` on a running hub, through the real broker, on SQLite
and PostgreSQL: the rebuilt read models equal the live ones table by table, replaying twice
changes nothing, and events that arrive while a rebuild runs are not lost."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid

import eventlet
import pytest
import requests
import sqlalchemy as sa

from rehsos import auth, contracts
from reporting import rebuild
from tests.hub_support import Streams, Uplink, province_events
from tests.support import read_models, wait_until

NODES = ["6371", "6303", "63"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub(request, make_province):
    return make_province(NODES, start_nodes=False, database=request.param)


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def publish(hub, events) -> None:
    for node in dict.fromkeys(e.node for e in events):
        with Uplink(hub, node) as uplink:
            for event in events:
                if event.node == node:
                    uplink.publish(event)


class Rebuild:
    """``rehsos hub rebuild --config hub.yaml``, in its own process, on the test's hub database.
    Its output goes to files: a progress bar written into a pipe nobody reads yet fills it, and
    the process would wait for ever."""

    def __init__(self, hub):
        env = {**os.environ, "REHSOS_DATABASE_URI": hub.settings["hub"].database_uri}
        self.out, self.err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "rehsos_tools.cli", "hub", "rebuild", "--config",
                                      str(hub.paths.config / "hub.yaml")], env=env, stdout=self.out,
                                     stderr=self.err, text=True)
        self.returncode = None

    def poll(self):
        self.returncode = self.proc.poll()
        return self.returncode

    def communicate(self, timeout=None) -> tuple[str, str]:
        self.returncode = self.proc.wait(timeout)
        texts = []
        for f in (self.out, self.err):
            f.seek(0)
            texts.append(f.read())
            f.close()
        return texts[0], texts[1]


def cli_rebuild(hub) -> Rebuild:
    return Rebuild(hub)


def test_the_rebuilt_read_models_equal_the_live_ones_and_a_second_replay_changes_nothing(hub):
    events = province_events()
    # Stream by stream, so a referral's answer (63's stream) reaches the hub after its request (6371's).
    publish(hub, [e for e in events if e.node != "63"])
    publish(hub, [e for e in events if e.node == "63"])
    engine = hub.engine("hub", "reporting")
    try:
        wait_until(lambda: count(engine, "inbox") == len(events), message="every event applied")
        assert count(engine, "event_store") == len(events)
        live = read_models(engine)
        assert all(live[t] for t in ("registered_case", "referral_status", "facility_capacity", "centre_plan",
                                     "person_presence", "node_heartbeat"))

        proc = cli_rebuild(hub)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
        assert f"{len(events)} events replayed in" in out and "events/s" in out
        assert "rebuild" in err and "event" in err  # the progress bar
        assert read_models(engine) == live

        rebuild.rebuild(hub.settings["hub"].database_uri_for("reporting"))
        assert read_models(engine) == live
        assert count(engine, "event_store") == len(events)  # a rebuild stores nothing
    finally:
        engine.dispose()


def test_a_rebuild_while_events_keep_arriving_loses_nothing(hub):
    streams = Streams()

    def opened():
        return streams("case.opened", {"case_id": str(uuid.uuid4()), "person_key": uuid.uuid4().hex * 2,
                                       "age_band": "30-34", "sex": "female", "category": "pengemis",
                                       "stage": "pendekatan_awal", "region": "6371"}, "6371", "intake")

    engine = hub.engine("hub", "reporting")
    try:
        with Uplink(hub, "6371") as uplink:
            for _ in range(400):
                uplink.publish(opened())
            wait_until(lambda: count(engine, "inbox") == 400, timeout=60, message="the first events applied")
            proc = cli_rebuild(hub)
            during = 0
            while proc.poll() is None:  # until the rebuild has swapped its models in
                uplink.publish(opened())
                during += 1
                eventlet.sleep(0.05)  # a steady trickle the hub keeps up with, on PostgreSQL too
            out, err = proc.communicate()
        assert proc.returncode == 0, out + err
        assert during > 0
        total = 400 + during
        wait_until(lambda: count(engine, "inbox") == total, timeout=60, message="every event applied")
        wait_until(lambda: count(engine, "registered_case") == total, message="every case counted")
        assert count(engine, "event_store") == total
        live = read_models(engine)
        rebuild.rebuild(hub.settings["hub"].database_uri_for("reporting"))
        assert read_models(engine) == live
    finally:
        engine.dispose()


def test_a_duplicate_is_stored_once_and_an_official_s_name_never(hub):
    streams = Streams()
    case = streams("case.opened", {"case_id": str(uuid.uuid4()), "person_key": "ef" * 32, "age_band": "30-34",
                                   "sex": "male", "category": "gelandangan", "stage": "pendekatan_awal",
                                   "region": "6371"}, "6371", "intake")
    # A direct event (an official's name, for one office) sent up to the hub's consumers instead.
    nominee = contracts.make_event("training.nominated", {
        "nomination_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()), "name": "Budi Santoso Rahasia",
        "position": "Pekerja sosial", "office": "Dinas Sosial", "regency": "6371", "role": "pekerja_sosial",
        "phone": None, "email": None}, node="6371", service="training").with_sequence(1)
    publish(hub, [case, case, nominee])
    engine = hub.engine("hub", "reporting")
    try:
        wait_until(lambda: count(engine, "quarantine") == 1 and count(engine, "inbox") == 1,
                   message="the case applied once, the nominee refused")
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT event_id, envelope FROM event_store")).all()
            reason = conn.execute(sa.text("SELECT reason FROM quarantine")).scalar_one()
        assert [r.event_id for r in stored] == [str(case.event_id)]
        assert "Rahasia" not in stored[0].envelope and "official" in reason
    finally:
        engine.dispose()


def test_an_application_that_fails_stores_nothing_and_a_redriven_one_is_stored(make_province):
    hub = make_province(NODES, start_nodes=False)
    events = province_events()
    request = next(e for e in events if e.event_type == "referral.requested")
    answer = next(e for e in events if e.event_type == "referral.accepted")
    engine = hub.engine("hub", "reporting")
    try:
        publish(hub, [answer])  # before its request: every attempt fails and is rolled back
        wait_until(lambda: count(engine, "quarantine") == 1, timeout=30, message="dead-lettered after its retries")
        assert count(engine, "inbox") == 0 and count(engine, "event_store") == 0
        publish(hub, [request])
        wait_until(lambda: count(engine, "event_store") == 1, message="the request applied")
        done = requests.post(hub.url("hub", "/api/v1/quarantine/redrive"), headers=hub.headers("hub", auth.ADMIN),
                             timeout=30)
        assert [r["outcome"] for r in done.json()] == ["applied"]
        with engine.connect() as conn:
            stored = list(conn.scalars(sa.text("SELECT event_id FROM event_store ORDER BY id")))
        assert stored == [str(request.event_id), str(answer.event_id)]
    finally:
        engine.dispose()
