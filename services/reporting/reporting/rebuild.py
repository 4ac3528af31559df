"""Rebuild the hub's read models from its event store (``rehsos hub rebuild``).

1. Every read-model table (:func:`reporting.store.read_model_tables`) is created empty in a
   separate place: the schema ``reporting_rebuild`` on PostgreSQL, an attached database of that
   name on SQLite. The handlers write there through SQLAlchemy's schema translation, unchanged.
2. The stored events are replayed into it in (node, service, sequence) order, in batches, each
   batch in one transaction as the consumer applies one; a batch that fails is replayed again
   with each event in a savepoint. An event whose handler fails (an answer replayed before its request,
   which came from another node's stream) is set aside and tried again after the others, as the
   consumer's retries would; what still fails stops the rebuild before anything is swapped.
   Events the handlers emit for the nodes (a duplicate person found) are not sent again.
3. Events accepted meanwhile are replayed too (the tail), once while the consumer runs, and again
   after the consumer is held: on PostgreSQL by an EXCLUSIVE lock on ``inbox`` (the consumer's
   first write), on SQLite by the database's write lock. In that same transaction every
   read-model table's rows are replaced by the rebuilt ones and the transaction commits: readers see the old
   models until then and the new ones after, never a half-built one, and an event held back
   applies to the new models once the lock is gone. No event is lost or applied twice.

Tables keep their names, indexes and constraints (the migrations' own), since rows move and
tables do not.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import sessionmaker

from rehsos.contracts import Event, parse_event
from rehsos.db import UnitOfWork, create_engine
from reporting.models import Base, StoredEvent, messaging
from reporting.projections import READ_MODELS, prepare as prepare_read_models
from reporting.store import read_model_tables

log = logging.getLogger(__name__)

SCHEMA = "reporting_rebuild"
BATCH = 500
_ORDER = (StoredEvent.node, StoredEvent.service, StoredEvent.sequence, StoredEvent.id)
# One rebuild at a time on a PostgreSQL database (a second would drop the first one's schema).
_PG_LOCK_KEY = 0x7265_6275  # "rebu"


class RebuildError(Exception):
    """The rebuild cannot be done; the live read models are untouched."""


@dataclass
class RebuildResult:
    events: int
    seconds: float
    tables: list[str] = field(default_factory=list)
    arrived_meanwhile: int = 0  # accepted while the rebuild ran, replayed before the swap

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float(self.events)


class _Replay(UnitOfWork):
    """What a handler sees as its unit of work during a rebuild: a transaction on the fresh
    tables; the events it emits for the nodes went out when the event was first applied."""

    def __init__(self, session_factory, *, batch: bool):
        super().__init__(session_factory, outbox=None, batch=batch)

    def emit(self, event: Event, target: str | None = None) -> Event:
        return event


@dataclass
class _Pending:
    store_id: int
    event: Event
    error: str = ""


class _Rebuild:
    def __init__(self, uri: str, handlers: Mapping, on_progress: Callable[[int, int], None] | None,
                 batch_size: int, prepare: Callable | None = None):
        self.handlers = handlers
        self.prepare = prepare
        self.on_progress = on_progress or (lambda done, total: None)
        self.batch_size = batch_size
        self.url = sa.make_url(uri)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = create_engine(uri)
        self.file: Path | None = None
        if self.sqlite:
            self._prepare_sqlite()
        self.build = sessionmaker(self.engine.execution_options(schema_translate_map={None: SCHEMA}))
        self.replayed: set[int] = set()  # event_store ids applied or set aside
        self.deferred: list[_Pending] = []
        self.applied = 0
        self.total = 0

    # -- the two databases ------------------------------------------------------------------------
    def _prepare_sqlite(self) -> None:
        if not self.url.database or self.url.database == ":memory:":
            raise RebuildError("a rebuild needs the hub's database file, not an in-memory database")
        self.file = Path(f"{self.url.database}.rebuild")
        self._remove_file()

        @sa_event.listens_for(self.engine, "connect")
        def _attach(dbapi_conn, _record):
            # Transactions begin where SQLAlchemy says (below), so SAVEPOINTs work with pysqlite.
            dbapi_conn.isolation_level = None
            dbapi_conn.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (str(self.file),))
            dbapi_conn.execute(f"PRAGMA {SCHEMA}.journal_mode=MEMORY")
            dbapi_conn.execute(f"PRAGMA {SCHEMA}.synchronous=OFF")  # throwaway until swapped in

        @sa_event.listens_for(self.engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN")

    def _remove_file(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.file}{suffix}").unlink(missing_ok=True)

    def create_tables(self) -> None:
        with self.engine.begin() as conn:
            if not self.sqlite:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
                conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
            # Every table, so a handler that looks at another (even a messaging one) finds it.
            Base.metadata.create_all(conn.execution_options(schema_translate_map={None: SCHEMA}))

    def drop(self) -> None:
        if self.sqlite:
            self.engine.dispose()
            self._remove_file()
        else:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            self.engine.dispose()

    # -- checks -----------------------------------------------------------------------------------
    def check_store_covers_inbox(self) -> None:
        inbox = messaging.inbox
        with self.engine.connect() as conn:
            missing = conn.execute(sa.select(sa.func.count()).select_from(inbox).where(
                ~sa.exists().where(StoredEvent.event_id == inbox.c.event_id))).scalar_one()
        if missing:
            raise RebuildError(f"{missing} accepted events are not in the event store (accepted before it "
                               "existed): a rebuild would lose them")

    # -- replay -----------------------------------------------------------------------------------
    def _apply(self, uow: _Replay, pending: _Pending) -> bool:
        handler = self.handlers.get(pending.event.event_type)
        try:
            with uow.session.begin_nested():
                if handler is not None:
                    handler(uow, pending.event)
        except Exception as exc:  # noqa: BLE001 - set aside and tried again, as the consumer would
            pending.error = f"{type(exc).__name__}: {str(exc)[:300]}"
            return False
        return True

    def _apply_batch(self, events: Iterable[_Pending]) -> None:
        """The batch in one transaction as the consumer applies one (its locks and cases taken at
        once, the inserts and span recomputations at its end); when that fails, again with each
        event in a savepoint, those that fail set aside."""
        events = list(events)
        self.replayed.update(pending.store_id for pending in events)
        try:
            with _Replay(self.build, batch=True) as uow:
                if self.prepare is not None:
                    self.prepare(uow, [pending.event for pending in events])
                for pending in events:
                    handler = self.handlers.get(pending.event.event_type)
                    if handler is not None:
                        handler(uow, pending.event)
            self.applied += len(events)
        except Exception as exc:  # noqa: BLE001 - one of them does not apply (yet): find which
            log.info("a batch of %d stored events did not apply together (%s); replaying it event by event",
                     len(events), type(exc).__name__)
            with _Replay(self.build, batch=False) as uow:
                for pending in events:
                    if self._apply(uow, pending):
                        self.applied += 1
                    else:
                        self.deferred.append(pending)
        self.on_progress(self.applied, self.total)

    def retry_deferred(self) -> None:
        """Apply the events set aside, again and again while some of them apply."""
        while self.deferred:
            waiting, self.deferred = self.deferred, []
            for start in range(0, len(waiting), self.batch_size):
                self._apply_batch(waiting[start:start + self.batch_size])
            if len(self.deferred) == len(waiting):
                return  # no progress

    @staticmethod
    def _pending(rows) -> list[_Pending]:
        return [_Pending(row.id, parse_event(row.envelope)) for row in rows]

    def replay_all(self) -> None:
        with self.engine.connect() as conn:
            self.total = conn.execute(sa.select(sa.func.count()).select_from(StoredEvent)).scalar_one()
        self.on_progress(0, self.total)
        after = None
        while True:
            query = sa.select(StoredEvent.id, StoredEvent.envelope, *_ORDER[:3]).order_by(*_ORDER).limit(self.batch_size)
            if after is not None:
                query = query.where(sa.tuple_(*_ORDER) > sa.tuple_(*after))
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                break
            last = rows[-1]
            after = (last.node, last.service, last.sequence, last.id)
            self._apply_batch(p for p in self._pending(rows) if p.store_id not in self.replayed)
        self.retry_deferred()

    def catch_up(self) -> int:
        """Replay the events stored since the replay began (in stream order); how many."""
        with self.engine.connect() as conn:
            ids = set(conn.scalars(sa.select(StoredEvent.id))) - self.replayed
        if not ids:
            return 0
        self.total += len(ids)
        todo = sorted(ids)
        rows = []
        for start in range(0, len(todo), self.batch_size):
            with self.engine.connect() as conn:
                rows += conn.execute(sa.select(StoredEvent.id, StoredEvent.envelope, *_ORDER[:3])
                                     .where(StoredEvent.id.in_(todo[start:start + self.batch_size]))).all()
        rows.sort(key=lambda r: (r.node, r.service, r.sequence, r.id))
        for start in range(0, len(rows), self.batch_size):
            self._apply_batch(self._pending(rows[start:start + self.batch_size]))
        self.retry_deferred()
        return len(ids)

    def require_all_applied(self) -> None:
        if self.deferred:
            first = self.deferred[0]
            raise RebuildError(
                f"{len(self.deferred)} stored events do not apply to fresh read models (first: event "
                f"{first.event.event_id}, {first.event.event_type} of {first.event.node}/{first.event.service} "
                f"#{first.event.sequence}: {first.error}); nothing was swapped")

    # -- swap -------------------------------------------------------------------------------------
    def hold_consumer(self, conn: sa.Connection, tables: list[sa.Table]) -> None:
        """Hold back every new application of an event until ``conn`` commits, and empty the live
        read models in that transaction (readers see them whole until the commit)."""
        if not self.sqlite:
            conn.exec_driver_sql(f"LOCK TABLE {messaging.inbox.name} IN EXCLUSIVE MODE")
        # On SQLite the first DELETE takes the database's one write lock (the main database's only:
        # BEGIN IMMEDIATE would lock the attached one too, where the tail is still to be written).
        for table in reversed(tables):  # children first
            conn.execute(sa.delete(table))

    def fill(self, conn: sa.Connection, tables: list[sa.Table]) -> None:
        """Copy the rebuilt rows into the emptied live tables (parents first)."""
        built = sa.MetaData()
        for table in tables:
            copy = table.to_metadata(built, schema=SCHEMA)
            columns = [c.name for c in table.columns]
            conn.execute(sa.insert(table).from_select(columns, sa.select(*(copy.c[c] for c in columns))))
            if not self.sqlite:
                self._reset_serials(conn, table)

    @staticmethod
    def _reset_serials(conn: sa.Connection, table: sa.Table) -> None:
        """Rows came with their ids: the table's id sequence goes on after the highest."""
        for column in table.primary_key.columns:
            if isinstance(column.type, sa.Integer) and column.autoincrement in (True, "auto") \
                    and len(table.primary_key.columns) == 1:
                conn.execute(sa.text(
                    f'SELECT setval(pg_get_serial_sequence(:t, :c), coalesce(max("{column.name}"), 0) + 1, false) '
                    f'FROM "{table.name}"'), {"t": table.name, "c": column.name})


