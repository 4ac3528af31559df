"""Persistence shared by the services: engines, the unit of work, and Alembic migrations.

Each service owns its database (SQLite file by default, PostgreSQL when configured: one
database per service) and its migrations, kept in ``<service>/migrations`` (the registry says
where) with a version table of its own (``alembic_version_<service>``), so a migration never
mistakes another's history. The node's token store (``auth``) is the kernel's own.
"""
from __future__ import annotations

import functools
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, make_transient

from rehsos import registry
from rehsos.contracts import Event
from rehsos.outbox import Outbox

log = logging.getLogger(__name__)

AUTH = "auth"  # the token store's database and migrations, part of the kernel


def migration_package(name: str) -> str:
    """The package holding the Alembic env.py and versions/ of ``auth`` or a registered service."""
    return "rehsos.migrations.auth" if name == AUTH else registry.get(name).migrations

_green_patched = False


def _make_psycopg2_green() -> None:
    """psycopg2 blocks the whole eventlet hub unless psycogreen installs its wait callback."""
    global _green_patched
    if _green_patched:
        return
    import eventlet.patcher

    if eventlet.patcher.is_monkey_patched("socket"):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
        _green_patched = True


# How hard SQLite makes each commit durable: FULL (the default) syncs the log to disk at every commit,
# so a power cut at a regency office loses nothing committed. The test suite sets OFF
# (SQLITE_SYNCHRONOUS, tests/conftest.py): its databases are thrown away, a killed process still
# loses nothing (the OS keeps the writes), and a sync blocks the whole eventlet process.
SQLITE_SYNCHRONOUS = {"FULL", "NORMAL", "OFF"}


def create_engine(uri: str) -> Engine:
    """An engine for a service's database. Its errors never carry the statement's values (they
    end up in logs, and a NIK or a name must not)."""
    url = sa.make_url(uri)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        synchronous = os.environ.get("SQLITE_SYNCHRONOUS", "FULL").upper()
        if synchronous not in SQLITE_SYNCHRONOUS:
            raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {sorted(SQLITE_SYNCHRONOUS)}")

        @sa_event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets the relay read while a request writes; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()

        return engine
    if url.get_backend_name() == "postgresql":
        if url.get_driver_name() != "psycopg2":
            # SQLAlchemy 2.1 picks psycopg 3 for plain postgresql:// URIs, and psycopg 3 blocks
            # the whole eventlet process; psycopg2 with psycogreen cooperates.
            url = url.set(drivername="postgresql+psycopg2")
        _make_psycopg2_green()
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=5, hide_parameters=True)
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")


