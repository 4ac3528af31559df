"""`make compose-smoke`: the province of docker-compose.yml in podman-compose, end to end.

  python -m rehsos_tools.compose_smoke [--keep] [--project rehsos-smoke] [--nodes all]

From docker-compose.yml (or, with --nodes, from what `rehsos compose --nodes ...` writes into
var/compose-smoke/deploy: the compose file, the offices' configs and broker definitions) it writes var/compose-smoke/compose.yml: the same services, with fresh
secrets (deploy/make_env.py into var/compose-smoke/env), its own project name, and the services'
ports published on free high ports of 127.0.0.1 only (never the machine's 5672, 15672, 5432,
8000 or 8100-8199). podman 4.3 without systemd runs no healthchecks and ignores
`condition: service_healthy`, so the steps are taken in order here, each waiting for readiness
by polling (pg_isready and RabbitMQ's port check in the container, then /api/v1/health):

  databases, brokers -> migrations -> bootstrap -> hub and nodes
  -> a case at 6371 over HTTP, counted at the hub (GET /api/v1/summary, analyst token)
  -> the hub's broker stopped: the hub's health answers 503 within 2 s every time; a second case
     registered, the broker started: both counted once
  (with --nodes, a case at a second regency too; every broker's open-file limit is checked)
  -> everything taken down, volumes included (unless --keep).

Prints one JSON summary with the seconds each step took; exits non-zero on any failure.
"""
from __future__ import annotations

import argparse
import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import resource
import threading
import tomllib

import requests
import yaml

from rehsos import reference
from rehsos_tools import compose as compose_file_writer
from rehsos_tools import waiting
from rehsos_tools.devrun import MIN_BROKER_FILES

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "var" / "compose-smoke"
# What `make run` and the machine's own servers use: never published by the smoke test.
FORBIDDEN_PORTS = {5672, 15672, 5432, 8000, *range(8100, 8200)}
CASE = {"category": "gelandangan", "name": "Ahmad Fauzi (UJI ASAP)", "nik": None, "sex": "male",
        "birth_date": "1980-05-17", "regency": "6371", "kecamatan": "637103"}


class SmokeFailed(Exception):
    pass


