"""What a node (or the hub) tells its operators: ``GET /metrics`` (Prometheus) and the health check.

One :class:`NodeMetrics` per web server address, that is per node process (tests run several
nodes in one process, each on its own port). Counted as it happens: HTTP request durations by
route template (never the raw path: ids would make a series each), events consumed and published.
Read when scraped (:class:`ServiceState`): each service's outbox backlog and the age of its
oldest waiting row, its quarantine, the messages waiting in its inbound queue (consumer lag) and,
on a node, in its uplink to the hub. No label or value carries anything a person typed.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import eventlet
import eventlet.semaphore
import kombu
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily

from rehsos import topology
from rehsos.clock import now
from rehsos.outbox import direct_counter

disable_created_metrics()  # a `_created` series beside every counter doubles the scrape for nothing we read

# A check that takes longer than this counts as failed: the health check must answer quickly
# even when PostgreSQL or RabbitMQ hangs.
CHECK_SECONDS = 3.0
STATE_SECONDS = 2.0  # health and metrics share one reading for this long
# Request durations: from a cached read (a few ms) to a slow export (seconds).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class ServiceState:
    """One service as its database and broker answer right now."""
    service: str
    database: str = "ok"  # or "error: <exception class>"
    broker: str = "ok"
    outbox_waiting: int | None = None
    oldest_waiting_seconds: float | None = None
    quarantined: dict[str, int] = field(default_factory=dict)  # kind (refused, dead_letter) -> not redriven
    queue: str | None = None
    queue_ready: int | None = None  # messages waiting in its inbound queue

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.broker == "ok"

    def health(self) -> dict:
        return {"database": self.database, "broker": self.broker, "outbox_waiting": self.outbox_waiting,
                "oldest_waiting_seconds": self.oldest_waiting_seconds,
                "quarantined": sum(self.quarantined.values()) if self.database == "ok" else None,
                "queue_ready": self.queue_ready}


def _failure(exc: BaseException) -> str:
    # The class only: a driver's message may name hosts or users, and the health check is public.
    return f"error: {type(exc).__name__}"


def read_database(state: ServiceState, database) -> None:
    """Outbox backlog and quarantine of a service (``database`` is its ServiceDatabase)."""
    outbox, quarantine = database.tables.outbox, database.tables.quarantine
    try:
        with eventlet.Timeout(CHECK_SECONDS, TimeoutError), database.engine.connect() as conn:
            waiting, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.created_at))
                .where(outbox.c.published_at.is_(None),
                       outbox.c.service.in_((state.service, direct_counter(state.service))))).one()
            kinds = conn.execute(sa.select(quarantine.c.kind, sa.func.count())
                                 .where(quarantine.c.redriven_at.is_(None)).group_by(quarantine.c.kind)).all()
    except Exception as exc:  # noqa: BLE001 - any failure means the database does not answer
        state.database = _failure(exc)
        return
    state.outbox_waiting = waiting
    state.oldest_waiting_seconds = round(max(0.0, (now() - oldest).total_seconds()), 3) if oldest else 0.0
    state.quarantined = {kind: count for kind, count in kinds}


class BrokerProbe:
    """Passive declares on the node's broker over one connection of its own, kept between scrapes
    (the consumers' connections belong to their own greenthreads).

    A check, not a reconnect loop: one connection attempt, everything within ``CHECK_SECONDS``.
    The deadline is eventlet's own ``Timeout``, a ``BaseException``: a ``TimeoutError`` (an
    ``OSError``) would be taken by kombu's connection retries and dnspython's name servers loop
    for one more failed attempt, and a timeout once swallowed never fires again.
    """

    def __init__(self, uri: str):
        self.uri = uri
        self._connection: kombu.Connection | None = None
        self._channel = None
        self._lock = eventlet.semaphore.Semaphore()  # green: a scrape waits without blocking the process

    def ready_messages(self, queues: list[str]) -> dict[str, int]:
        """Messages ready in each queue; raises when the broker does not answer (or a queue is missing)."""
        with self._lock:
            deadline = eventlet.Timeout(CHECK_SECONDS)
            try:
                kept = self._channel is not None
                try:
                    return self._declare(queues)
                except Exception:  # noqa: BLE001 - a kept connection the broker dropped: once more, fresh
                    self._drop()
                    if not kept:
                        raise
                return self._declare(queues)
            except eventlet.Timeout as exc:
                if exc is not deadline:
                    raise
                raise TimeoutError(f"no answer from the broker within {CHECK_SECONDS} s") from None
            finally:
                deadline.cancel()
                if self._channel is None:
                    self._drop()  # a connection half made when the deadline or an error struck

    def _declare(self, queues: list[str]) -> dict[str, int]:
        if self._connection is None:
            self._connection = kombu.Connection(self.uri, connect_timeout=CHECK_SECONDS, heartbeat=0)
            # One attempt: kombu's own retries sleep 2 s and more between attempts.
            self._connection.ensure_connection(max_retries=0)
            self._channel = self._connection.channel()
        return {q: self._channel.queue_declare(queue=q, passive=True).message_count for q in queues}

    def _drop(self) -> None:
        """Forget the connection without a closing handshake: a broker that is gone would not answer it."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.collect()
            except Exception:  # noqa: BLE001 - a dead connection may fail to close; it is gone anyway
                pass

    def close(self) -> None:
        """The web server stops: close the connection, politely if the broker answers within a second."""
        with eventlet.Timeout(1.0, False):
            if self._connection is not None:
                try:
                    self._connection.release()
                except Exception:  # noqa: BLE001 - dropped below
                    pass
        self._drop()


