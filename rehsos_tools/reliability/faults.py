"""Faults while two nodes keep registering cases over HTTP; per fault: sent, counted, lost, duplicated.

*Sent* is what the nodes committed (a case in the node's database for a NIK the run typed in,
whether or not the HTTP answer made it back), *counted* what the hub's read model holds of it
once the province has settled, *lost* the difference, *duplicated* what the hub's case total
grew by beyond the cases counted. Lost and duplicated must both be 0.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import kombu
import requests
import sqlalchemy as sa

from rehsos import topology
from rehsos_tools.reliability.people import Register
from rehsos_tools.reliability.province import HUB, Province
from rehsos_tools.reliability.report import Section

log = logging.getLogger("rehsos.reliability")

WARMUP = 2.0  # registrations flowing before the fault starts
TAIL = 2.0  # and after it ends
IDLE_CHECKS = 3  # settled: nothing in flight on this many checks in a row (the broker's stats lag ~5 s)


@dataclass
class Durations:
    hub_outage: float = 60.0
    database_outage: float = 60.0
    window: float = 20.0  # how long the other faults last
    settle: float = 180.0  # at most this long for the hub to count what was sent
    interval: float = 0.25  # between two registrations of one node


@dataclass
class Attempt:
    node: str
    nik: str
    status: int | None  # None: no answer (refused, reset, timed out)


@dataclass
class Load:
    """One thread per node registering a case every ``interval`` seconds until stopped."""
    province: Province
    people: Register
    nodes: list[str]
    interval: float
    attempts: list[Attempt] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._keep_registering, args=(n,), daemon=True) for n in self.nodes]

    def register(self, node: str, session: requests.Session | None = None) -> Attempt:
        person = self.people.new(node)
        try:
            status = self.province.register(node, person.case_body(self.people.category()), session).status_code
        except requests.RequestException:
            status = None
        attempt = Attempt(node, person.nik, status)
        with self._lock:
            self.attempts.append(attempt)
        return attempt

    def burst(self, node: str, count: int, workers: int = 8) -> None:
        """``count`` registrations at once, so the node's relay has a batch to publish."""
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda _: self.register(node), range(count)))

    def _keep_registering(self, node: str) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            attempt = self.register(node, session)
            if attempt.status is None:
                session = requests.Session()  # the node went away: a fresh connection next time
            self._stop.wait(self.interval)

    def __enter__(self) -> "Load":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


# -- what the node committed and what the hub counted ----------------------------------------------
def _chunks(values: list, size: int = 500):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def committed_cases(province: Province, attempts: list[Attempt]) -> dict[str, str]:
    """case id -> node, for every attempt the node committed (answered or not)."""
    cases: dict[str, str] = {}
    case_t = sa.table("case", sa.column("id"), sa.column("person_id"))
    person_t = sa.table("person", sa.column("id"), sa.column("nik"))
    for node in {a.node for a in attempts}:
        niks = [a.nik for a in attempts if a.node == node]
        with province.engine(node, "intake").connect() as conn:
            for chunk in _chunks(niks):
                rows = conn.execute(sa.select(case_t.c.id).join(person_t, person_t.c.id == case_t.c.person_id)
                                    .where(person_t.c.nik.in_(chunk)))
                cases.update({row.id: node for row in rows})
    return cases


def counted_at_hub(province: Province, case_ids: list[str]) -> set[str]:
    registered = sa.table("registered_case", sa.column("case_id"))
    counted: set[str] = set()
    with province.engine(HUB, "reporting").connect() as conn:
        for chunk in _chunks(case_ids):
            counted |= set(conn.execute(sa.select(registered.c.case_id).where(registered.c.case_id.in_(chunk)))
                           .scalars())
    return counted


def hub_total(province: Province) -> int:
    return province.summary()["total_cases"]


def settle(province: Province, case_ids: list[str], timeout: float) -> tuple[set[str], float, dict]:
    """Wait until the hub counts every case, or nothing is in flight any more (no outbox row
    pending, no message queued on the way), or ``timeout``. Returns what was counted, how long
    it took, and what was still in flight at the end."""
    start = time.monotonic()
    idle = 0
    in_flight: dict = {}
    while True:
        try:
            counted = counted_at_hub(province, case_ids)
        except sa.exc.OperationalError:
            counted = set()  # the hub's database may still be coming back
        if len(counted) == len(case_ids) or time.monotonic() - start > timeout:
            break
        in_flight = {f"{n}/outbox": province.outbox_pending(n) for n in province.nodes}
        in_flight.update(province.queue_backlog())
        in_flight = {k: v for k, v in in_flight.items() if v}
        idle = 0 if in_flight else idle + 1
        if idle >= IDLE_CHECKS:
            break
        time.sleep(2)
    return counted, round(time.monotonic() - start, 1), in_flight


# -- the faults -----------------------------------------------------------------------------------
def hub_unreachable(province: Province, load: Load, d: Durations) -> dict:
    """The hub's broker refuses the nodes (links cut, no new connections) for ``hub_outage`` s."""
    province.block_hub()
    try:
        time.sleep(d.hub_outage)
    finally:
        province.unblock_hub()
    return {"outage_s": d.hub_outage}


def node_connection_closed(province: Province, load: Load, d: Durations) -> dict:
    """Every connection to the first node's broker (services, relay, shovels) closed by the
    broker, three times over the window."""
    node = province.nodes[0]
    closed = 0
    for _ in range(3):
        time.sleep(d.window / 3)
        closed += province.close_connections(province.connections(province.names.node_vhost(node)))
    return {"node": node, "connections_closed": closed}


