"""Shared fixtures and the server markers. eventlet must patch the standard library before anything
else imports it."""
import os
import warnings

# Test databases are thrown away: SQLite need not sync every commit to disk (rehsos.db), which blocks
# the whole eventlet process each time. Set before any engine exists; `rehsos up` children inherit it.
os.environ.setdefault("SQLITE_SYNCHRONOUS", "OFF")

warnings.filterwarnings("ignore", message="\nEventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import socket  # noqa: E402
from pathlib import Path  # noqa: E402

import psycopg2  # noqa: E402
import pytest  # noqa: E402

from rehsos_tools import broker as mq, devrun  # noqa: E402
from tests.support import MANAGEMENT_URI, PostgresDatabases, Province, drop_finished  # noqa: E402

TESTS = Path(__file__).parent
# Every test in these folders talks to RabbitMQ, through a fixture or not.
BROKER_FOLDERS = {"service", "province"}
BROKER_PORTS = {5672, 15672}


def pytest_sessionfinish(session):
    drop_finished()


# pytest-timeout ends the whole process on a timeout (its signal method needs the main thread, which
# eventlet's patched threading never reports) and shows the OS threads' stacks: with -q, nobody
# learns which test hung or where. Just before it fires, this names the test and prints where each
# green thread stands.
_watchdogs: dict[str, object] = {}


def pytest_timeout_set_timer(item, settings):
    if settings.timeout and settings.timeout > 5:
        timer = eventlet.patcher.original("threading").Timer(settings.timeout - 3, _dump_green_threads, (item.nodeid,))
        timer.daemon = True
        timer.start()
        _watchdogs[item.nodeid] = timer
    return None  # pytest-timeout's own timer as well


def pytest_timeout_cancel_timer(item):
    timer = _watchdogs.pop(item.nodeid, None)
    if timer is not None:
        timer.cancel()
    return None


def _dump_green_threads(nodeid: str) -> None:
    import gc
    import traceback

    import greenlet

    lines = [f"\n+++ about to time out: {nodeid}; its green threads:\n"]
    for obj in gc.get_objects():
        if isinstance(obj, greenlet.greenlet) and obj.gr_frame is not None:
            lines.append("--- green thread\n" + "".join(traceback.format_stack(obj.gr_frame)[-12:]))
    os.write(2, "".join(lines).encode(errors="replace"))


def pytest_collection_modifyitems(items):
    """Mark what needs the servers, so that ``-m "not broker and not postgres"`` runs without them.
    ``fixturenames`` is the whole closure: a fixture built on ``broker`` or ``pg`` counts too."""
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0]
        if folder in BROKER_FOLDERS or "broker" in item.fixturenames:
            item.add_marker(pytest.mark.broker)
        if "pg" in item.fixturenames:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _servers_only_when_marked(request, monkeypatch):
    """A test that reaches RabbitMQ or PostgreSQL without its marker fails on every run, not only
    where the servers happen to be down."""
    if not request.node.get_closest_marker("broker"):
        connect = socket.socket.connect

        def connect_unless_broker(sock, address):
            if isinstance(address, tuple) and address[1] in BROKER_PORTS:
                raise AssertionError(f"{request.node.nodeid} reaches RabbitMQ at {address}: mark it broker")
            return connect(sock, address)

        monkeypatch.setattr(socket.socket, "connect", connect_unless_broker)
    if not request.node.get_closest_marker("postgres"):
        def refuse(*args, **kwargs):
            raise AssertionError(f"{request.node.nodeid} reaches PostgreSQL: mark it postgres or use the pg fixture")

        monkeypatch.setattr(psycopg2, "connect", refuse)


@pytest.fixture(scope="session")
def broker():
    """The local RabbitMQ with its management and shovel plugins (enabled here when we may)."""
    try:
        devrun.ensure_management(MANAGEMENT_URI)
    except mq.ManagementUnavailable as exc:
        pytest.fail(f"RabbitMQ management/shovel plugins unavailable: {exc}")
    return mq.Management(MANAGEMENT_URI)


@pytest.fixture
def pg():
    databases = PostgresDatabases()
    yield databases
    databases.finish()


@pytest.fixture
def make_province(broker, tmp_path, pg):
    """Start a province: ``make_province(["6371", "6303"])``; torn down after the test.
    With ``database="postgresql"`` its databases are the test's ``pg`` ones, dropped only after
    the runners have stopped (dropped under running services, each stop waited out its timeout)."""
    provinces = []

    def make(nodes, **kwargs):
        if kwargs.get("database") == "postgresql":
            kwargs.setdefault("pg", pg)
        province = Province(tmp_path / f"p{len(provinces)}", list(nodes), **kwargs)
        provinces.append(province)
        return province.start()

    yield make
    for province in provinces:
        province.close()


@pytest.fixture(scope="module")
def _module_province(broker, tmp_path_factory):
    provinces: list[Province] = []
    by_setup: dict[tuple, Province] = {}
    pg = PostgresDatabases()  # the module's, dropped after its provinces stop

    def make(nodes, **options):
        setup = (tuple(nodes), tuple(sorted(options.items())))
        if setup not in by_setup:
            pg_option = {"pg": pg} if options.get("database") == "postgresql" else {}
            province = Province(tmp_path_factory.mktemp("shared"), list(nodes), **options, **pg_option)
            provinces.append(province)
            by_setup[setup] = province.start()
        return by_setup[setup]

    yield make
    for province in provinces:
        province.close()
    pg.finish()


@pytest.fixture
def shared_province(request, make_province, _module_province):
    """``make_province`` for tests that add their own records and read back only those: the first
    call in a module starts the province, later calls with the same nodes and options get the same
    one, torn down after the module (so not on the pg fixture, which lives for one test). A test
    marked ``own_province`` (it counts every row, needs an empty database...) gets a fresh one."""
    return make_province if request.node.get_closest_marker("own_province") else _module_province
