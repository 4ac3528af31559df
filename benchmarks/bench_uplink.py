"""Benchmark: the intake API under load and registrations at the nodes until counted at the hub
(issue 14, points 3, 4 and 8), on PostgreSQL and the real broker.

The hub and each node run as their own processes (``rehsos.serve``, as deployed); this process is
the clients. Two phases, one JSON object:

- api: CONCURRENCY (50) clients, each on its own keep-alive connection, POST /api/v1/cases to the
  first node back to back for API_SECONDS: requests/s, p50/p95/p99. Beside them the CPU the node
  process spent per request: what one process can serve at most, and the p50 that 50 clients
  waiting on each other get from it (Little's law: clients / rate) — where the time goes.
- end_to_end: registrations at a steady RATE (200/s) spread over the nodes for E2E_SECONDS, each
  sent at its planned moment whatever the answers before it (open loop); a registration's latency
  runs from that moment until its case is counted at the hub (in the hub's registered_case, polled
  every 50 ms). p50/p99, the rate the nodes answered at, and what had not arrived E2E_DRAIN seconds
  after the last was sent.
- Peak RSS of each service process (VmHWM) and the CPU seconds each spent.

`make bench` runs it; NODES, CONCURRENCY, API_SECONDS, RATE, E2E_SECONDS lower the load, PHASES=api
or PHASES=e2e runs one phase, API_WORKERS=2 runs the first node as two processes on one port.
PHASES=profile (not in the default) sends PROFILE_REQUESTS (300) registrations one at a time to the
first node: its CPU per registration, then the same with the node under cProfile (CPU time, saved
to PROFILE_OUT), summed by package and the top functions: where a registration's CPU goes. Vhosts,
databases and the province's folder are removed afterwards. Figures, never assertions: the
clients share the 2 cores with the services.
"""
import warnings

warnings.filterwarnings("ignore", message="\nEventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.processes import ServiceProcess, remove  # noqa: E402
from rehsos import reference  # noqa: E402
from tests.support import PostgresDatabases, Province, case_body  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, max(0, int(round(q * len(values))) - 1))] * 1000, 1)


def api_phase(province, node: ServiceProcess, concurrency: int, seconds: float,
              siblings: list[ServiceProcess] = ()) -> dict:
    """``siblings``: more processes of the node behind its port (SO_REUSEPORT), counted with it."""
    workers = [node, *siblings]
    url, headers = province.url(node.name, "/api/v1/cases"), province.headers(node.name, "operator")
    latencies, statuses, deadline = [], {}, time.monotonic() + seconds

    def client(c):
        with requests.Session() as session:
            i = 0
            while time.monotonic() < deadline:
                started = time.perf_counter()
                resp = session.post(url, json=case_body(nik=None, name=f"Beban {c} {i}"), headers=headers,
                                    timeout=60)
                latencies.append(time.perf_counter() - started)
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                i += 1

    # What the node's sessions on its intake database do, sampled every 0.1 s: running, idle in a
    # transaction (the node's Python has the turn), or waiting (on a lock, on I/O).
    engine, states = province.engine(node.name, "intake"), {}

    def sample():
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                for state, wait in conn.execute(sa.text(
                        "SELECT state, coalesce(wait_event_type || ':' || wait_event, '') FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")):
                    key = f"{state} {wait}".strip()
                    states[key] = states.get(key, 0) + 1
            eventlet.sleep(0.1)

    cpu, own_cpu, started = sum(cpu_seconds(w.pid) for w in workers), time.process_time(), time.perf_counter()
    pool = eventlet.GreenPool(concurrency + 1)
    for c in range(concurrency):
        pool.spawn(client, c)
    pool.spawn(sample)
    pool.waitall()
    wall = time.perf_counter() - started
    engine.dispose()
    samples = sum(states.values()) or 1
    cpu, own_cpu = sum(cpu_seconds(w.pid) for w in workers) - cpu, time.process_time() - own_cpu
    rate = len(latencies) / wall
    cpu_ms = 1000 * cpu / len(latencies)
    return {
        "api_concurrency": concurrency, "api_node_processes": len(workers), "api_seconds": round(wall, 1), "api_requests": len(latencies),
        "api_http_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "api_requests_per_s": round(rate, 1),
        "api_latency_ms_p50": quantile(latencies, 0.5), "api_latency_ms_p95": quantile(latencies, 0.95),
        "api_latency_ms_p99": quantile(latencies, 0.99), "api_target_ms_p99": 50,
        # Where the time goes: the node process's CPU per request bounds one process's rate.
        "api_node_cpu_ms_per_request": round(cpu_ms, 1),
        "api_node_cpu_cores_used": round(cpu / wall, 2),
        "api_max_requests_per_s_one_core": round(1000 / cpu_ms, 1),
        "api_p50_ms_implied_by_that_rate": round(concurrency * cpu_ms, 1),
        "api_rate_for_p50_50ms_at_this_concurrency": round(concurrency / 0.05),
        "api_clients_cpu_ms_per_request": round(1000 * own_cpu / len(latencies), 1),
        # Share of the node's database sessions in each state over the phase (pg_stat_activity).
        "api_node_db_sessions_by_state": {k: round(v / samples, 2) for k, v in sorted(states.items())},
    }


