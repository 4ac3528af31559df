"""`make compose-smoke`: the province of docker-compose.yml in podman-compose, end to end.

  python -m rehsos_tools.compose_smoke [--keep] [--project rehsos-smoke]

From docker-compose.yml it writes var/compose-smoke/compose.yml: the same services, with fresh
secrets (deploy/make_env.py into var/compose-smoke/env), its own project name, and the services'
ports published on free high ports of 127.0.0.1 only (never the machine's 5672, 15672, 5432,
8000 or 8100-8199). podman 4.3 without systemd runs no healthchecks and ignores
`condition: service_healthy`, so the steps are taken in order here, each waiting for readiness
by polling (pg_isready and RabbitMQ's port check in the container, then /api/v1/health):

  databases, brokers -> migrations -> bootstrap -> hub and nodes
  -> a case at 6371 over HTTP, counted at the hub (GET /api/v1/summary, analyst token)
  -> the hub's broker stopped, a second case registered, the broker started: both counted once
  -> everything taken down, volumes included (unless --keep).

Prints one JSON summary with the seconds each step took; exits non-zero on any failure.
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

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


def absolute(path: str) -> str:
    return str((ROOT / path).resolve()) if path.startswith("./") or not path.startswith("/") else path


def smoke_compose(project: str, env_dir: Path) -> tuple[dict, dict[str, int]]:
    """docker-compose.yml made runnable here: absolute mounts, our env files, high loopback ports."""
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    doc["name"] = project
    ports = {}
    for name, svc in doc["services"].items():
        svc.pop("build", None)  # `make images` built it; an up must not rebuild
        svc.pop("healthcheck", None)  # podman 4.3 cannot run them without systemd; polled here instead
        svc["env_file"] = [str(env_dir / Path(e).name) for e in svc.get("env_file", [])]
        vols = []
        for v in svc.get("volumes", []):
            source, rest = v.split(":", 1)
            vols.append(f"{absolute(source)}:{rest}" if source.startswith("./") else v)
        if vols:
            svc["volumes"] = vols
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
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (requests.RequestException, subprocess.SubprocessError, SmokeFailed) as exc:
            last = exc
        time.sleep(interval)
    raise SmokeFailed(f"{what}: not ready after {timeout:.0f} s (last: {last!r})")


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
    """The status of /api/v1/health, or "timeout": a hub whose broker is gone may answer slowly."""
    try:
        return requests.get(url + "/api/v1/health", timeout=15).status_code
    except requests.Timeout:
        return "timeout"


def health_ok(url: str) -> bool:
    return health(url) == 200


def run(project: str, keep: bool) -> dict:
    if WORK.exists():
        shutil.rmtree(WORK)
    env_dir = WORK / "env"
    subprocess.run([sys.executable, str(ROOT / "deploy" / "make_env.py"), "--out", str(env_dir)], check=True,
                   stdout=subprocess.DEVNULL)
    doc, ports = smoke_compose(project, env_dir)
    compose_file = WORK / "compose.yml"
    compose_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    p = Province(project, compose_file)
    summary: dict = {"project": project, "published": {k: f"127.0.0.1:{v}" for k, v in ports.items()},
                     "took_seconds": p.took}
    everything = time.monotonic()
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

        hub, node = urls["hub"], urls["6371"]
        analyst = {"Authorization": f"Bearer {token(p, 'hub', 'analyst')}"}
        operator = {"Authorization": f"Bearer {token(p, '6371', 'operator')}", "X-Purpose": "uji asap compose"}

        def counted() -> int:
            answer = requests.get(hub + "/api/v1/summary", headers=analyst, timeout=10)
            answer.raise_for_status()
            return answer.json()["total_cases"]

        def register(n: int) -> None:
            answer = requests.post(node + "/api/v1/cases", json={**CASE, "name": f"{CASE['name']} {n}"},
                                   headers=operator, timeout=15)
            if answer.status_code != 201:
                raise SmokeFailed(f"case {n} refused: {answer.status_code} {answer.text[:500]}")

        start = time.monotonic()
        before = counted()
        register(1)
        wait_for("case 1 at the hub", lambda: counted() == before + 1, 120, 1)
        p.step("case 1 counted at the hub", start)

        start = time.monotonic()
        subprocess.run(["podman", "stop", p.container("broker-hub")], check=True, capture_output=True)
        wait_for("hub reports its broker away", lambda: not health_ok(hub), 60)
        register(2)
        time.sleep(5)
        summary["hub_health_while_broker_stopped"] = health(hub)
        subprocess.run(["podman", "start", p.container("broker-hub")], check=True, capture_output=True)
        wait_for("hub healthy again", lambda: health_ok(hub), 180)
        wait_for("case 2 at the hub", lambda: counted() == before + 2, 180, 1)
        p.step("hub broker stopped, case 2 registered, broker started, case 2 counted", start)
        time.sleep(10)  # a duplicate would show up by now: the shovel resends within seconds
        summary["cases_registered"] = 2
        summary["cases_counted_at_hub"] = counted() - before
        if summary["cases_counted_at_hub"] != 2:
            raise SmokeFailed(f"counted {summary['cases_counted_at_hub']} cases at the hub, registered 2")

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
    parser.add_argument("--keep", action="store_true", help="leave the province running (then: podman-compose "
                        "-p rehsos-smoke -f var/compose-smoke/compose.yml down -v)")
    args = parser.parse_args(argv)
    try:
        run(args.project, args.keep)
    except SmokeFailed as exc:
        print(f"compose-smoke: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