def dialect_insert(dialect: str, table):
    """``INSERT`` of a dialect (``postgresql`` or ``sqlite``), which has ``on_conflict_do_nothing``
    and ``on_conflict_do_update``."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@functools.lru_cache(maxsize=None)
def _upsert(dialect: str, table, keys: tuple[str, ...], index_elements: tuple[str, ...], add: tuple[str, ...],
            returning: tuple[str, ...], unnest: bool):
    if unnest:  # every row in one statement, whatever their number: one array per column
        from sqlalchemy.dialects.postgresql import ARRAY

        # Text arrays without the column's length: an explicit cast to varchar(n) would cut a
        # longer value silently, where the insert into the column refuses it, as a row alone would.
        types = {key: sa.Text() if isinstance(table.c[key].type, sa.String) else table.c[key].type for key in keys}
        arrays = [sa.cast(sa.bindparam(f"rows_{key}", type_=ARRAY(types[key])), ARRAY(types[key])) for key in keys]
        insert = dialect_insert(dialect, table).from_select(list(keys), sa.select(*map(sa.func.unnest, arrays)))
    else:
        insert = dialect_insert(dialect, table)
    if add:
        insert = insert.on_conflict_do_update(index_elements=list(index_elements),
                                              set_={c: table.c[c] + insert.excluded[c] for c in add})
    else:
        insert = insert.on_conflict_do_nothing(index_elements=list(index_elements))
    return insert.returning(*(table.c[c] for c in returning)) if returning else insert


def upsert_rows(session: Session, table, rows: list[dict], index_elements: tuple[str, ...], *,
                add: tuple[str, ...] = (), returning: tuple[str, ...] = ()) -> list:
    """``INSERT`` ``rows`` (dicts with the same keys) into ``table`` ``ON CONFLICT (index_elements)
    DO NOTHING``, or, with ``add``, ``DO UPDATE`` adding those columns to the row there; the rows
    of ``returning``. SQLAlchemy would send such a statement row by row (a round trip each): on
    PostgreSQL the rows go as one array per column in one statement, compiled once whatever their
    number (an upsert's keys must then be unique among them, as a batch's sums are); SQLite, in
    process, takes them as executemany."""
    if not rows:
        return []
    dialect = session.bind.dialect.name
    unnest = dialect == "postgresql" and len(rows) > 1
    keys = tuple(rows[0])
    statement = _upsert(dialect, table, keys, tuple(index_elements), tuple(add), tuple(returning), unnest)
    params = {f"rows_{key}": [row[key] for row in rows] for key in keys} if unnest else rows
    result = session.execute(statement, params)
    return result.all() if returning else []


class UnitOfWork:
    """One database transaction: state changes and their outbox events commit together.

    Use as a context manager; it commits on a clean exit and rolls back on an exception. A unit
    of work made with ``batch=True`` (a consumer applying many events) keeps the work given to
    :meth:`later` (and the rows given to :meth:`insert`) until just before the commit, and does it
    once for all.
    """

    def __init__(self, session_factory: Callable[[], Session], outbox: Outbox,
                 on_commit: Callable[[], None] | None = None, *, batch: bool = False):
        self._session_factory = session_factory
        self._outbox = outbox
        self._on_commit = on_commit
        self.batch = batch
        self.session: Session | None = None

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        self._durable: list = []
        self._later: dict[str, tuple[Callable, dict, int]] = {}
        self._pending: list[tuple[Event, str | None]] = []
        self.emitted: list[Event] = []
        return self

    def later(self, name: str, work: Callable[[Session, list], None], item, key=None, *, rank: int = 0) -> None:
        """Have ``work(session, items)`` done for ``item``: at once, or, in a batch's unit of work,
        once just before the commit for every item given under ``name`` (one work per name, the
        first given; an item of a ``key`` already given is left out). For what nothing in the
        transaction reads back before its end: an insert into an event store, a read model
        derived from rows the transaction has written (recomputed once for all of them). The
        names are done by ``rank``, then in the order first given; a work may give more, to a
        name still waiting (done once, with it) or to one done already (done again)."""
        if not self.batch:
            work(self.session, [item])
            return
        _, items, _ = self._later.setdefault(name, (work, {}, rank))
        items.setdefault(key if key is not None else object(), item)

    def insert(self, name: str, statement, row: dict, key=None) -> None:
        """Insert ``row`` with ``statement`` (an INSERT without values, or a function of the
        session and the rows): see :meth:`later`; a batch sends each statement's rows at once."""
        work = statement if callable(statement) else lambda session, rows: session.execute(statement, rows)
        self.later(name, work, row, key)

    def do_now(self, *names: str) -> None:
        """Do the work waiting under ``names`` now (in a batch): for a handler about to read or
        change what it writes (a renaming reading the keys recorded so far)."""
        for name in names:
            if name in self._later:
                work, items, _ = self._later.pop(name)
                work(self.session, list(items.values()))

    def _do_later(self) -> None:
        while self._later:  # work may give more (a recomputation that inserts rows)
            name = min(self._later, key=lambda n: self._later[n][2])  # the first given of the lowest rank
            work, items, _ = self._later.pop(name)
            work(self.session, list(items.values()))

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                try:
                    self._do_later()
                    self._write_pending()  # last: numbering holds the service counter's lock
                except BaseException:
                    self.session.rollback()
                    self._keep_durable()
                    raise
                self.session.commit()
                if self.emitted and self._on_commit:
                    self._on_commit()
            else:
                self.session.rollback()
                self._keep_durable()
        finally:
            self.session.close()
            self.session = None

    def add_durable(self, obj, on_rollback: Callable[[object], None] | None = None) -> None:
        """Add a record that must be kept even if this transaction fails (an audit entry of a
        refused or failed access): it commits with the rest, or on its own after a rollback,
        first passed to ``on_rollback`` (to mark it as refused, say)."""
        self.session.add(obj)
        self._durable.append((obj, on_rollback))

    def _keep_durable(self) -> None:
        if not self._durable:
            return
        with self._session_factory() as session:
            for obj, on_rollback in self._durable:
                make_transient(obj)
                if on_rollback:
                    on_rollback(obj)
                session.add(obj)
            session.commit()

    def emit(self, event: Event, target: str | None = None) -> None:
        """Queue ``event`` for the outbox of this transaction. It is numbered and written just
        before the commit, after every other change of the transaction is flushed: numbering
        takes the row lock of the service's counter (gap-free sequences), and every transaction
        of the service that emits waits for it, so it is held for the last statement only (one
        for all of the transaction's events, :meth:`Outbox.add_all`) and the commit, not for the
        whole unit of work (issue 14: registrations at 50 clients waited mostly on it).
        Nothing is returned: the event has no number yet. The numbered events are in
        :attr:`emitted` after the commit."""
        self._pending.append((event, target))

    def _write_pending(self) -> None:
        if not self._pending:
            return
        self.session.flush()  # the state changes first, outside the counter's lock
        self.emitted = self._outbox.add_all(self.session, self._pending)
        self._pending = []


def _alembic_config(service: str, uri: str):
    from alembic.config import Config

    script_location = str(resources.files(migration_package(service)))
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    cfg.set_main_option("sqlalchemy.url", uri.replace("%", "%%"))
    cfg.attributes["version_table"] = f"alembic_version_{service}"
    return cfg


def migrate(service: str, uri: str, revision: str = "head") -> None:
    """Apply ``service``'s migrations to the database at ``uri`` (idempotent)."""
    from alembic import command

    url = sa.make_url(uri)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(_alembic_config(service, uri), revision)


def head_revision(service: str) -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(service, "sqlite://")).get_current_head()


def current_revision(service: str, uri: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(uri)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": f"alembic_version_{service}"})
            return ctx.get_current_revision()
    finally:
        engine.dispose()


def services_of(settings) -> tuple[registry.ServiceSpec, ...]:
    """The registered services a node (or the hub) runs."""
    return registry.at(registry.HUB if settings.is_hub else registry.NODE)


def migrate_all(settings) -> list[str]:
    """Apply the token store's and every service's migrations; returns what was migrated."""
    migrate(AUTH, settings.auth_database_uri)
    done = [AUTH]
    for spec in services_of(settings):
        migrate(spec.name, settings.database_uri_for(spec.database))
        done.append(spec.name)
    return done
