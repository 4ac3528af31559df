"""``rehsos up``: a whole province on one machine, for development and demonstration.

Every node and the hub get a config file under ``var/run/config/``, their own SQLite databases
under ``var/data/``, their own vhost on the local RabbitMQ and their own process (logs in
``var/log/``). The same configs drive ``rehsos bootstrap`` and ``rehsos serve``: production
differs in URIs and secrets, and has no ``dev_mode``.
"""
from __future__ import annotations

import fcntl
import json
import os
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
import yaml

from rehsos import auth, config, db, reference, sealing, topology
from rehsos_tools import broker
from rehsos_tools import demo as demo_data
from rehsos_tools import demo_training

DEMO_TOKEN_ROLES = {"hub": auth.HUB_ROLES, "node": auth.NODE_ROLES}


class Paths:
    def __init__(self, root: Path):
        self.root = root
        self.var = root / "var"
        self.run = self.var / "run"
        self.config = self.run / "config"
        self.data = self.var / "data"
        self.log = self.var / "log"
        self.topology = self.run / "topology.json"
        self.secrets = self.run / "secrets.json"

    def make(self):
        for d in (self.config, self.data, self.log):
            d.mkdir(parents=True, exist_ok=True)


def parse_nodes(spec: str) -> list[str]:
    if spec == "default":
        return list(reference.DEFAULT_DEV_NODES)
    if spec == "all":
        return list(reference.NODES)
    nodes = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in nodes if n not in reference.NODES]
    if unknown:
        raise SystemExit(f"rehsos up: unknown node(s) {', '.join(unknown)}; codes: {', '.join(reference.NODES)}")
    return nodes


def node_port(node: str, port_base: int) -> int:
    """63 → base, 6371 → base + 71: a node's port is easy to guess from its code."""
    return port_base + (0 if node == reference.PROVINCE else int(node[2:]))



def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


# What test processes hold on the machine's servers and ports, a file per name holding the holder's
# pid (cross-process: shards, helpers' plain pytest runs, reliability): a port base, a test
# province's broker namespace, a set of test databases. A name whose holder has ended is free again,
# and `make clean-test-leftovers` removes only what no living process holds.
CLAIMS = Path(tempfile.gettempdir()) / "rehsos-claims"


def claim(name: str, again: bool = True) -> bool:
    """Hold ``name`` for this process; False when a living process holds it already."""
    CLAIMS.mkdir(exist_ok=True)
    path = CLAIMS / name
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            holder = int(path.read_text())
        except (OSError, ValueError):  # being written by its holder this instant
            return False
        if _alive(holder) or not again:
            return False
        path.unlink(missing_ok=True)  # its process ended without releasing it
        return claim(name, again=False)
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


def unclaim(name: str) -> None:
    path = CLAIMS / name
    try:
        if path.read_text() == str(os.getpid()):
            path.unlink()
    except OSError:
        pass


def claimed() -> set[str]:
    """The names a living process holds."""
    held = set()
    for path in CLAIMS.glob("*") if CLAIMS.exists() else ():
        try:
            if _alive(int(path.read_text())):
                held.add(path.name)
        except (OSError, ValueError):
            held.add(path.name)  # being written: its holder is alive
    return held


def free_port_base(nodes: list[str]) -> tuple[int, int]:
    """A port base where every node's port and the hub's (base + 99) are free (tests, reliability),
    reserved for this process until :func:`release_port_base` or its end. A free port alone is not
    enough: a province in another test process may have chosen the same base and not bound yet
    (nodes it starts later), and the two would meet at the bind."""
    for _ in range(200):
        # Below the kernel's ephemeral range (32768+), where an outgoing connection could take
        # the port between this check and the bind.
        base = random.randrange(10000, 32600, 100)
        if not claim(f"port-{base}"):
            continue
        ports = [node_port(n, base) for n in nodes] + [base + 99]
        if all(_port_free(p) for p in ports):
            return base, base + 99
        release_port_base(base)
    raise RuntimeError("no free ports")