class NodeMetrics:
    def __init__(self, node: str, broker_uri: str, is_hub: bool):
        self.node = node
        self.is_hub = is_hub
        self._state_lock = eventlet.semaphore.Semaphore()
        self._state: tuple[list[ServiceState], int | None] | None = None
        self._state_at = 0.0
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Histogram("rehsos_http_request_duration_seconds",
                                  "HTTP requests by route template, method and status class",
                                  ("method", "route", "status"), buckets=BUCKETS, registry=self.registry)
        self.events_consumed = Counter("rehsos_events_consumed", "Events taken from a service's inbound queue, "
                                       "by outcome (applied, duplicate, ignored, quarantined, retried)",
                                       ("service", "outcome"), registry=self.registry)
        self.events_published = Counter("rehsos_events_published", "Outbox rows the broker confirmed",
                                        ("service",), registry=self.registry)
        self.broker = BrokerProbe(broker_uri)
        # Set by the web server: each service's name, database dependency and inbound queue.
        self.services: Callable[[], list[tuple[str, object, str | None]]] = list
        self.registry.register(_StateCollector(self))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"  # a client may send any word as its method
        self.requests.labels(method, route, f"{status // 100}xx").observe(seconds)

    def consumed(self, service: str, outcome: str) -> None:
        self.events_consumed.labels(service, outcome).inc()

    def read_state(self) -> tuple[list[ServiceState], int | None]:
        """Every service's state, and (on a node) the messages waiting in its uplink to the hub.
        Read at most once per ``STATE_SECONDS``: health and metrics are public, and a burst of calls
        (a load balancer, a scanner) must not turn into a burst of queries and broker round trips."""
        with self._state_lock:
            at = time.monotonic()
            if self._state is None or at - self._state_at >= STATE_SECONDS:
                self._state, self._state_at = self._read_state(), time.monotonic()
            return self._state

    def _read_state(self) -> tuple[list[ServiceState], int | None]:
        states = []
        for name, database, queue in self.services():
            state = ServiceState(name, queue=queue)
            read_database(state, database)
            states.append(state)
        queues = [s.queue for s in states if s.queue] + ([] if self.is_hub else [topology.UPLINK_QUEUE])
        uplink = None
        try:
            ready = self.broker.ready_messages(queues)
        except Exception as exc:  # noqa: BLE001 - the broker does not answer
            for state in states:
                state.broker = _failure(exc)
        else:
            for state in states:
                state.queue_ready = ready.get(state.queue) if state.queue else None
            uplink = ready.get(topology.UPLINK_QUEUE)
        return states, uplink

    def close(self) -> None:
        self.broker.close()


class _StateCollector:
    """Gauges read when scraped: no loop runs between scrapes."""

    def __init__(self, metrics: NodeMetrics):
        self.metrics = metrics

    def collect(self):
        states, uplink = self.metrics.read_state()
        up = GaugeMetricFamily("rehsos_dependency_up", "1 when the service's database or broker answers",
                               labels=("service", "dependency"))
        waiting = GaugeMetricFamily("rehsos_outbox_waiting", "Outbox rows not yet published", labels=("service",))
        oldest = GaugeMetricFamily("rehsos_outbox_oldest_waiting_seconds",
                                   "Age of the oldest outbox row not yet published (0 when none waits)",
                                   labels=("service",))
        quarantined = GaugeMetricFamily("rehsos_quarantined", "Quarantined messages not redriven, by kind",
                                        labels=("service", "kind"))
        lag = GaugeMetricFamily("rehsos_consumer_ready_messages", "Messages waiting in the service's inbound queue",
                                labels=("service", "queue"))
        for s in states:
            up.add_metric((s.service, "database"), 1 if s.database == "ok" else 0)
            up.add_metric((s.service, "broker"), 1 if s.broker == "ok" else 0)
            if s.outbox_waiting is not None:
                waiting.add_metric((s.service,), s.outbox_waiting)
                oldest.add_metric((s.service,), s.oldest_waiting_seconds)
                for kind in ("refused", "dead_letter"):
                    quarantined.add_metric((s.service, kind), s.quarantined.get(kind, 0))
            if s.queue_ready is not None:
                lag.add_metric((s.service, s.queue), s.queue_ready)
        yield from (up, waiting, oldest, quarantined, lag)
        if uplink is not None:
            yield GaugeMetricFamily("rehsos_uplink_ready_messages",
                                    "Messages at the node waiting for the link to the hub", value=uplink)


_by_address: dict[str, NodeMetrics] = {}
_lock = threading.Lock()


def of(nameko_config: dict) -> NodeMetrics:
    """The metrics of the node process whose nameko config this is (one per web server address)."""
    address = nameko_config.get("WEB_SERVER_ADDRESS", "0.0.0.0:8000")
    with _lock:
        metrics = _by_address.get(address)
        if metrics is None:
            settings = nameko_config["REHSOS"]
            metrics = _by_address[address] = NodeMetrics(settings.node, settings.broker_uri, settings.is_hub)
        return metrics


def release(nameko_config: dict) -> None:
    """The node's web server stopped: close its broker probe; a restart starts afresh."""
    with _lock:
        metrics = _by_address.pop(nameko_config.get("WEB_SERVER_ADDRESS", "0.0.0.0:8000"), None)
    if metrics is not None:
        metrics.close()
