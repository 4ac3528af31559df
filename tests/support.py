"""Test harness: a real province (hub + nodes) inside the test process, on a fresh namespace of
vhosts and broker users of the local RabbitMQ, with real databases. Removed after each test."""
from __future__ import annotations

import dataclasses
import tempfile
import uuid
from pathlib import Path

import eventlet
import kombu
import requests
import sqlalchemy as sa

from rehsos import auth, config, db, serve, topology
from rehsos_tools import broker as mq, devrun, waiting
from rehsos.db import create_engine

MANAGEMENT_URI = "http://guest:guest@127.0.0.1:15672"
PG_ADMIN_URI = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
_MIGRATED = tempfile.TemporaryDirectory(prefix="rehsos-migrated-")


def namespace() -> str:
    """A fresh prefix for a test's vhosts and broker users, claimed for this process so that the
    sweep of leftovers (`make clean-test-leftovers`, the start of `make test`) leaves it alone;
    :func:`rehsos_tools.devrun.unclaim` it after the teardown."""
    while not devrun.claim(name := f"t{uuid.uuid4().hex[:8]}-"):
        pass
    return name


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.05, message: str = "condition"):
    return waiting.wait_until(predicate, timeout, interval, message, sleep=eventlet.sleep, error=AssertionError)


def migrate_all(settings: config.Settings) -> None:
    """Each SQLite database a copy of one migrated once per test process, each PostgreSQL one
    already a copy of a migrated template (:meth:`PostgresDatabases.per_service`)."""
    devrun.migrate_all(settings, Path(_MIGRATED.name), at_head=PostgresDatabases.at_head)