def release_port_base(base: int) -> None:
    unclaim(f"port-{base}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- secrets and configs ---------------------------------------------------------------------------
def load_secrets(paths: Paths, nodes: list[str]) -> dict:
    secrets_doc = json.loads(paths.secrets.read_text()) if paths.secrets.exists() else {}
    secrets_doc.setdefault("person_key_secret", broker.new_password() + broker.new_password())
    passwords = secrets_doc.setdefault("broker_passwords", {})
    # Each node's dossier key pair (rehsos.sealing): the private key goes into that node's config only.
    dossier_keys = secrets_doc.setdefault("dossier_private_keys", {})
    for node in nodes:
        passwords.setdefault(node, broker.new_password())
        dossier_keys.setdefault(node, sealing.new_key_pair()[0])
    paths.secrets.write_text(json.dumps(secrets_doc, indent=2))
    paths.secrets.chmod(0o600)
    return secrets_doc


def write_configs(paths: Paths, nodes: list[str], secrets_doc: dict, *, port_base: int, hub_port: int,
                  broker_host: str = "127.0.0.1", management_uri: str = "http://guest:guest@127.0.0.1:15672",
                  namespace: str = "") -> dict[str, Path]:
    names = topology.Names(namespace)
    written = {}
    # dev_mode: a development province (rehsos up, the tests), never a production one.
    # log_format text: a developer reads var/log/*.log with tail, where a traceback inside a JSON
    # string is hard to read; production keeps the default, JSON lines for a log collector.
    base = {"management_uri": management_uri, "broker_namespace": namespace, "dev_mode": True, "log_format": "text"}
    hub = {**base, "node": "hub",
           "broker_uri": f"amqp://guest:guest@{broker_host}:5672/{names.hub_vhost}",
           "database_uri": f"sqlite:///{paths.data / 'hub' / '{service}.sqlite'}",
           "auth_database_uri": f"sqlite:///{paths.data / 'hub' / 'auth.sqlite'}",
           "http": {"host": "127.0.0.1", "port": hub_port}}
    written["hub"] = paths.config / "hub.yaml"
    written["hub"].write_text(yaml.safe_dump(hub, sort_keys=False))
    public_keys = node_public_keys(secrets_doc, nodes)
    for node in nodes:
        user, password = names.node_user(node), secrets_doc["broker_passwords"][node]
        # Only the nodes hold the province's person key: the hub compares keys, never computes one.
        # Each node holds its own dossier key and every node's public one (the topology's).
        doc = {**base, "node": node, "person_key_secret": secrets_doc["person_key_secret"],
               "dossier_private_key": secrets_doc["dossier_private_keys"][node], "node_public_keys": public_keys,
               "broker_uri": f"amqp://guest:guest@{broker_host}:5672/{names.node_vhost(node)}",
               "hub_broker_uri": topology.with_credentials(f"amqp://{broker_host}:5672", user, password, names.hub_vhost),
               "database_uri": f"sqlite:///{paths.data / node / '{service}.sqlite'}",
               "auth_database_uri": f"sqlite:///{paths.data / node / 'auth.sqlite'}",
               "http": {"host": "127.0.0.1", "port": node_port(node, port_base)}}
        written[node] = paths.config / f"node-{node}.yaml"
        written[node].write_text(yaml.safe_dump(doc, sort_keys=False))
    return written


def node_public_keys(secrets_doc: dict, nodes: list[str]) -> dict[str, str]:
    """Every node's public dossier key (the topology's part of the key pairs)."""
    return {node: sealing.public_key_of(secrets_doc["dossier_private_keys"][node]) for node in nodes}


def lay_out(root: Path, nodes: list[str], **config_options) -> tuple[Paths, dict[str, Path]]:
    """A province's folders, secrets and config files under ``root`` (options: ``write_configs``)."""
    paths = Paths(root)
    paths.make()
    return paths, write_configs(paths, nodes, load_secrets(paths, nodes), **config_options)


def load_configs(config_dir, environ=None) -> tuple[config.Settings, list[config.Settings]]:
    """hub.yaml and every node-<code>.yaml of a directory, each with its own scoped overrides."""
    config_dir = Path(config_dir)
    environ = os.environ if environ is None else environ
    hub_file = config_dir / "hub.yaml"
    if not hub_file.exists():
        raise config.ConfigError(f"{hub_file} not found")
    hub = config.load(hub_file, environ=config.scoped_environ(environ, "hub"))
    nodes = [config.load(p, environ=config.scoped_environ(environ, p.stem))
             for p in sorted(config_dir.glob("node-*.yaml"))]
    return hub, nodes


def node_links(nodes: list[config.Settings]) -> list[broker.NodeLink]:
    links = []
    for settings in nodes:
        uri = urlsplit(settings.hub_broker_uri)
        expected = settings.names.node_user(settings.node)
        if uri.username != expected or not uri.password:
            raise config.ConfigError(f"node {settings.node}: hub_broker_uri must log in as {expected} with a password")
        links.append(broker.NodeLink(settings.node, uri.password, settings.hub_broker_uri))
    return links


def bootstrap_from_configs(config_dir, remove: bool = False):
    """Each broker through its own management API: the hub's, and each node's (one in development)."""
    hub, nodes = load_configs(config_dir)
    managers: dict[str, broker.Management] = {}

    def manager(uri: str) -> broker.Management:
        return managers.setdefault(uri, broker.Management(uri))

    hub_mgmt = manager(hub.management_uri)
    node_mgmt = {n.node: manager(n.management_uri) for n in nodes}
    if remove:
        broker.teardown(hub_mgmt, hub.names, [n.node for n in nodes], node_mgmt=node_mgmt)
        return None
    return broker.bootstrap(hub_mgmt, hub.names, node_links(nodes), node_mgmt=node_mgmt)


def write_definitions(out: str, nodes_spec: str) -> list[Path]:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    nodes = parse_nodes(nodes_spec)
    names = topology.Names()
    written = []
    for office in ["hub"] + nodes:
        path = out_dir / (f"{office}.definitions.json" if office == "hub" else f"node-{office}.definitions.json")
        path.write_text(broker.dumps(broker.definitions(names, nodes, office)))
        written.append(path)
    return written


# -- the broker's plugins -----------------------------------------------------------------------------
PLUGINS = ["rabbitmq_management", "rabbitmq_shovel", "rabbitmq_shovel_management"]
BROKER_LOCK = Path(tempfile.gettempdir()) / "rehsos-broker-plugins.lock"


# RabbitMQ reserves file handles for its message stores out of the process's open-file limit, and
# Debian's broker starts with the soft limit of 1024: a test run's provinces (a vhost per office,
# several at once) exhaust it, and a vhost then waits for a handle forever, holding up every vhost
# created or deleted after it (the broker stops answering).
MIN_BROKER_FILES = 8192
RABBITMQ_ENV_FILE = Path(os.environ.get("RABBITMQ_CONF_ENV_FILE", "/etc/rabbitmq/rabbitmq-env.conf"))
RAISE_FILES = 'ulimit -S -n "$(ulimit -H -n)" 2>/dev/null || true  # rehsos: room for a vhost per office'


def ensure_management(uri: str, wait: float = 60.0) -> None:
    """Reach the management API, with room for many vhosts. As root on the broker's host, bring it
    about: wait for the node to finish starting (a plugin enabled while it boots is only written to
    a file), enable the plugins on the running node, restart the RabbitMQ application once if the
    API still does not answer; and restart the broker with its open-file limit raised to the hard
    limit when it has too few. One process at a time (``make test`` starts several), under a lock."""
    mgmt = broker.Management(uri, timeout=10.0)
    if _answers(mgmt, 0) and _broker_files(mgmt) >= MIN_BROKER_FILES:
        return
    plugins_tool, ctl = shutil.which("rabbitmq-plugins"), shutil.which("rabbitmqctl")
    local = urlsplit(uri).hostname in ("127.0.0.1", "localhost", "::1")
    if plugins_tool is None or ctl is None or os.geteuid() != 0 or not local:
        mgmt.check_shovel_plugin()  # raises with the hint when it does not answer
        print(f"rehsos: warning: RabbitMQ may open only {_broker_files(mgmt)} files; with many vhosts it "
              f"stops answering. Raise the broker's open-file limit (ulimit -n) to {MIN_BROKER_FILES} or more.",
              file=sys.stderr, flush=True)
        return
    with BROKER_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _answers(mgmt, 1.0):  # another process may have done it while this one waited
            _enable_plugins(mgmt, ctl, plugins_tool, wait)
        if _broker_files(mgmt) < MIN_BROKER_FILES:
            _restart_with_more_files(mgmt, ctl, wait)


def _enable_plugins(mgmt: broker.Management, ctl: str, plugins_tool: str, wait: float) -> None:
    print("rehsos: enabling RabbitMQ management and shovel plugins ...", flush=True)
    if not _await_node(ctl, 30):
        _run([ctl, "start_app"])  # the node runs but its application was stopped
    _run([plugins_tool, "enable", "--online", *PLUGINS])
    if _answers(mgmt, wait):
        return
    print("rehsos: the management API does not answer; restarting the RabbitMQ application ...", flush=True)
    _run([ctl, "stop_app"])
    _run([ctl, "start_app"])
    if not _answers(mgmt, wait):
        listing = _run([plugins_tool, "list", "-e"]).stdout
        raise broker.ManagementUnavailable(
            f"RabbitMQ management API still not reachable after enabling the plugins and restarting "
            f"the application.\nEnabled plugins:\n{listing}\n{broker.PLUGIN_HINT}")


def _broker_files(mgmt: broker.Management, wait: float = 20.0) -> int:
    """The broker's open-file limit; a broker that has just started reports it after a few seconds
    (taken as enough if it never does)."""
    return _until(wait, lambda: (mgmt.request("GET", "nodes") or [{}])[0].get("fd_total")) or MIN_BROKER_FILES


def _restart_with_more_files(mgmt: broker.Management, ctl: str, wait: float) -> None:
    """The limit is read when the broker starts (from rabbitmq-env.conf, which its start script
    sources after dropping to the rabbitmq user), so it takes one restart of the broker."""
    print(f"rehsos: RabbitMQ may open only {_broker_files(mgmt)} files; raising its limit in "
          f"{RABBITMQ_ENV_FILE} and restarting it ...", flush=True)
    if not RABBITMQ_ENV_FILE.parent.is_dir():  # not Debian's layout: say what to do instead
        print(f"rehsos: warning: no {RABBITMQ_ENV_FILE.parent}; raise RabbitMQ's open-file limit (ulimit -n) "
              f"to {MIN_BROKER_FILES} or more where it is started", file=sys.stderr, flush=True)
        return
    current = RABBITMQ_ENV_FILE.read_text() if RABBITMQ_ENV_FILE.exists() else ""
    if RAISE_FILES not in current:
        RABBITMQ_ENV_FILE.write_text(current + ("" if current.endswith("\n") or not current else "\n")
                                     + RAISE_FILES + "\n")
    _run([ctl, "-t", "60", "stop"])
    server = shutil.which("rabbitmq-server") or "rabbitmq-server"
    _run([server, "-detached"])
    _await_node(ctl, 90)
    if not _answers(mgmt, wait):
        raise broker.ManagementUnavailable("RabbitMQ did not come back after its restart with more files.")
    files = _broker_files(mgmt)
    print(f"rehsos: RabbitMQ restarted; it may open {files} files", flush=True)


def _await_node(ctl: str, seconds: float) -> bool:
    """Until the broker has started (a node that has only just been launched is not yet known to
    epmd, and await_startup then fails at once)."""
    return _until(seconds, lambda: subprocess.run([ctl, "-q", "-t", "10", "await_startup"],
                                                  capture_output=True).returncode == 0, interval=2)


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"rehsos: {' '.join(cmd)} exited {result.returncode}: {result.stderr.strip()[:500]}", flush=True)
    return result