def compose_bin() -> list[str]:
    """podman-compose beside this Python (the venv), else on PATH; docker compose where present."""
    local = Path(sys.executable).with_name("podman-compose")
    if local.exists():
        return [str(local)]
    if shutil.which("podman-compose"):
        return ["podman-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    raise SmokeFailed("neither podman-compose nor docker compose found (make compose-smoke installs podman-compose)")


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in FORBIDDEN_PORTS:
            return port


def absolute(path: str, generated: Path | None = None) -> str:
    """A mount's source: the generated offices' configs and definitions from ``generated``."""
    if path.startswith("/"):
        return path
    if generated is not None and (path.rstrip("/") == "./deploy/config" or path.endswith(".definitions.json")):
        return str((generated.parent / path).resolve())
    return str((ROOT / path).resolve())


CONTAINERS_CONF = Path("/etc/containers/containers.conf")


def engine_ulimits(conf: Path = CONTAINERS_CONF) -> dict[str, dict[str, int]]:
    """containers.conf's default_ulimits ("nofile=20000:20000"): {name: {soft, hard}}."""
    try:
        entries = tomllib.loads(conf.read_text()).get("containers", {}).get("default_ulimits", [])
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    limits = {}
    for entry in entries:
        name, _, values = entry.partition("=")
        soft, _, hard = values.partition(":")
        limits[name] = {"soft": int(soft), "hard": int(hard or soft)}
    return limits


def host_ulimits(ulimits: dict) -> dict:
    """The compose file's limits as this machine allows them: podman cannot raise a limit above
    what containers.conf gives (deploy/images/containers.conf: this machine's hard limit), and with
    any ulimit given it replaces containers.conf's nproc by its own default, refused here too."""
    engine = engine_ulimits()
    hard = engine.get("nofile", {}).get("hard", resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    wanted = ulimits.get("nofile", {})
    if not isinstance(wanted, dict):
        wanted = {"soft": wanted, "hard": wanted}
    result = {**ulimits, "nofile": {k: min(int(v), hard) for k, v in wanted.items()}}
    if "nproc" in engine and "nproc" not in ulimits:
        result["nproc"] = engine["nproc"]
    return result


def smoke_compose(project: str, env_dir: Path, source: Path | None = None) -> tuple[dict, dict[str, int]]:
    """docker-compose.yml (or ``source``, generated with its deploy/ beside it) made runnable here:
    absolute mounts, our env files, high loopback ports, limits this machine allows."""
    doc = yaml.safe_load((source or ROOT / "docker-compose.yml").read_text())
    doc["name"] = project
    ports = {}
    for name, svc in doc["services"].items():
        svc.pop("build", None)  # `make images` built it; an up must not rebuild
        svc.pop("healthcheck", None)  # podman 4.3 cannot run them without systemd; polled here instead
        svc["env_file"] = [str(env_dir / Path(e).name) for e in svc.get("env_file", [])]
        vols = []
        for v in svc.get("volumes", []):
            path, rest = v.split(":", 1)
            vols.append(f"{absolute(path, source)}:{rest}" if path.startswith("./") else v)
        if vols:
            svc["volumes"] = vols
        if "ulimits" in svc:
            svc["ulimits"] = host_ulimits(svc["ulimits"])
        published = svc.pop("ports", [])
        if published:
            container_port = int(str(published[0]).rsplit(":", 1)[1])
            ports[name] = free_port()
            svc["ports"] = [f"127.0.0.1:{ports[name]}:{container_port}"]
    return doc, ports


class Province:
    def __init__(self, project: str, compose_file: Path):
        self.project = project
        self.cmd = compose_bin() + ["-p", project, "-f", str(compose_file)]
        self.took: dict[str, float] = {}

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(self.cmd + list(args), capture_output=True, text=True)
        if check and result.returncode != 0:
            raise SmokeFailed(f"{' '.join(args)}: {result.stderr[-2000:]}")
        return result

    def container(self, service: str) -> str:
        out = subprocess.run(["podman", "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={self.project}",
                              "--filter", f"label=com.docker.compose.service={service}"],
                             capture_output=True, text=True, check=True).stdout.split()
        if not out:
            raise SmokeFailed(f"no container for {service}")
        return out[0]

    def exec(self, service: str, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["podman", "exec", self.container(service), *cmd], capture_output=True, text=True,
                              timeout=timeout)

    def logs(self, service: str, lines: int = 40) -> str:
        try:
            return subprocess.run(["podman", "logs", "--tail", str(lines), self.container(service)],
                                  capture_output=True, text=True).stderr[-4000:]
        except SmokeFailed as exc:
            return str(exc)

    def up(self, *services: str) -> None:
        self.compose("up", "-d", "--no-deps", *services)

    def run_job(self, service: str, timeout: float = 300) -> None:
        """A one-shot job (migration, bootstrap) that must exit 0."""
        self.up(service)
        result = subprocess.run(["podman", "wait", self.container(service)], capture_output=True, text=True,
                                timeout=timeout)
        if result.stdout.strip() != "0":
            raise SmokeFailed(f"{service} exited {result.stdout.strip()}:\n{self.logs(service)}")

    def step(self, name: str, start: float) -> None:
        self.took[name] = round(time.monotonic() - start, 1)
        print(f"compose-smoke: {name} ({self.took[name]} s)", file=sys.stderr, flush=True)


def wait_for(what: str, check, timeout: float, interval: float = 2.0):
    return waiting.wait_until(check, timeout, interval, what, error=SmokeFailed,
                              tolerate=(requests.RequestException, subprocess.SubprocessError, SmokeFailed))


def offices(doc: dict) -> list[str]:
    return [name[len("db-"):] for name in doc["services"] if name.startswith("db-")]


def app(office: str) -> str:
    return "hub" if office == "hub" else f"node-{office}"


def config_of(office: str) -> str:
    return f"/etc/rehsos/{app(office)}.yaml"


def token(p: Province, office: str, role: str) -> str:
    result = p.exec(app(office), "rehsos", "token", "create", "--config", config_of(office), "--role", role,
                    "--user", f"smoke.{role}", "--name", f"Uji asap {role}", "--days", "1")
    if result.returncode != 0:
        raise SmokeFailed(f"token at {office}: {result.stderr[-1000:]}")
    return result.stdout.strip().splitlines()[-1]


def health(url: str) -> int | str:
    """The status of /api/v1/health, or "timeout" (no answer within 15 s)."""
    try:
        return requests.get(url + "/api/v1/health", timeout=15).status_code
    except requests.Timeout:
        return "timeout"


HEALTH_PROMPT_SECONDS = 2.0


def timed_health(url: str) -> list:
    """[status, seconds] of one health check."""
    start = time.monotonic()
    status = health(url)
    return [status, round(time.monotonic() - start, 2)]


def broker_file_limits(p: "Province", keys: list[str]) -> dict[str, int]:
    """Each broker's open-file limit as RabbitMQ sees it (rabbitmqctl status: file_descriptors)."""
    limits = {}
    for k in keys:
        result = p.exec(f"broker-{k}", "rabbitmqctl", "-q", "status", "--formatter", "json")
        if result.returncode != 0:
            raise SmokeFailed(f"rabbitmqctl status at broker-{k}: {result.stderr[-500:]}")
        limits[f"broker-{k}"] = json.loads(result.stdout)["file_descriptors"]["total_limit"]
    low = {name: n for name, n in limits.items() if n < MIN_BROKER_FILES}
    if low:
        raise SmokeFailed(f"brokers with fewer than {MIN_BROKER_FILES} file handles: {low}")
    return limits


class MemoryPeak:
    """The machine's memory in use (MemTotal - MemAvailable), sampled every 2 s: its peak above
    what was in use at the start. Other work on the machine counts too."""

    def __init__(self):
        self.start = self.peak = self.used()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def used() -> int:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        return (int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])) * 1024

    def _run(self):
        while not self._stop.wait(2.0):
            self.peak = max(self.peak, self.used())

    def stop(self) -> dict:
        self._stop.set()
        return {"at_start_mib": self.start >> 20, "peak_mib": self.peak >> 20,
                "peak_above_start_mib": (self.peak - self.start) >> 20}


