"""Benchmark: the kernel's messaging beside raw kombu on the same broker, in the same run (issue 14).

- Node publish: PUBLISH_N rows wait in a node's intake outbox on PostgreSQL; the node starts and
  its outbox relay drains them to the node's vhost with publisher confirms. Compared with raw
  kombu publishing the same bodies to the same exchange with a confirm per message (run before
  and after the relay; their mean is the reference).
- Hub catch-up: CATCHUP_N events of all 14 nodes (rehsos_tools.history) wait on the hub's queue
  as the nodes' shovels put them there; the hub starts on PostgreSQL and ingests them into its
  read models. Compared with raw kombu consume+ack of the same messages on the same queue.
- Peak RSS of each phase's process (the node or the hub runs inside it, beside this driver).

Each phase runs in its own process on its own throwaway vhosts and databases, removed afterwards.
Prints ONE JSON object. `make bench` runs it; PUBLISH_N / CATCHUP_N lower the load. Figures,
never assertions: compare them between commits on the same machine.
"""
import warnings

warnings.filterwarnings("ignore", message="\nEventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import kombu  # noqa: E402
import sqlalchemy as sa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rehsos import config, contracts, reference, registry, topology  # noqa: E402
from rehsos.contracts.envelope import CONTENT_TYPE  # noqa: E402
from tests.hub_support import routing_key as hub_routing_key  # noqa: E402
from tests.support import PostgresDatabases, Province, wait_until  # noqa: E402

NODE = "6371"


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


# -- node publish -------------------------------------------------------------------------------
def case_event(i: int):
    return contracts.make_event("case.opened", {
        "case_id": str(uuid.uuid4()), "person_key": uuid.uuid4().hex * 2, "stage": "pendekatan_awal",
        "age_band": "30-34", "sex": "female" if i % 2 else "male", "category": "gelandangan", "region": NODE},
        node=NODE, service="intake")


def fill_outbox(engine, count: int) -> None:
    """``count`` rows waiting in the intake outbox, written by the kernel's own Outbox.add."""
    from sqlalchemy.orm import Session

    from intake.models import messaging
    from rehsos.outbox import Outbox

    outbox = Outbox(messaging, "intake")
    done = 0
    while done < count:
        with Session(engine) as session, session.begin():
            for i in range(done, min(count, done + 1000)):
                outbox.add(session, case_event(i))
        done = min(count, done + 1000)


def raw_confirmed_publish(uri: str, exchange: str, rows) -> float:
    """Raw kombu: the same bodies, one publisher confirm per message (kombu's confirm_publish)."""
    started = time.perf_counter()
    with kombu.Connection(uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for row in rows:
            producer.publish(row.body, exchange=exchange, routing_key=row.routing_key, mandatory=True,
                             delivery_mode=2, content_type=CONTENT_TYPE, content_encoding="utf-8",
                             message_id=row.event_id, type=row.event_type, retry=False)
    return time.perf_counter() - started


def delivered_copies(province, event_ids: set) -> dict:
    """How many copies of each event reached the hub's reporting queue (consumed until quiet)."""
    copies = dict.fromkeys(event_ids, 0)
    queue = registry.get("reporting").queue
    with kombu.Connection(province.hub_amqp()) as conn:
        channel = conn.channel()
        channel.basic_qos(0, 500, False)

        def on_message(message):
            message_id = message.properties.get("message_id")
            if message_id in copies:
                copies[message_id] += 1
            message.ack()

        with kombu.Consumer(channel, queues=[kombu.Queue(queue, no_declare=True)], callbacks=[],
                            on_message=on_message, accept=["json", "application/json"]):
            while True:
                try:
                    conn.drain_events(timeout=5)  # the shovel has delivered everything
                except TimeoutError:
                    break
    return copies


def node_publish() -> dict:
    count = int(os.environ.get("PUBLISH_N", "20000"))
    pg = PostgresDatabases()
    province = Province(Path(tempfile.mkdtemp(prefix="rehsos-bench-")), [NODE], start_hub=False,
                        start_nodes=False, database="postgresql", pg=pg)
    # The relay as a deployed node runs it (the harness makes it poll faster for tests).
    province.settings[NODE] = dataclasses.replace(province.settings[NODE], relay=config._RelaySchema().load({}))
    province.start()
    engine = province.engine(NODE, "intake")
    try:
        fill_outbox(engine, count)
        with engine.connect() as conn:
            rows = list(conn.execute(sa.text("SELECT event_id, event_type, routing_key, body FROM outbox ORDER BY id")))
        uri, exchange = province.node_amqp(NODE), topology.publish_exchange(registry.NODE)
        raw_before = raw_confirmed_publish(uri, exchange, rows)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        province.start_runner(NODE)

        def pending():
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one()

        wait_until(lambda: pending() == 0, timeout=600, interval=0.1, message="outbox drained")
        wall = time.perf_counter() - started
        province.stop_runner(NODE)
        with engine.connect() as conn:
            # From the first batch marked sent to the last: the relay's rate without the node's
            # start-up (the first batch's rows are not counted, its time is not either).
            first, last, first_rows = conn.execute(sa.text(
                "SELECT min(published_at), max(published_at), "
                "(SELECT count(*) FROM outbox WHERE published_at = (SELECT min(published_at) FROM outbox)) "
                "FROM outbox")).one()
            batches = conn.execute(sa.text("SELECT count(DISTINCT published_at) FROM outbox")).scalar_one()
        raw_after = raw_confirmed_publish(uri, exchange, rows)
        # Each event went three times (raw kombu, the relay, raw kombu again) through the node's
        # uplink shovel to the hub's queue: count them there.
        copies = delivered_copies(province, {row.event_id for row in rows})
        span = (last - first).total_seconds()
        relay_rate = (count - first_rows) / span if span > 0 else float("nan")
        raw_rate = 2 * count / (raw_before + raw_after)
        return {
            "node_publish_events": count,
            "node_publish_outbox_database": "postgresql",
            "node_publish_relay_events_per_s": round(relay_rate, 1),
            "node_publish_relay_events_per_s_incl_node_start": round(count / wall, 1),
            "node_publish_relay_batches": batches,
            "node_publish_kombu_confirm_each_events_per_s": round(raw_rate, 1),
            "node_publish_kombu_confirm_each_events_per_s_before_after": [round(count / raw_before, 1),
                                                                           round(count / raw_after, 1)],
            "node_publish_ratio_to_kombu": round(relay_rate / raw_rate, 2),
            # Expected three copies of every event at the hub: fewer is a loss, more a double.
            "node_publish_events_lost_at_hub": sum(1 for n in copies.values() if n < 3),
            "node_publish_events_doubled_at_hub": sum(1 for n in copies.values() if n > 3),
            "node_publish_load_average_at_start": round(load, 2),
            "node_publish_peak_rss_mb_node_process": peak_rss_mb(),
        }
    finally:
        engine.dispose()
        province.close()
        pg.drop_all()
        shutil.rmtree(province.root, ignore_errors=True)  # configs, SQLite files, the events file


# -- hub catch-up -------------------------------------------------------------------------------
def history_events(count: int) -> list:
    """The first ``count`` events (in the order they occurred) of a generated five-year history of
    all 14 nodes; a prefix in time is a prefix of every node's stream, so sequences have no gaps."""
    from rehsos_tools import history

    # About 850 events a year per person a regency registers a month, plus 180 bed reports a year.
    per_month = max(0.2, 1.15 * (count - 900) / (5 * 850))
    events = history.generate(seed=14, first="2021-01", last="2025-12", persons_per_month=per_month,
                              silent=None).events
    return events[:count]


def put_on_hub(stream_file: str, uplinks: str) -> int:
    """Child process: the events (made once, then kept in ``stream_file``) onto the hub as each
    node's shovel puts them; returns how many."""
    path = Path(stream_file)
    if not path.exists():
        with path.open("w") as out:
            for event in history_events(int(os.environ.get("CATCHUP_N", "100000"))):
                out.write(json.dumps([event.node, hub_routing_key(event), event.to_json()]) + "\n")
    by_node: dict[str, list] = {}
    with path.open() as lines:
        for line in lines:
            node, key, body = json.loads(line)
            by_node.setdefault(node, []).append((key, body))
    for node, (uri, user) in json.loads(uplinks).items():
        shovel_onto_hub(uri, user, node, by_node.get(node, []))
    return sum(len(stream) for stream in by_node.values())


def shovel_onto_hub(uri: str, user: str, node: str, events) -> None:
    """As the node's uplink shovel does (its user, user_id stamped), confirmed by the window."""
    with kombu.Connection(uri) as conn:
        channel = conn.channel()
        channel.confirm_select()
        acked = []
        channel.events["basic_ack"].add(lambda tag, multiple: acked.append(tag))
        producer = kombu.Producer(channel)
        for i, (key, body) in enumerate(events, 1):
            producer.publish(body, exchange=topology.uplink_exchange(node), routing_key=key, user_id=user, content_type="application/json",
                             content_encoding="utf-8", delivery_mode=2, retry=False)
            if i % 1000 == 0 or i == len(events):
                while not acked or max(acked) < i:  # the broker acks in order, often several at once
                    conn.drain_events(timeout=60)


def queue_depth(province, queue: str) -> int:
    with kombu.Connection(province.hub_amqp()) as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def raw_consume(province, queue: str, count: int) -> float:
    """Raw kombu: consume and ack ``count`` messages (prefetch 100, one ack each)."""
    got = 0
    started = time.perf_counter()
    with kombu.Connection(province.hub_amqp()) as conn:
        channel = conn.channel()
        channel.basic_qos(0, 100, False)

        def on_message(message):
            nonlocal got
            message.ack()
            got += 1

        with kombu.Consumer(channel, queues=[kombu.Queue(queue, no_declare=True)], callbacks=[],
                            on_message=on_message, accept=["json", "application/json"]):
            while got < count:
                conn.drain_events(timeout=60)
    return time.perf_counter() - started


def hub_catch_up() -> dict:
    nodes = list(reference.NODES)
    queue = registry.get("reporting").queue
    pg = PostgresDatabases()
    province = Province(Path(tempfile.mkdtemp(prefix="rehsos-bench-")), nodes, start_hub=False, start_nodes=False)
    # The hub's read models on PostgreSQL; the nodes do not run (their shovels are played here).
    province.settings["hub"] = dataclasses.replace(province.settings["hub"],
                                                   database_uri=pg.per_service(province.settings["hub"]))
    province.start()
    engine = province.engine("hub", "reporting")
    # The events are made and put on the hub by a child process, so this one's peak RSS is the
    # hub's (and this driver's), not that of 100,000 events held in memory.
    uplinks = {node: [province.hub_amqp(province.names.node_user(node), province.node_password(node)),
                      province.names.node_user(node)] for node in nodes}
    stream_file = Path(province.root) / "events.jsonl"

    def put_all() -> int:
        out = subprocess.run([sys.executable, __file__, "put_on_hub", str(stream_file), json.dumps(uplinks)],
                             stdout=subprocess.PIPE, text=True, check=True)
        count = int(out.stdout.strip().splitlines()[-1])
        wait_until(lambda: queue_depth(province, queue) >= count, timeout=120, interval=0.2,
                   message="every event on the hub's queue")
        return count

    try:
        started = time.perf_counter()
        total = put_all()
        publish_seconds = time.perf_counter() - started
        messages = queue_depth(province, queue)
        raw_seconds = raw_consume(province, queue, messages)
        put_all()  # the same events again, for the hub
        rss_before_hub = peak_rss_mb()
        load = os.getloadavg()[0]
        cap = float(os.environ.get("CATCHUP_SECONDS", "150"))
        profile = os.environ.get("PROFILE_HUB")  # a file for cProfile's stats of the hub's run
        if profile:
            import cProfile
            profiler = cProfile.Profile(time.process_time)  # CPU time: the greenthreads share one core
            profiler.enable()
        started, cpu = time.perf_counter(), time.process_time()
        province.start_runner("hub")
        waits: dict[str, int] = {}

        def inbox():
            with engine.connect() as conn:
                # What the hub's sessions wait on now: Lock, IO, Client (for the hub's next statement:
                # the hub is busy elsewhere), none (the database is working).
                for kind, n in conn.execute(sa.text(
                        "SELECT coalesce(wait_event_type, 'none'), count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid() "
                        "GROUP BY 1")):
                    waits[kind] = waits.get(kind, 0) + n
                waits["samples"] = waits.get("samples", 0) + 1
                return conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar_one()

        # Past the cap the figure is the rate so far (a run stays within a few minutes).
        deadline = time.monotonic() + cap
        while (applied := inbox()) < total and time.monotonic() < deadline:
            eventlet.sleep(0.5)
        hub_seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profile:
            profiler.disable()
            profiler.dump_stats(profile)
        samples = waits.pop("samples", 1)
        with engine.connect() as conn:
            quarantined = conn.execute(sa.text("SELECT count(*) FROM quarantine")).scalar_one()
            cases = conn.execute(sa.text("SELECT count(*) FROM case_fact")).scalar_one()
        raw_rate, hub_rate = messages / raw_seconds, applied / hub_seconds
        return {
            "hub_catch_up_events": total,
            "hub_catch_up_events_applied": applied,  # fewer than the events when the cap was reached
            "hub_catch_up_nodes": len(nodes),
            "hub_catch_up_database": "postgresql",
            "hub_catch_up_events_per_s": round(hub_rate, 1),
            "hub_catch_up_seconds": round(hub_seconds, 2),
            # This process's CPU time per event (the hub's consumer, mostly).
            "hub_catch_up_cpu_ms_per_event": round(1000 * cpu / max(applied, 1), 2),
            # Mean number of the hub's busy database sessions at each sample (every 0.5 s) by what
            # they wait on: Lock, IO, Client (the hub's next statement), none (the database works).
            "hub_catch_up_db_sessions_by_wait": {k: round(v / samples, 2) for k, v in sorted(waits.items())},
            "hub_catch_up_kombu_consume_ack_events_per_s": round(raw_rate, 1),
            "hub_catch_up_ratio_to_kombu": round(hub_rate / raw_rate, 3),
            # Made (a five-year history) and put on the hub's queue by a child process.
            "hub_catch_up_made_and_put_on_hub_seconds": round(publish_seconds, 1),
            "hub_catch_up_cases_at_hub": cases,
            "hub_catch_up_quarantined": quarantined,
            "hub_catch_up_load_average_at_start": round(load, 2),
            "hub_catch_up_peak_rss_mb_before_hub_start": rss_before_hub,
            "hub_catch_up_peak_rss_mb_hub_process": peak_rss_mb(),  # the hub and this driver
        }
    finally:
        engine.dispose()
        province.close()
        pg.drop_all()
        shutil.rmtree(province.root, ignore_errors=True)  # configs, SQLite files, the events file


PHASES = {"node_publish": node_publish, "hub_catch_up": hub_catch_up}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "put_on_hub":
        print(put_on_hub(*sys.argv[2:]))
        return
    if len(sys.argv) > 1:  # one phase, in this process
        print(json.dumps(PHASES[sys.argv[1]]()))
        return
    figures = {"benchmark": "ratios_to_kombu", "cpu_cores": os.cpu_count()}
    for phase in os.environ.get("PHASES", ",".join(PHASES)).split(","):
        out = subprocess.run([sys.executable, __file__, phase], stdout=subprocess.PIPE, text=True)
        if out.returncode != 0:
            figures[f"{phase}_failed"] = f"exit {out.returncode} (its error is on stderr)"
            continue
        figures.update(json.loads(out.stdout.strip().splitlines()[-1]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