def _answers(mgmt: broker.Management, seconds: float) -> bool:
    def once() -> bool:
        try:
            mgmt.check_shovel_plugin()
            return True
        except (broker.ManagementUnavailable, RuntimeError, requests.RequestException):
            return False  # refused, starting (503), or slow to answer

    return _until(seconds, once)


def _until(seconds: float, attempt, interval: float = 1.0):
    """``attempt()`` until it gives something true, for up to ``seconds`` (at least once); that value,
    or False when the time ran out."""
    deadline = time.monotonic() + seconds
    while True:
        value = attempt()
        if value or time.monotonic() > deadline:
            return value or False
        time.sleep(interval)


# -- tokens ---------------------------------------------------------------------------------------------
def ensure_demo_tokens(settings: config.Settings, previous: dict, previous_passwords: dict | None = None
                       ) -> tuple[dict, dict]:
    """Demo accounts, one per role: their tokens, and the user name and password that sign in to the
    pages; kept in topology.json (development only) and reused while the token is valid."""
    store = auth.TokenStore(db.create_engine(settings.auth_database_uri))
    roles = DEMO_TOKEN_ROLES["hub" if settings.is_hub else "node"]
    with_password = {row["id"] for row in store.list() if row["password"]}
    tokens, passwords = {}, {}
    for role in roles:
        token = previous.get(role)
        principal = store.lookup(token) if token else None
        kept = (previous_passwords or {}).get(role)
        if principal is None or principal.role != role or principal.node != settings.node:
            token = store.issue(user=f"demo.{role}", name=f"demo {role} {settings.node}", role=role,
                                node=settings.node)
            principal, kept = store.lookup(token), None
        if not kept or principal.token_id not in with_password:
            kept = {"user": principal.user, "password": f"demo-{secrets.token_hex(5)}"}
            store.set_password(principal.token_id, kept["password"])
        tokens[role], passwords[role] = token, kept
    store.engine.dispose()
    return tokens, passwords