def register_one_by_one(province, node: ServiceProcess, count: int, profile: Path | None = None) -> float:
    """``count`` registrations, each sent after the answer to the one before (one client): the
    node's CPU seconds per registration, its relay's publishing included. ``profile``: the node
    runs under ``profiled.py``, which profiles these requests only and writes there."""
    url, headers = province.url(node.name, "/api/v1/cases"), province.headers(node.name, "operator")
    with requests.Session() as session:
        for i in range(5):  # first uses: imports, compiled statements
            session.post(url, json=case_body(nik=None, name=f"Pemanasan {i}"), headers=headers, timeout=60)
        time.sleep(1)
        cpu = cpu_seconds(node.pid)
        if profile:
            os.kill(node.pid, signal.SIGUSR1)
        for i in range(count):
            resp = session.post(url, json=case_body(nik=None, name=f"Profil {i}"), headers=headers, timeout=60)
            assert resp.status_code == 201, resp.text
        time.sleep(1)  # the relay publishes the last events
        if profile:
            profile.unlink(missing_ok=True)
            os.kill(node.pid, signal.SIGUSR2)
            while not profile.exists() or not profile.stat().st_size:
                time.sleep(0.2)
            time.sleep(1)
        return (cpu_seconds(node.pid) - cpu) / count


# Where a profile's CPU goes, by the package a function lives in (its own time, not its callees').
PROFILE_BUCKETS = [("sqlalchemy", "/sqlalchemy/"), ("psycopg2 and libpq", "psycopg2"), ("marshmallow", "/marshmallow/"),
                   ("werkzeug", "/werkzeug/"), ("eventlet", "/eventlet/"), ("nameko", "/nameko/"),
                   ("kombu and amqp", "/kombu/"), ("kombu and amqp", "/amqp/"), ("json", "/json/"),
                   ("logging", "/logging/"), ("prometheus", "/prometheus_client/"), ("rehsos", "/rehsos/"),
                   ("services", "/services/")]