def rebuild(uri: str, *, handlers: Mapping | None = None, on_progress: Callable[[int, int], None] | None = None,
            batch_size: int = BATCH) -> RebuildResult:
    """Rebuild every read model of the hub database at ``uri`` from its event store and swap them
    in (see the module docstring). ``on_progress(done, total)`` is called after every batch.

    Raises :class:`RebuildError` (the live read models untouched) when the store lacks accepted
    events or some stored event does not apply."""
    prepare = prepare_read_models if handlers is None else None
    handlers = READ_MODELS if handlers is None else handlers
    started = time.monotonic()
    tables = read_model_tables(summaries=True)
    job = _Rebuild(uri, handlers, on_progress, batch_size, prepare)
    guard = None
    if not job.sqlite:
        guard = job.engine.connect()
        if not guard.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_LOCK_KEY}).scalar_one():
            guard.close()
            job.engine.dispose()
            raise RebuildError("another rebuild of this database is running")  # its schema is left alone
        guard.commit()
    try:
        job.check_store_covers_inbox()
        job.create_tables()
        job.replay_all()
        meanwhile = job.catch_up()  # what came while the bulk replayed, with the consumer still running
        with job.engine.connect() as conn:
            job.hold_consumer(conn, tables)
            tail = job.catch_up()  # what came since; nothing more can until the commit
            job.require_all_applied()
            job.fill(conn, tables)
            conn.commit()
        log.info("rebuilt %d read-model tables from %d events (%d in the tail)", len(tables), job.applied, tail)
        return RebuildResult(events=job.applied, seconds=time.monotonic() - started, tables=[t.name for t in tables],
                             arrived_meanwhile=meanwhile + tail)
    finally:
        if guard is not None:
            guard.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            guard.close()
        job.drop()