def health_ok(url: str) -> bool:
    return health(url) == 200


# Exact row counts of every table of a database, in one query (no stats estimates).
COUNTS_SQL = ("select string_agg(format('%s=%s', table_name, (xpath('/row/c/text()', query_to_xml("
              "format('select count(*) as c from %I.%I', table_schema, table_name), false, true, '')))[1]::text), "
              "',' order by table_name) from information_schema.tables "
              "where table_schema = 'public' and table_type = 'BASE TABLE'")
NODE_DATABASES = ["rehsos_auth", "rehsos_intake", "rehsos_facilities", "rehsos_training"]


def table_counts(p: Province, db: str, database: str) -> str:
    result = p.exec(db, "psql", "-U", "rehsos", "-d", database, "-Atc", COUNTS_SQL)
    if result.returncode != 0:
        raise SmokeFailed(f"counting {db}/{database}: {result.stderr[-500:]}")
    return result.stdout.strip()


def backup_and_restore(p: Province, office: str, url: str) -> dict:
    """The runbook's backup and restore, tried: the node stopped, its databases dumped, the data
    volume replaced by a fresh one, the dumps restored, the node started; every table's row count
    must be equal before and after."""
    db, node = f"db-{office}", app(office)
    backup = WORK / "backup"
    backup.mkdir(exist_ok=True)
    took = {}
    start = time.monotonic()
    subprocess.run(["podman", "stop", "-t", "30", p.container(node)], check=True, capture_output=True)
    before = {d: table_counts(p, db, d) for d in NODE_DATABASES}
    for d in NODE_DATABASES:
        with open(backup / f"{d}.dump", "wb") as out:
            subprocess.run(["podman", "exec", p.container(db), "pg_dump", "-U", "rehsos", "-Fc", d], stdout=out,
                           check=True)
    took["stop node and dump"] = round(time.monotonic() - start, 1)
    start = time.monotonic()
    volume = f"{p.project}_{db}-data"
    subprocess.run(["podman", "rm", "-f", "-t", "30", p.container(db)], check=True, capture_output=True)
    subprocess.run(["podman", "volume", "rm", volume], check=True, capture_output=True)
    p.up(db)
    wait_for(f"{db} on a fresh volume", lambda: p.exec(db, "pg_isready", "-h", "127.0.0.1", "-U", "rehsos", "-d",
                                                      "rehsos_auth").returncode == 0, 120)
    for d in NODE_DATABASES:
        with open(backup / f"{d}.dump", "rb") as dump:
            result = subprocess.run(["podman", "exec", "-i", p.container(db), "pg_restore", "-U", "rehsos",
                                     "--exit-on-error", "-d", d], stdin=dump, capture_output=True)
        if result.returncode != 0:
            raise SmokeFailed(f"restoring {d}: {result.stderr.decode()[-500:]}")
    after = {d: table_counts(p, db, d) for d in NODE_DATABASES}
    took["fresh volume and restore"] = round(time.monotonic() - start, 1)
    if after != before:
        raise SmokeFailed(f"row counts differ after the restore: {before} != {after}")
    start = time.monotonic()
    p.up(node)  # recreated: its database container is new
    wait_for(f"{node} health after the restore", lambda: health_ok(url), 180)
    took["node healthy again"] = round(time.monotonic() - start, 1)
    return {"tables": sum(len(c.split(",")) for c in before.values()), "row_counts_equal": True,
            "dump_bytes": sum((backup / f"{d}.dump").stat().st_size for d in NODE_DATABASES), "took_seconds": took}


