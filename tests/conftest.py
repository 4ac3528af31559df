"""Shared fixtures. eventlet must patch the standard library before anything else imports it."""
import warnings

warnings.filterwarnings("ignore", message="\nEventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import pytest  # noqa: E402

from rehsos import topology
from rehsos_tools import broker as mq, devrun  # noqa: E402
from tests.support import MANAGEMENT_URI, PostgresDatabases, Province  # noqa: E402


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
    databases.drop_all()


@pytest.fixture
def make_province(broker, tmp_path):
    """Start a province: ``make_province(["6371", "6303"])``; torn down after the test."""
    provinces = []

    def make(nodes, **kwargs):
        province = Province(tmp_path / f"p{len(provinces)}", list(nodes), **kwargs)
        provinces.append(province)
        return province.start()

    yield make
    for province in provinces:
        province.close()