class PostgresDatabases:
    """Creates throwaway PostgreSQL databases. A test hands them over with :meth:`finish`: they are
    dropped when the test process ends, not after each test, since PostgreSQL checkpoints at every
    DROP DATABASE, which took about a second each while other test processes wrote."""

    finished: list[str] = []  # databases of ended tests, and the claims on their names
    finished_claims: list[str] = []
    templates: dict[tuple[str, ...], str] = {}  # services migrated into it -> database
    at_head: set[str] = set()  # copies of a template: nothing to migrate

    def __init__(self):
        self.admin = sa.create_engine(PG_ADMIN_URI, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []
        self.claims: list[str] = []

    def create(self, name: str | None = None, template: str | None = None) -> str:
        name = name or self._prefix()
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        self.created.append(name)
        if template:
            PostgresDatabases.at_head.add(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    def per_service(self, settings: config.Settings) -> str:
        """A database per service of ``settings``' node, as in production, each a copy of one
        migrated once per test process (``CREATE DATABASE ... TEMPLATE``); returns the
        ``{service}`` URI template."""
        prefix = self._prefix()
        by_database: dict[str, list[str]] = {}
        for spec in db.services_of(settings):
            by_database.setdefault(spec.database, []).append(spec.name)
        for database, services in by_database.items():
            self.create(f"{prefix}_{database}", template=self._template(tuple(services)))
        return f"postgresql://postgres@127.0.0.1:5432/{prefix}_{{service}}"

    def _template(self, services: tuple[str, ...]) -> str:
        """This process's database with ``services`` migrated, dropped with the finished ones."""
        if services not in PostgresDatabases.templates:
            name = self._prefix()
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            for service in services:
                db.migrate(service, f"postgresql://postgres@127.0.0.1:5432/{name}")
            self.claims.remove(name)  # the process's, not this test's: dropped when the process ends
            PostgresDatabases.templates[services] = name
        return PostgresDatabases.templates[services]

    def _prefix(self) -> str:
        """A fresh database name (or prefix), claimed like a namespace until it is dropped."""
        while not devrun.claim(prefix := f"rehsos_test_{uuid.uuid4().hex[:10]}"):
            pass
        self.claims.append(prefix)
        return prefix

    def finish(self):
        """The test is over: its databases go with the others when the test process ends
        (:func:`drop_finished`, called by tests/conftest.py)."""
        PostgresDatabases.finished += self.created
        PostgresDatabases.finished_claims += self.claims
        self.created, self.claims = [], []
        self.admin.dispose()

    def drop_all(self):
        """Drop them now, with the process's templates (benchmarks and tools, which have no
        end-of-session hook; other tests' finished databases stay for the end of the session)."""
        templates = list(PostgresDatabases.templates.values())
        _drop(self.created + templates, self.claims + templates)
        self.created, self.claims = [], []
        self.admin.dispose()
        PostgresDatabases.templates.clear()


def drop_finished() -> None:
    """Drop the databases of this process's ended tests and its templates (the end of a pytest
    session)."""
    templates = list(PostgresDatabases.templates.values())  # each its own claim
    _drop(PostgresDatabases.finished + templates, PostgresDatabases.finished_claims + templates)
    PostgresDatabases.finished, PostgresDatabases.finished_claims = [], []
    PostgresDatabases.templates.clear()
    PostgresDatabases.at_head.clear()


def _drop(names: list[str], claims: list[str]) -> None:
    if names:
        admin = sa.create_engine(PG_ADMIN_URI, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    for prefix in claims:
        devrun.unclaim(prefix)


class Province:
    """Hub and nodes, each with its runner, tokens and settings; call :meth:`start`."""

    def __init__(self, root: Path, nodes: list[str], *, start_hub: bool = True, start_nodes: bool = True,
                 database: str = "sqlite", pg: PostgresDatabases | None = None,
                 heartbeat_interval: float | None = None):
        self.root = root
        self.nodes = nodes
        self.namespace = namespace()
        self.names = topology.Names(self.namespace)
        self.mgmt = mq.Management(MANAGEMENT_URI)
        self.port_base, hub_port = devrun.free_port_base(nodes)
        self.paths, files = devrun.lay_out(root, nodes, port_base=self.port_base, hub_port=hub_port,
                                           namespace=self.namespace)
        fast_relay = {"poll_interval": 0.5, "batch_size": 100, "max_backoff": 0.5}
        self.settings: dict[str, config.Settings] = {}
        for name, path in files.items():
            # Retries of a failing event come quickly in tests (0.05 s growing to 0.5 s).
            s = dataclasses.replace(config.load(path), relay=fast_relay, reservation_sweep_interval=1.0,
                                    gap_repair_interval=0.5,
                                    consumer={"retry_base": 0.05, "retry_cap": 0.5})
            if heartbeat_interval is not None:  # else the default hour: no heartbeat during a test
                s = dataclasses.replace(s, heartbeat_interval=heartbeat_interval)
            if database == "postgresql":
                s = dataclasses.replace(s, database_uri=pg.per_service(s))
            self.settings[name] = s
        self.start_hub = start_hub
        self.start_nodes = start_nodes
        self.runners: dict[str, object] = {}
        self.tokens: dict[str, dict[str, str]] = {}
        self.bootstrap_report = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "Province":
        links = devrun.node_links([self.settings[n] for n in self.nodes])
        self.bootstrap_report = mq.bootstrap(self.mgmt, self.names, links)
        for name, s in self.settings.items():
            migrate_all(s)
            roles = auth.HUB_ROLES if s.is_hub else auth.NODE_ROLES
            store = auth.TokenStore(create_engine(s.auth_database_uri))
            self.tokens[name] = {role: store.issue(user=f"uji.{role}", role=role, node=s.node) for role in roles}
            store.engine.dispose()
        for name in self.settings:
            if not (self.start_hub if name == "hub" else self.start_nodes):
                continue
            self.start_runner(name)
        return self

    def start_runner(self, name: str):
        r = serve.make_runner(self.settings[name])
        r.start()
        self.runners[name] = r
        return r

    def stop_runner(self, name: str):
        r = self.runners.pop(name, None)
        if r is not None:
            with eventlet.Timeout(20, False):
                r.stop()
                return
            r.kill()

    def close(self):
        for name in list(self.runners):
            self.stop_runner(name)
        mq.teardown(self.mgmt, self.names, self.nodes)
        devrun.release_port_base(self.port_base)
        devrun.unclaim(self.namespace)

    # -- helpers ------------------------------------------------------------------------------
    def password(self, name: str, role: str) -> tuple[str, str]:
        """The user name and a password of the test account of ``role`` at ``name``; set on first use
        (scrypt is slow on purpose, and most tests sign in with tokens)."""
        user, password = f"uji.{role}", f"sandi-uji-{role}-{name}"
        store = auth.TokenStore(create_engine(self.settings[name].auth_database_uri))
        try:
            principal = store.lookup(self.tokens[name][role])
            if not any(row["id"] == principal.token_id and row["password"] for row in store.list()):
                store.set_password(principal.token_id, password)
        finally:
            store.engine.dispose()
        return user, password

    def url(self, name: str, path: str) -> str:
        return self.settings[name].base_url + path

    def headers(self, name: str, role: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[name][role]}"}

    def register(self, node: str, body: dict, role: str = auth.OPERATOR) -> requests.Response:
        return requests.post(self.url(node, "/api/v1/cases"), json=body, headers=self.headers(node, role), timeout=10)

    def summary(self) -> dict:
        resp = requests.get(self.url("hub", "/api/v1/summary"), headers=self.headers("hub", auth.ANALYST), timeout=10)
        resp.raise_for_status()
        return resp.json()

    def hub_cases(self) -> int:
        return self.summary()["total_cases"]

    def engine(self, name: str, service: str) -> sa.Engine:
        return create_engine(self.settings[name].database_uri_for(service))

    def count(self, name: str, service: str, table: str) -> int:
        engine = self.engine(name, service)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()
        finally:
            engine.dispose()

    def node_amqp(self, node: str) -> str:
        return self.settings[node].broker_uri

    def hub_amqp(self, user: str = "guest", password: str = "guest") -> str:
        return topology.with_credentials("amqp://127.0.0.1:5672", user, password, self.names.hub_vhost)

    def node_password(self, node: str) -> str:
        return devrun.node_links([self.settings[node]])[0].password

    def publish_as(self, node: str, body, *, user_id=None, exchange=None, content_type="application/json",
                   routing_key=None):
        """Publish on the hub the way a node's shovel does: logged in as the node, user_id stamped."""
        user = self.names.node_user(node)
        with kombu.Connection(self.hub_amqp(user, self.node_password(node)),
                              transport_options={"confirm_publish": True}) as conn:
            conn.Producer().publish(body, exchange=exchange or topology.uplink_exchange(node),
                                    routing_key=routing_key or f"{node}.intake.x", user_id=user_id or user,
                                    content_type=content_type, content_encoding="utf-8", retry=False)

    # -- outages --------------------------------------------------------------------------------
    def block_hub(self):
        """The hub's broker becomes unreachable for the nodes: no new connections, links cut."""
        users = {self.names.node_user(n) for n in self.nodes}

        def node_links_listed():
            # The management API lists a new connection only after its next stats tick.
            conns = [c for c in self.mgmt.request("GET", "connections") or []
                     if c.get("user") in users and c.get("vhost") == self.names.hub_vhost]
            return conns if {c["user"] for c in conns} == users else None

        conns = wait_until(node_links_listed, timeout=20, interval=0.5, message="shovel connections listed")
        self.mgmt.request("PUT", "vhost-limits", self.names.hub_vhost, "max-connections", body={"value": 0})
        for conn in conns:
            self.mgmt.request("DELETE", "connections", conn["name"], ok=(200, 204, 404))

    def unblock_hub(self):
        self.mgmt.request("DELETE", "vhost-limits", self.names.hub_vhost, "max-connections", ok=(200, 204, 404))


def case_body(**overrides) -> dict:
    body = {"category": "gelandangan", "name": "Muhammad Rizky", "nik": "6371051203850001", "sex": "male",
            "birth_date": "1985-03-12", "regency": "6371", "kecamatan": "637103"}
    body.update(overrides)
    return body


def read_models(engine: sa.Engine, *, summaries: bool = True) -> dict[str, set]:
    """Every read-model table of the hub (``reporting.store.read_model_tables``) as a set of rows,
    JSON values as sorted text so that rows compare whatever the order they were written in. A
    summary's count that came to 0 is left out (a key renamed away keeps its row, at 0)."""
    import json

    from reporting.store import read_model_tables

    def hashable(value):
        return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value

    def rows(table):
        query = sa.select(table)
        if (count := table.c.get("n", table.c.get("cases"))) is not None and table.info.get("summary"):
            query = query.where(count != 0)
        return query

    with engine.connect() as conn:
        return {t.name: {tuple(hashable(v) for v in row) for row in conn.execute(rows(t))}
                for t in read_model_tables(summaries=summaries)}