def relay_killed_mid_batch(province: Province, load: Load, d: Durations) -> dict:
    """The first node's process SIGKILLed while its outbox relay is mid-batch, and restarted;
    three times. Its uplink shovel is held meanwhile, so the ``uplink`` queue counts what the
    relay has had confirmed: more there than rows marked sent means the relay was between the
    broker's confirm and marking its rows, the worst moment to die."""
    node = province.nodes[0]
    kills = []
    province.hold_uplink(node)
    try:
        with kombu.Connection(province.settings[node].broker_uri) as conn:
            channel = conn.channel()

            def confirmed() -> int:
                return channel.queue_declare(topology.UPLINK_QUEUE, passive=True).message_count

            for _ in range(3):
                confirmed_before, marked_before = confirmed(), province.outbox_marked(node)
                burst = threading.Thread(target=load.burst, args=(node, 30), daemon=True)
                burst.start()
                deadline = time.monotonic() + 10
                unmarked = 0
                while time.monotonic() < deadline:
                    unmarked = (confirmed() - confirmed_before) - (province.outbox_marked(node) - marked_before)
                    if unmarked > 0:
                        break
                    time.sleep(0.005)
                province.kill(node)
                burst.join(30)
                kills.append({"between_confirm_and_mark": unmarked > 0, "confirmed_not_marked": max(0, unmarked)})
                time.sleep(1)
                province.restart(node)
                time.sleep(max(0.0, d.window / 3 - 1))
    finally:
        province.release_uplink()
    return {"node": node, "kills": kills}


def service_process_killed(province: Province, load: Load, d: Durations) -> dict:
    """The hub (its consumer busy with the load) and the second node SIGKILLed, restarted after 2 s."""
    node = province.nodes[1]
    time.sleep(d.window / 2)
    province.kill(HUB)
    province.kill(node)
    time.sleep(2)
    province.restart(HUB)
    province.restart(node)
    time.sleep(d.window / 2)
    return {"killed": [HUB, node]}


def hub_database_unavailable(province: Province, load: Load, d: Durations) -> dict:
    """The hub's reporting database refuses work for ``database_outage`` s (PostgreSQL: no new
    connections, sessions ended; SQLite: locked exclusively)."""
    with province.database_unavailable(HUB, "reporting"):
        time.sleep(d.database_outage)
    return {"outage_s": d.database_outage, "database": province.database}


def events_out_of_order(province: Province, load: Load, d: Durations) -> dict:
    """The first node's uplink held for the window, then everything it held published on the hub
    in reverse order, as that node (its own credentials and stamped user id)."""
    node = province.nodes[0]
    province.hold_uplink(node)
    try:
        time.sleep(d.window)
        conn, channel, messages = province.take_uplink(node)
        try:
            for message in reversed(messages):
                props = {k: message.properties[k] for k in ("content_type", "content_encoding", "message_id", "type")
                         if message.properties.get(k)}
                province.publish_as(node, message.body, message.delivery_info["routing_key"], properties=props)
            if messages:
                channel.basic_ack(messages[-1].delivery_tag, multiple=True)
        finally:
            conn.release()
    finally:
        province.release_uplink()
    sequences = [json.loads(m.body).get("sequence") for m in reversed(messages)]
    return {"node": node, "published_reversed": len(messages), "first_sequences": sequences[:5]}


FAULTS = {
    "hub_unreachable": hub_unreachable,
    "node_broker_connection_closed": node_connection_closed,
    "outbox_relay_killed_mid_batch": relay_killed_mid_batch,
    "service_process_killed": service_process_killed,
    "hub_database_unavailable": hub_database_unavailable,
    "events_out_of_order": events_out_of_order,
}


def run(province: Province, people: Register, d: Durations, only: list[str] | None = None) -> Section:
    section = Section("faults")
    totals = {"sent": 0, "counted": 0, "lost": 0, "duplicated": 0}
    uncounted: set[str] = set()  # lost by an earlier fault: if they turn up later, they are not duplicates
    for name, inject in FAULTS.items():
        if only and name not in only:
            continue
        log.info("fault: %s", name)
        case = {"fault": name}
        try:
            before, dead_letters = hub_total(province), province.quarantine_queue_depth()
            with Load(province, people, province.nodes, d.interval) as load:
                time.sleep(WARMUP)
                case["fault_details"] = inject(province, load, d)
                time.sleep(TAIL)
            sent = committed_cases(province, load.attempts)
            counted, settled_s, in_flight = settle(province, list(sent), d.settle)
            late = counted_at_hub(province, list(uncounted))
            uncounted -= late
            grown = hub_total(province) - before
            lost = sorted(set(sent) - counted)
            uncounted |= set(lost)
            case.update({
                "attempts": len(load.attempts),
                "answered_201": sum(1 for a in load.attempts if a.status == 201),
                "refused_or_unanswered": sum(1 for a in load.attempts if a.status != 201),
                "sent": len(sent), "counted": len(counted), "lost": len(lost),
                "duplicated": max(0, grown - len(counted) - len(late)),
                "settled_in_s": settled_s,
            })
            if late:
                case["late_from_earlier_faults"] = len(late)
            if lost:
                case["dead_lettered"] = province.quarantine_queue_depth() - dead_letters
                case["lost_by_node"] = {n: sum(1 for c in lost if sent[c] == n) for n in province.nodes}
                case["still_in_flight"] = in_flight
            ok = case["lost"] == 0 and case["duplicated"] == 0 and case["sent"] > 0
            for key in totals:
                totals[key] += case[key]
        except Exception as exc:  # noqa: BLE001 - one fault breaking down must not stop the others
            log.exception("fault %s broke down", name)
            case["error"] = f"{type(exc).__name__}: {exc}"
            ok = False
        section.add(ok, **case)
        log.info("fault %s: %s", name, {k: case.get(k) for k in ("sent", "counted", "lost", "duplicated", "error")})
    section.figures["totals"] = totals
    return section
