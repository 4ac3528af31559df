"""A province of real processes for the reliability run.

The hub and each node run as ``rehsos-serve`` processes (started by ``rehsos_tools.devrun``, so
a fault can SIGKILL one as an outage would), on a fresh namespace of vhosts and broker users of
the local RabbitMQ (``r<random>-hub``, ``r<random>-node-6371``) and fresh SQLite files or
PostgreSQL databases; :meth:`Province.close` removes all of it. The fault helpers act only on
that namespace: the management API for the broker, the databases' own means for the database.
"""
from __future__ import annotations

import logging
import signal
import sqlite3
import subprocess
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import kombu
import requests
import sqlalchemy as sa
import yaml

from rehsos import auth, config, db, topology
from rehsos_tools import broker as mq, devrun
from rehsos_tools.waiting import wait_until

log = logging.getLogger("rehsos.reliability")

MANAGEMENT_URI = "http://guest:guest@127.0.0.1:15672"
PG_SERVER_URI = "postgresql://postgres@127.0.0.1:5432"
HUB = "hub"


class Province:
    """Hub and nodes as processes, with their settings, tokens and broker credentials."""

    def __init__(self, root: Path, nodes: list[str], *, database: str = "postgresql",
                 management_uri: str = MANAGEMENT_URI, pg_server_uri: str = PG_SERVER_URI):
        self.nodes = nodes
        self.database = database
        self.namespace = f"r{uuid.uuid4().hex[:8]}-"
        self.names = topology.Names(self.namespace)
        self.mgmt = mq.Management(management_uri)
        self.port_base, hub_port = devrun.free_port_base(nodes)
        self.paths, self.files = devrun.lay_out(root, nodes, port_base=self.port_base, hub_port=hub_port,
                                                management_uri=management_uri, namespace=self.namespace)
        self.pg_server_uri = pg_server_uri
        self.pg_databases: list[str] = []
        if database == "postgresql":
            self._use_postgresql()
        elif database != "sqlite":
            raise ValueError(f"database must be sqlite or postgresql, not {database!r}")
        for path in self.files.values():  # JSON log lines, as in production: the privacy scan reads them
            path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), "log_format": "json"}, sort_keys=False))
        self.settings = {name: config.load(path) for name, path in self.files.items()}
        self.links = devrun.node_links([self.settings[n] for n in nodes])
        self.procs: dict[str, subprocess.Popen] = {}
        self.tokens: dict[str, dict[str, str]] = {}
        self.revoked: dict[str, dict[str, str]] = {}
        self.expired: dict[str, dict[str, str]] | None = {}
        self._engines: dict[tuple[str, str], sa.Engine] = {}

    # -- databases --------------------------------------------------------------------------------
    def _pg_admin(self) -> sa.Engine:
        return sa.create_engine(f"{self.pg_server_uri.replace('postgresql://', 'postgresql+psycopg2://')}/postgres",
                                isolation_level="AUTOCOMMIT")

    def _use_postgresql(self) -> None:
        """One database per service and one for the tokens, as in production; created by :meth:`start`."""
        prefix = f"rehsos_rel_{self.namespace[1:-1]}"
        for name, path in self.files.items():
            doc = yaml.safe_load(path.read_text())
            site = config.load(path)
            self.pg_databases += [f"{prefix}_{name}_{database}"
                                  for database in [spec.database for spec in db.services_of(site)] + [db.AUTH]]
            doc["database_uri"] = f"{self.pg_server_uri}/{prefix}_{name}_{{service}}"
            doc["auth_database_uri"] = f"{self.pg_server_uri}/{prefix}_{name}_{db.AUTH}"
            path.write_text(yaml.safe_dump(doc, sort_keys=False))

    def _create_databases(self) -> None:
        admin = self._pg_admin()
        try:
            with admin.connect() as conn:
                for database in self.pg_databases:
                    conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
        finally:
            admin.dispose()

    def engine(self, name: str, service: str) -> sa.Engine:
        key = (name, service)
        if key not in self._engines:
            uri = (self.settings[name].auth_database_uri if service == db.AUTH
                   else self.settings[name].database_uri_for(service))
            self._engines[key] = db.create_engine(uri)
        return self._engines[key]

    @contextmanager
    def database_unavailable(self, name: str, service: str):
        """The database of ``service`` at ``name`` refuses work: SQLite locked exclusively, PostgreSQL
        closed to new connections and its sessions ended."""
        url = sa.make_url(self.settings[name].database_uri_for(service))
        if url.get_backend_name() == "sqlite":
            lock = sqlite3.connect(url.database, timeout=60, isolation_level=None)
            try:
                lock.execute("BEGIN EXCLUSIVE")
                yield
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            return
        admin = self._pg_admin()
        database = url.database
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false'))
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": database})
            yield
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true'))
            admin.dispose()

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "Province":
        """Databases, broker topology, migrations, tokens, then the processes; :meth:`close`
        undoes whatever of it was done, also after a failed start."""
        devrun.ensure_management(self.settings[HUB].management_uri)
        self._create_databases()
        mq.bootstrap(self.mgmt, self.names, self.links)
        for name, s in self.settings.items():
            db.migrate_all(s)
            self._issue_tokens(name, s)
        for name in self.settings:
            self.procs[name] = devrun.start_process(name, self.files[name], self.paths)
        self.wait_healthy(list(self.settings))
        return self

    def _issue_tokens(self, name: str, s: config.Settings) -> None:
        roles = auth.HUB_ROLES if s.is_hub else auth.NODE_ROLES
        store = auth.TokenStore(self.engine(name, db.AUTH))
        self.tokens[name] = {role: store.issue(user=f"reliability-{role}", name=f"reliability {role}", role=role, node=s.node) for role in roles}
        self.revoked[name] = {}
        for role in roles:
            token = store.issue(user=f"reliability-revoked-{role}", name=f"reliability revoked {role}", role=role, node=s.node)
            token_id = next(row["id"] for row in store.list() if row["name"] == f"reliability revoked {role}")
            store.revoke(token_id)
            self.revoked[name][role] = token
        # Tokens that expire are being built (issue 11); until the token table knows an expiry,
        # an expired token cannot be made, and the run says so instead of pretending.
        expiry = next((c for c in auth.tokens.c if c.name.startswith("expires")), None)
        if expiry is None:
            self.expired = None
            return
        self.expired[name] = {}
        for role in roles:
            token = store.issue(user=f"reliability-expired-{role}", name=f"reliability expired {role}", role=role, node=s.node)
            with store.engine.begin() as conn:
                conn.execute(sa.update(auth.tokens).where(auth.tokens.c.token_hash == auth.hash_token(token))
                             .values({expiry: datetime.now(timezone.utc) - timedelta(days=1)}))
            self.expired[name][role] = token

    def wait_healthy(self, names: list[str], timeout: float = 90) -> None:
        devrun.wait_healthy({n: self.procs[n] for n in names}, {n: self.settings[n].base_url for n in names},
                            self.paths, timeout=timeout)

    def kill(self, name: str) -> None:
        """SIGKILL: no goodbye, as when the machine loses power or the OOM killer strikes."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def restart(self, name: str) -> None:
        self.procs[name] = devrun.start_process(name, self.files[name], self.paths)
        self.wait_healthy([name])

    def close(self) -> None:
        devrun.stop_processes(self.procs)
        devrun.release_port_base(self.port_base)
        for engine in self._engines.values():
            engine.dispose()
        try:
            self.unblock_hub()
            mq.teardown(self.mgmt, self.names, self.nodes)
        finally:
            if self.pg_databases:
                admin = self._pg_admin()
                with admin.connect() as conn:
                    for database in self.pg_databases:
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                admin.dispose()

    # -- HTTP -----------------------------------------------------------------------------------------
    def url(self, name: str, path: str) -> str:
        return self.settings[name].base_url + path

    def headers(self, name: str, role: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[name][role]}"}

    def register(self, node: str, body: dict, session: requests.Session | None = None) -> requests.Response:
        return (session or requests).post(self.url(node, "/api/v1/cases"), json=body, timeout=15,
                                          headers={**self.headers(node, auth.OPERATOR), "X-Purpose": "uji keandalan"})

    def summary(self) -> dict:
        resp = requests.get(self.url(HUB, "/api/v1/summary"), headers=self.headers(HUB, auth.ANALYST), timeout=10)
        resp.raise_for_status()
        return resp.json()

    def quarantine(self) -> list[dict]:
        resp = requests.get(self.url(HUB, "/api/v1/quarantine"), headers=self.headers(HUB, auth.ANALYST), timeout=10)
        resp.raise_for_status()
        return resp.json()

    # -- the broker ------------------------------------------------------------------------------------
    def node_password(self, node: str) -> str:
        return next(link.password for link in self.links if link.node == node)

    def hub_amqp(self, user: str = "guest", password: str = "guest") -> str:
        return topology.with_credentials("amqp://127.0.0.1:5672", user, password, self.names.hub_vhost)

    def publish_as(self, node: str, body: bytes, routing_key: str, *, properties: dict | None = None) -> None:
        """Publish on the hub as the node's shovel does: logged in as the node, ``user_id`` stamped."""
        user = self.names.node_user(node)
        props = {"content_type": "application/json", "content_encoding": "utf-8", "delivery_mode": 2,
                 **(properties or {}), "user_id": user}
        with kombu.Connection(self.hub_amqp(user, self.node_password(node)),
                              transport_options={"confirm_publish": True}) as conn:
            conn.Producer().publish(body, exchange=topology.uplink_exchange(node), routing_key=routing_key,
                                    retry=False, **props)

    def connections(self, vhost: str, users: set[str] | None = None) -> list[dict]:
        return [c for c in self.mgmt.request("GET", "connections") or []
                if c.get("vhost") == vhost and (users is None or c.get("user") in users)]

    def close_connections(self, conns: list[dict]) -> int:
        for conn in conns:
            self.mgmt.request("DELETE", "connections", conn["name"], ok=(200, 204, 404))
        return len(conns)

    def block_hub(self) -> None:
        """The hub's broker becomes unreachable for the nodes: no new connections, links cut."""
        users = {self.names.node_user(n) for n in self.nodes}

        def node_links_listed():
            # The management API lists a new connection only after its next stats tick.
            conns = self.connections(self.names.hub_vhost, users)
            return conns if {c["user"] for c in conns} == users else None

        conns = wait_until(node_links_listed, timeout=30, message="shovel connections listed")
        self.mgmt.request("PUT", "vhost-limits", self.names.hub_vhost, "max-connections", body={"value": 0})
        self.close_connections(conns)

    def unblock_hub(self) -> None:
        self.mgmt.request("DELETE", "vhost-limits", self.names.hub_vhost, "max-connections", ok=(200, 204, 404))

    def hold_uplink(self, node: str) -> None:
        """Stop the node's uplink shovel: its events wait in the node's ``uplink`` queue."""
        self.mgmt.request("DELETE", "parameters", "shovel", self.names.node_vhost(node), "uplink", ok=(200, 204, 404))

    def release_uplink(self) -> None:
        mq.bootstrap(self.mgmt, self.names, self.links)  # puts the shovel back; changes nothing else

    def take_uplink(self, node: str):
        """Every message waiting in the node's ``uplink`` queue, unacknowledged, with the connection
        and channel to acknowledge them on."""
        conn = kombu.Connection(self.settings[node].broker_uri)
        channel = conn.channel()
        messages = []
        while (message := channel.basic_get(topology.UPLINK_QUEUE, no_ack=False)) is not None:
            messages.append(message)
        return conn, channel, messages

    def queue_backlog(self) -> dict[str, int]:
        """Messages still on their way to the hub's read models: in the nodes' uplinks and in the
        hub's queues (a retry or delay queue included), but not the quarantine, the downlinks,
        nameko's RPC queues or the run's own tap."""
        backlog = {}
        for q in self.mgmt.request("GET", "queues", self.names.hub_vhost) or []:
            name = q["name"]
            if name == topology.QUARANTINE_QUEUE or name.startswith(("downlink.", "rpc-", "reliability.")):
                continue
            backlog[f"hub/{name}"] = q.get("messages", 0) or 0
        for node in self.nodes:
            q = self.mgmt.get("queues", self.names.node_vhost(node), topology.UPLINK_QUEUE) or {}
            backlog[f"{node}/{topology.UPLINK_QUEUE}"] = q.get("messages", 0) or 0
        return backlog

    def quarantine_queue_depth(self) -> int:
        with kombu.Connection(self.hub_amqp()) as conn:
            return conn.channel().queue_declare(topology.QUARANTINE_QUEUE, passive=True).message_count

    def _outbox_count(self, node: str, published: bool) -> int:
        outbox = sa.table("outbox", sa.column("published_at"))
        sent = outbox.c.published_at.is_not(None) if published else outbox.c.published_at.is_(None)
        total = 0
        for spec in db.services_of(self.settings[node]):
            with self.engine(node, spec.database).connect() as conn:
                total += conn.execute(sa.select(sa.func.count()).select_from(outbox).where(sent)).scalar_one()
        return total

    def outbox_pending(self, node: str) -> int:
        """Outbox rows of the node not yet confirmed by its broker."""
        return self._outbox_count(node, published=False)

    def outbox_marked(self, node: str) -> int:
        """Outbox rows the node's relays have marked sent."""
        return self._outbox_count(node, published=True)