def rotate_hub_link_password(p: Province, office: str, register) -> dict:
    """The runbook's password rotation, tried: a new password for the node's user on the hub broker
    (node-<code>) and for the shovels that log in with it, by editing bootstrap.env and running the
    bootstrap again; a case registered just before must still arrive."""
    env_file = WORK / "env" / "bootstrap.env"
    var = f"REHSOS_NODE_{office}__HUB_BROKER_URI"
    lines = env_file.read_text().splitlines()
    old_uri = next(line.partition("=")[2] for line in lines if line.startswith(var + "="))
    old = urlsplit(old_uri).password
    new = secrets.token_urlsafe(24)
    env_file.write_text("".join((line.replace(f":{old}@", f":{new}@") if line.startswith(var + "=") else line) + "\n"
                                for line in lines))
    start = time.monotonic()
    register()  # in flight while the password changes
    subprocess.run(["podman", "rm", "-f", p.container("bootstrap")], check=True, capture_output=True)
    p.run_job("bootstrap")  # a new container: it reads the edited env file
    took = round(time.monotonic() - start, 1)
    hub_broker = p.container("broker-hub")
    user = f"node-{office}"
    old_refused = subprocess.run(["podman", "exec", hub_broker, "rabbitmqctl", "-q", "authenticate_user", user, old],
                                 capture_output=True).returncode != 0
    new_works = subprocess.run(["podman", "exec", hub_broker, "rabbitmqctl", "-q", "authenticate_user", user, new],
                               capture_output=True).returncode == 0
    if not (old_refused and new_works):
        raise SmokeFailed(f"{user} on broker-hub: old password refused {old_refused}, new one works {new_works}")
    return {"user": user, "old_password_refused": old_refused, "new_password_works": new_works,
            "bootstrap_seconds": took}


def second_regency(keys: list[str]) -> str | None:
    """A regency other than 6371 among the offices, for a case of its own (a kecamatan of its own)."""
    return next((k for k in reversed(keys) if k not in ("hub", reference.PROVINCE, "6371")), None)


