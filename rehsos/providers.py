"""nameko dependency providers: how workers get settings and a unit of work.

The provider owns the service's engine and runs its outbox relay as a managed thread, so every
service that writes events publishes them the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from sqlalchemy.orm import sessionmaker

from rehsos import logs, metrics, registry, topology
from rehsos.config import Settings
from rehsos.db import UnitOfWork, create_engine
from rehsos.outbox import MessagingTables, Outbox, OutboxRelay


class Config(DependencyProvider):
    """The node's :class:`~rehsos.config.Settings`."""

    def get_dependency(self, worker_ctx) -> Settings:
        return self.container.config["REHSOS"]


@dataclass
class ServiceDatabase:
    """What a worker sees: a unit-of-work factory, plus the engine for plain reads."""
    engine: sa.Engine
    tables: MessagingTables
    outbox: Outbox
    session_factory: sessionmaker
    relay: OutboxRelay | None

    def unit_of_work(self, *, batch: bool = False) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.outbox,
                          on_commit=self.relay.wake if self.relay else None, batch=batch)

    def session(self):
        """A read-only session for queries (``with db.session() as s:``)."""
        return self.session_factory()


class Database(DependencyProvider):
    def __init__(self, service: str, tables: MessagingTables, relay: bool = True):
        self.spec = registry.get(service)
        self.service = service
        self.tables = tables
        self.run_relay = relay
        # Where the relay publishes: a node's events go up the uplink, the hub's straight down.
        self.exchange = topology.publish_exchange(self.spec.site)

    def setup(self):
        settings: Settings = self.container.config["REHSOS"]
        self.engine = create_engine(settings.database_uri_for(self.spec.database))
        relay = None
        if self.run_relay:
            counter = metrics.of(self.container.config).events_published.labels(self.service)
            relay = OutboxRelay(self.engine, self.tables, self.service, settings.broker_uri, exchange=self.exchange,
                                on_sent=counter.inc, **settings.relay)
        self.database = ServiceDatabase(
            engine=self.engine, tables=self.tables, outbox=Outbox(self.tables, self.service),
            session_factory=sessionmaker(self.engine, expire_on_commit=False), relay=relay)

    def start(self):
        if self.database.relay is not None:
            self._relay_thread = self.container.spawn_managed_thread(self._run_relay)

    def _run_relay(self):
        logs.current_service.set(self.service)  # its log lines say whose relay wrote them
        self.database.relay.run()

    def worker_setup(self, worker_ctx):
        logs.current_service.set(self.service)  # the worker's greenthread: its log lines name the service

    def stop(self):
        if self.database.relay is not None:
            self.database.relay.stop()
            self._relay_thread.wait()
        self.engine.dispose()

    def kill(self):
        if self.database.relay is not None:
            self.database.relay.stop()
        self.engine.dispose()

    def get_dependency(self, worker_ctx) -> ServiceDatabase:
        return self.database


class SettingsTimer(Timer):
    """nameko's timer, with its interval read from a setting when the container starts (the
    decorator runs at import, before any configuration exists)."""

    def __init__(self, setting: str, **kwargs):
        super().__init__(interval=None, **kwargs)
        self.setting = setting

    def setup(self):
        self.interval = getattr(self.container.config["REHSOS"], self.setting)


settings_timer = SettingsTimer.decorator