# -- processes ------------------------------------------------------------------------------------------
def start_process(name: str, config_file: Path, paths: Paths) -> subprocess.Popen:
    log = open(paths.log / f"{name}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "rehsos.serve", "--config", str(config_file)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(procs: dict[str, subprocess.Popen], urls: dict[str, str], paths: Paths, timeout: float = 90) -> None:
    pending = dict(urls)
    deadline = time.monotonic() + timeout
    while pending:
        for name in list(pending):
            if procs[name].poll() is not None:
                tail = (paths.log / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with code {procs[name].returncode}:\n{tail}")
            try:
                if requests.get(f"{pending[name]}/api/v1/health", timeout=2).ok:
                    del pending[name]
            except requests.RequestException:
                pass
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not healthy after {timeout:.0f}s: {', '.join(pending)} (see {paths.log})")
        time.sleep(0.3)


def stop_processes(procs: dict[str, subprocess.Popen], grace: float = 25) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_hub_cases(hub_url: str, token: str, expected: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    total = -1
    while time.monotonic() < deadline:
        resp = requests.get(f"{hub_url}/api/v1/summary", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        total = resp.json()["total_cases"]
        if total >= expected:
            return total
        time.sleep(0.5)
    return total


def migrate_all(settings: config.Settings, migrated: Path, *, at_head: frozenset[str] | set[str] = frozenset()
                ) -> None:
    """``db.migrate_all``, but a new SQLite database is a copy of one migrated once into the folder
    ``migrated``: alembic costs a few tenths of a second of CPU per database, which fourteen offices
    (46 databases) or every test's province would pay again. A database named in ``at_head`` (a
    copy of a migrated PostgreSQL template) is left as it is."""
    databases = [(db.AUTH, settings.auth_database_uri)]
    databases += [(spec.name, settings.database_uri_for(spec.database)) for spec in db.services_of(settings)]
    for service, uri in databases:
        url = sa.make_url(uri)
        if url.database in at_head:
            continue
        if url.get_backend_name() != "sqlite" or not url.database or Path(url.database).exists():
            db.migrate(service, uri)
            continue
        template = migrated / f"{service}.sqlite"
        if not template.exists():
            db.migrate(service, f"sqlite:///{template}")
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(url.database)) as copy:
            source.backup(copy)


def up(*, nodes: str = "default", port_base: int = 8100, hub_port: int = 8000, demo: bool = True,
       demo_cases: int = demo_data.CASES_PER_NODE, detach_after_start: bool = False, root: Path | None = None,
       namespace: str = "") -> int:
    node_list = parse_nodes(nodes)
    paths, files = lay_out(root or Path.cwd(), node_list, port_base=port_base, hub_port=hub_port, namespace=namespace)
    settings = {name: config.load(path) for name, path in files.items()}

    try:
        ensure_management(settings["hub"].management_uri)
    except (broker.ManagementUnavailable, subprocess.CalledProcessError) as exc:
        print(f"rehsos up: {exc}", file=sys.stderr)
        return 2
    report = broker.bootstrap(broker.Management(settings["hub"].management_uri), settings["hub"].names,
                                node_links([settings[n] for n in node_list]))
    print(f"rehsos: broker topology ready ({len(report.changes)} changes)", flush=True)

    previous = json.loads(paths.topology.read_text()) if paths.topology.exists() else {}
    doc = {"hub": {}, "nodes": {}, "log_dir": str(paths.log), "config_dir": str(paths.config),
           "node_public_keys": {n: settings[n].node_public_keys[n] for n in node_list}}
    with tempfile.TemporaryDirectory(prefix="rehsos-migrated-") as migrated:  # gone even if a migration fails
        for s in settings.values():
            migrate_all(s, Path(migrated))
    for name, s in settings.items():
        before = previous.get("hub", {}) if name == "hub" else previous.get("nodes", {}).get(name, {})
        tokens, passwords = ensure_demo_tokens(s, before.get("tokens", {}), before.get("passwords", {}))
        entry = {"base_url": s.base_url, "tokens": tokens, "passwords": passwords}
        if name == "hub":
            doc["hub"] = entry
        else:
            doc["nodes"][name] = {"name": reference.region_name(name), **entry}

    procs = {name: start_process(name, files[name], paths) for name in files}
    try:
        wait_healthy(procs, {name: s.base_url for name, s in settings.items()}, paths)
        seeded = referred = answered = 0
        if demo:
            province_running = reference.PROVINCE in node_list
            # Node 63 first: its panti must be registered before the regencies' referrals reach it.
            for node in sorted(node_list, key=lambda n: n != reference.PROVINCE):
                cases, referrals = demo_data.seed(settings[node].base_url, doc["nodes"][node]["tokens"], node,
                                                  paths.data / node / "demo-seeded", demo_cases,
                                                  province_running=province_running)
                seeded, referred = seeded + cases, referred + referrals
            if referred:  # the referrals travel node → hub → 63
                answers = demo_data.answer_referrals(
                    settings[reference.PROVINCE].base_url,
                    doc["nodes"][reference.PROVINCE]["tokens"][auth.FACILITY_MANAGER], referred)
                answered = sum(answers.values())
                print(f"rehsos: node 63 answered {answered} of {referred} demo referrals: "
                      f"{answers['admitted']} admitted, {answers['accepted']} accepted, "
                      f"{answers['waitlisted']} waitlisted", flush=True)
            if province_running:  # the province's 2024 Bimtek and Rakor, and an event open for nomination
                tokens = doc["nodes"][reference.PROVINCE]["tokens"]
                events = demo_training.seed(settings[reference.PROVINCE].base_url, tokens[auth.TRAINER])
                nominated = sum(demo_training.nominate(settings[n].base_url, doc["nodes"][n]["tokens"][auth.OPERATOR], n)
                                for n in node_list if n != reference.PROVINCE)
                print(f"rehsos: {events} demo training events at node 63; {nominated} nominations from the "
                      f"regencies", flush=True)
        paths.topology.write_text(json.dumps(doc, indent=2))
        paths.topology.chmod(0o600)
        _print_urls(doc, paths, seeded)
        if detach_after_start:
            hub_total = wait_for_hub_cases(doc["hub"]["base_url"], doc["hub"]["tokens"][auth.ANALYST], seeded)
            print(f"rehsos: hub counts {hub_total} cases", flush=True)
            return 0 if hub_total >= seeded and answered >= referred else 1
        stop = []
        # Handle SIGINT ourselves too: a shell that starts us in the background ignores it,
        # and Python then never raises KeyboardInterrupt.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.append(1))
        while not stop:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"rehsos: {name} exited ({proc.returncode}); see {paths.log / (name + '.log')}",
                          file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"rehsos up: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nrehsos: stopping ...", flush=True)
        stop_processes(procs)
        print("rehsos: stopped", flush=True)


def _print_urls(doc: dict, paths: Paths, seeded: int) -> None:
    print("\nRehsos Kalsel is running.\n")
    print(f"  hub        {doc['hub']['base_url']}/   (dasbor; masuk sebagai demo.analyst)")
    for node, entry in doc["nodes"].items():
        print(f"  node {node:<5} {entry['base_url']}/   {entry['name']} (halaman kantor; API: /api/v1/openapi.json)")
    if seeded:
        print(f"\n  {seeded} demo cases registered.")
    print("\n  Sign in to a node's pages with the user name and password of a role (demo.operator,")
    print("  demo.supervisor, demo.facility_manager, demo.trainer, demo.admin; at the hub demo.analyst,")
    print("  demo.admin): each role sees its own menu. Passwords (\"passwords\") and API tokens")
    print(f"  (\"tokens\") of every node are in {paths.topology}")
    print(f"  Logs: {paths.log}/")
    print("\nCtrl-C stops everything.", flush=True)