def run(project: str, keep: bool, runbook: bool = False, nodes: str | None = None) -> dict:
    if WORK.exists():
        shutil.rmtree(WORK)
    env_dir = WORK / "env"
    source = None
    config_dir = ROOT / "deploy" / "config"
    if nodes:  # what `rehsos compose --nodes ...` writes, in a deploy/ of our own
        source = WORK / "docker-compose.yml"
        WORK.mkdir(parents=True)
        compose_file_writer.write(nodes, source, WORK / "deploy")
        config_dir = WORK / "deploy" / "config"
    subprocess.run([sys.executable, str(ROOT / "deploy" / "make_env.py"), "--config-dir", str(config_dir),
                    "--out", str(env_dir)], check=True, stdout=subprocess.DEVNULL)
    doc, ports = smoke_compose(project, env_dir, source)
    compose_file = WORK / "compose.yml"
    compose_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    p = Province(project, compose_file)
    summary: dict = {"project": project, "offices": len(offices(doc)),
                     "published": {k: f"127.0.0.1:{v}" for k, v in ports.items()}, "took_seconds": p.took}
    everything = time.monotonic()
    memory = MemoryPeak()
    p.compose("down", "-v", check=False)  # leftovers of an interrupted run
    try:
        keys = offices(doc)
        start = time.monotonic()
        p.up(*[f"db-{k}" for k in keys], *[f"broker-{k}" for k in keys])
        for k in keys:
            wait_for(f"db-{k}", lambda k=k: p.exec(f"db-{k}", "pg_isready", "-h", "127.0.0.1", "-U", "rehsos",
                                                    "-d", "rehsos_auth").returncode == 0, 120)
        p.step("databases ready", start)
        start = time.monotonic()
        for k in keys:
            p.run_job(f"migrate-{k}")
        p.step("migrations", start)
        start = time.monotonic()
        for k in keys:
            wait_for(f"broker-{k}", lambda k=k: p.exec(f"broker-{k}", "rabbitmq-diagnostics", "-q",
                                                        "check_port_connectivity").returncode == 0, 180, 3)
        p.step("brokers ready", start)
        start = time.monotonic()
        p.run_job("bootstrap")
        p.step("bootstrap", start)
        start = time.monotonic()
        p.up(*[app(k) for k in keys])
        urls = {k: f"http://127.0.0.1:{ports[app(k)]}" for k in keys}
        for k in keys:
            wait_for(f"{app(k)} health", lambda k=k: health_ok(urls[k]), 180)
        p.step("services healthy", start)
        summary["broker_open_file_limit"] = broker_file_limits(p, keys)

        hub, node = urls["hub"], urls["6371"]
        analyst = {"Authorization": f"Bearer {token(p, 'hub', 'analyst')}"}
        other = second_regency(keys) if nodes else None
        operators = {k: {"Authorization": f"Bearer {token(p, k, 'operator')}", "X-Purpose": "uji asap compose"}
                     for k in ("6371", other) if k}

        def counted() -> int:
            answer = requests.get(hub + "/api/v1/summary", headers=analyst, timeout=10)
            answer.raise_for_status()
            return answer.json()["total_cases"]

        def register(n: int, office: str = "6371") -> None:
            case = {**CASE, "name": f"{CASE['name']} {n}"}
            if office != "6371":
                case.update(regency=office, kecamatan=next(iter(reference.kecamatan_of(office))))
            answer = requests.post(urls[office] + "/api/v1/cases", json=case,
                                   headers=operators[office], timeout=15)
            if answer.status_code != 201:
                raise SmokeFailed(f"case {n} refused: {answer.status_code} {answer.text[:500]}")

        start = time.monotonic()
        before = counted()
        register(1)
        wait_for("case 1 at the hub", lambda: counted() == before + 1, 120, 1)
        p.step("case 1 counted at the hub", start)
        if other:  # the other regency's case counts like any other: `before` moves on with it
            start = time.monotonic()
            register(0, other)
            wait_for(f"the case of {other} at the hub", lambda: counted() == before + 2, 120, 1)
            before += 1  # the counts below are 6371's cases
            summary["second_regency"] = {"office": other, "cases_registered": 1, "cases_counted_at_hub": 1}
            p.step(f"a case at {other} counted at the hub", start)

        start = time.monotonic()
        subprocess.run(["podman", "stop", p.container("broker-hub")], check=True, capture_output=True)
        # Every health check while the broker is away: 503, promptly (it took 10 s, then no answer,
        # while the process's consumers slept with the blocking time.sleep: tests/domain/test_serve_green.py).
        answers = [timed_health(hub)]
        register(2)
        while len(answers) < 8:
            time.sleep(3)
            answers.append(timed_health(hub))
        summary["hub_health_while_broker_stopped"] = answers
        slow = [a for a in answers if a[0] != 503 or a[1] >= HEALTH_PROMPT_SECONDS]
        if slow:
            raise SmokeFailed(f"hub health while its broker is stopped: {answers} ([status, seconds]; "
                              f"503 within {HEALTH_PROMPT_SECONDS} s expected)")
        subprocess.run(["podman", "start", p.container("broker-hub")], check=True, capture_output=True)
        wait_for("hub healthy again", lambda: health_ok(hub), 180)
        wait_for("case 2 at the hub", lambda: counted() == before + 2, 180, 1)
        p.step("hub broker stopped, case 2 registered, broker started, case 2 counted", start)
        time.sleep(10)  # a duplicate would show up by now: the shovel resends within seconds
        summary["cases_registered"] = 2
        summary["cases_counted_at_hub"] = counted() - before
        if summary["cases_counted_at_hub"] != 2:
            raise SmokeFailed(f"counted {summary['cases_counted_at_hub']} cases at the hub, registered 2")

        if runbook:
            start = time.monotonic()
            summary["backup_restore"] = backup_and_restore(p, "6371", node)
            register(3)  # the restored node goes on numbering its events: counted, not taken for a duplicate
            wait_for("case 3 after the restore", lambda: counted() == before + 3, 120, 1)
            p.step("backup, fresh volume, restore at 6371; case 3 counted", start)
            start = time.monotonic()
            summary["password_rotation"] = rotate_hub_link_password(p, "6371", lambda: register(4))
            register(5)  # through the shovel that now logs in with the new password
            wait_for("cases 4 and 5 after the rotation", lambda: counted() == before + 5, 120, 1)
            p.step("hub link password of 6371 rotated; cases 4 and 5 counted", start)
            time.sleep(10)
            summary["cases_registered"] = 5
            summary["cases_counted_at_hub"] = counted() - before
            if summary["cases_counted_at_hub"] != 5:
                raise SmokeFailed(f"counted {summary['cases_counted_at_hub']} cases at the hub, registered 5")

        start = time.monotonic()
        subprocess.run(["podman", "stop", "-t", "30", p.container("node-6371")], check=True, capture_output=True)
        summary["node_stop_seconds"] = round(time.monotonic() - start, 1)
        summary["ok"] = True
        return summary
    except Exception as exc:
        summary["ok"] = False
        summary["error"] = str(exc)
        raise
    finally:
        summary["took_seconds"]["up to checks"] = round(time.monotonic() - everything, 1)
        summary["host_memory"] = memory.stop()
        if not keep:
            start = time.monotonic()
            # The services first: `down` stops every container at once, and a service whose broker
            # and database vanish with it does not finish its SIGTERM shutdown within 30 s.
            p.compose("stop", *[app(k) for k in offices(doc)], check=False)
            p.compose("down", "-v", check=False)
            p.step("down with volumes", start)
        print(json.dumps(summary, indent=2))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", default="rehsos-smoke")
    parser.add_argument("--runbook", action="store_true", help="also try deploy/README.md's runbook: back up and "
                        "restore node 6371's databases, rotate its hub link password")
    parser.add_argument("--nodes", help="the offices, as `rehsos compose --nodes` takes them (all: the 14), "
                        "instead of docker-compose.yml's")
    parser.add_argument("--keep", action="store_true", help="leave the province running (then: podman-compose "
                        "-p rehsos-smoke -f var/compose-smoke/compose.yml down -v)")
    args = parser.parse_args(argv)
    try:
        run(args.project, args.keep, args.runbook, args.nodes)
    except SmokeFailed as exc:
        print(f"compose-smoke: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