def profile_summary(path: Path, requests_made: int, top: int = 25) -> dict:
    import pstats

    stats = pstats.Stats(str(path))
    by_bucket: dict[str, float] = {}
    functions = []
    for (file, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        bucket = next((b for b, marker in PROFILE_BUCKETS if marker in file or marker in name), "other")
        by_bucket[bucket] = by_bucket.get(bucket, 0.0) + tottime
        functions.append((tottime, cumtime, calls, f"{Path(file).name}:{line}({name})"))
    per_request = lambda seconds: round(1000 * seconds / requests_made, 2)  # noqa: E731
    return {
        "profile_cpu_ms_per_request_by_package": {b: per_request(t) for b, t in
                                                  sorted(by_bucket.items(), key=lambda kv: -kv[1])},
        "profile_top_functions_own_ms_per_request": [
            [name, per_request(tot), per_request(cum), round(calls / requests_made, 1)]
            for tot, cum, calls, name in sorted(functions, reverse=True)[:top]],
    }


def profile_phase(province, processes: dict, name: str, count: int, out: Path) -> dict:
    """The node's CPU per registration, one at a time; then the same under cProfile (CPU time),
    with where it goes. The node is restarted under the profiler, then as before."""
    result = {"profile_requests": count,
              "profile_node_cpu_ms_per_request": round(1000 * register_one_by_one(province, processes[name], count), 2)}
    processes[name].stop()
    processes[name] = ServiceProcess(province, name, log_suffix="-profiled", profile=out).start()
    profiled = register_one_by_one(province, processes[name], count, profile=out)
    processes[name].stop()
    processes[name] = ServiceProcess(province, name, log_suffix="-after-profile").start()
    result["profile_node_cpu_ms_per_request_profiled"] = round(1000 * profiled, 2)
    result["profile_file"] = str(out)
    result.update(profile_summary(out, count))
    return result


def end_to_end_phase(province, nodes: list[str], hub_engine, rate: float, seconds: float, drain: float) -> dict:
    sent_at: dict[str, float] = {}  # case id -> its planned moment
    arrived: dict[str, float] = {}
    answers, failures = [], []
    sessions = {n: requests.Session() for n in nodes}
    done = eventlet.event.Event()
    kecamatan = {n: next(iter(reference.kecamatan_of(n))) for n in nodes}

    def register(i, planned):
        node = nodes[i % len(nodes)]
        body = case_body(nik=None, name=f"Ujung {i}", regency=node, kecamatan=kecamatan[node])
        try:
            resp = sessions[node].post(province.url(node, "/api/v1/cases"), json=body,
                                       headers=province.headers(node, "operator"), timeout=60)
        except requests.RequestException as exc:
            failures.append(type(exc).__name__)
            return
        answers.append(time.perf_counter() - planned)
        if resp.status_code == 201:
            sent_at[resp.json()["id"]] = planned
        else:
            failures.append(resp.status_code)

    def poll():
        while not done.ready() or len(arrived) < len(sent_at):
            waiting = [c for c in sent_at if c not in arrived]
            if waiting:
                with hub_engine.connect() as conn:
                    found = conn.execute(sa.text("SELECT case_id FROM registered_case WHERE case_id = ANY(:ids)"),
                                         {"ids": waiting}).scalars().all()
                now = time.perf_counter()
                for case_id in found:
                    arrived[case_id] = now
            if done.ready() and time.perf_counter() > done.wait() + drain:
                return
            eventlet.sleep(0.05)

    cpu, own_cpu = {}, time.process_time()
    poller = eventlet.spawn(poll)
    pool = eventlet.GreenPool(5000)
    started = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        planned = started + i / rate
        delay = planned - time.perf_counter()
        if delay > 0:
            eventlet.sleep(delay)
        pool.spawn(register, i, planned)
    sending = time.perf_counter() - started
    pool.waitall()
    answered = time.perf_counter() - started
    done.send(time.perf_counter())
    poller.wait()
    latencies = [arrived[c] - sent_at[c] for c in arrived]
    return {
        "e2e_nodes": len(nodes), "e2e_offered_per_s": rate, "e2e_registrations": total,
        "e2e_sending_seconds": round(sending, 1),
        "e2e_answered_per_s": round(len(answers) / answered, 1),
        "e2e_failed": len(failures),
        "e2e_failed_by_kind": {str(k): failures.count(k) for k in sorted(set(failures), key=str)},
        "e2e_http_ms_p50": quantile(answers, 0.5), "e2e_http_ms_p99": quantile(answers, 0.99),
        "e2e_counted_at_hub": len(arrived),
        "e2e_not_counted_within_drain": len(sent_at) - len(arrived), "e2e_drain_seconds": drain,
        "e2e_latency_ms_p50": quantile(latencies, 0.5), "e2e_latency_ms_p99": quantile(latencies, 0.99),
        "e2e_target_ms_p99": 1000,
        "e2e_clients_cpu_seconds": round(time.process_time() - own_cpu, 1),
    }


def main() -> None:
    nodes = os.environ.get("NODES", "6371,6303,6372").split(",")
    pg = PostgresDatabases()
    province = Province(Path(tempfile.mkdtemp(prefix="rehsos-bench-")), nodes, start_hub=False, start_nodes=False,
                        database="postgresql", pg=pg).start()
    hub_engine = province.engine("hub", "reporting")
    processes: dict[str, ServiceProcess] = {}
    try:
        workers = int(os.environ.get("API_WORKERS", "1"))
        # Several processes of the first node share its port only when configured to.
        shared = {"REHSOS_HTTP__SHARE_PORT": "true"} if workers > 1 else {}
        for name in ["hub", *nodes]:
            processes[name] = ServiceProcess(province, name, **(shared if name == nodes[0] else {})).start()
        cpu_before = {name: cpu_seconds(p.pid) for name, p in processes.items()}
        load = os.getloadavg()[0]
        result = {"benchmark": "api_and_end_to_end_postgresql", "load_average_at_start": round(load, 2),
                  "cores": os.cpu_count()}
        phases = os.environ.get("PHASES", "api,e2e").split(",")
        if "api" in phases:
            # API_WORKERS > 1: more processes of the first node on its port (http.share_port:
            # SO_REUSEPORT; its outbox relay takes a lease, so one relays at a time).
            siblings = [ServiceProcess(province, nodes[0], log_suffix=f"-{i}", **shared).start()
                        for i in range(1, workers)]
            processes.update({f"{nodes[0]}#{i + 2}": p for i, p in enumerate(siblings)})
            result.update(api_phase(province, processes[nodes[0]], int(os.environ.get("CONCURRENCY", "50")),
                                    float(os.environ.get("API_SECONDS", "20")), siblings))
            time.sleep(3)  # the first node's outbox sends what the api phase registered
        if "profile" in phases:
            result.update(profile_phase(province, processes, nodes[0], int(os.environ.get("PROFILE_REQUESTS", "300")),
                                        Path(os.environ.get("PROFILE_OUT", "/tmp/rehsos-intake-register.prof"))))
        if "e2e" in phases:
            result.update(end_to_end_phase(province, nodes, hub_engine, float(os.environ.get("RATE", "200")),
                                           float(os.environ.get("E2E_SECONDS", "20")),
                                           float(os.environ.get("E2E_DRAIN", "120"))))
        result["cpu_seconds_by_process"] = {name: round(cpu_seconds(p.pid) - cpu_before.get(name, 0.0), 1)
                                            for name, p in processes.items()}
        result["peak_rss_mb_by_process"] = {name: p.stop() for name, p in processes.items()}
        print(json.dumps(result))
    finally:
        for p in processes.values():
            p.stop()
        hub_engine.dispose()
        remove(province, pg)


if __name__ == "__main__":
    main()
