"""`rehsos bootstrap` as an operator runs it."""
import subprocess
import sys

import pytest

from rehsos import topology
from rehsos_tools import broker as mq, devrun
from tests.support import MANAGEMENT_URI, namespace as fresh_namespace


def _configs(tmp_path, namespace, management_uri=MANAGEMENT_URI):
    paths, _ = devrun.lay_out(tmp_path, ["6371"], port_base=20000, hub_port=20099, namespace=namespace,
                              management_uri=management_uri)
    return paths.config


def _bootstrap(config_dir):
    return subprocess.run([sys.executable, "-m", "rehsos_tools.cli", "bootstrap", "--config-dir", str(config_dir)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def namespace(broker):
    ns = fresh_namespace()
    yield ns
    mq.teardown(mq.Management(MANAGEMENT_URI), topology.Names(ns), ["6371"])
    devrun.unclaim(ns)


def test_bootstrap_twice_creates_the_topology_once_and_then_changes_nothing(tmp_path, namespace):
    config_dir = _configs(tmp_path, namespace)
    first = _bootstrap(config_dir)
    assert first.returncode == 0, first.stderr
    assert f"shovel {namespace}node-6371/uplink" in first.stdout
    second = _bootstrap(config_dir)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "topology already in place: nothing changed"


def test_bootstrap_says_how_to_enable_the_plugins_when_the_management_api_is_unreachable(tmp_path, namespace):
    result = _bootstrap(_configs(tmp_path, namespace, management_uri="http://guest:guest@127.0.0.1:1"))
    assert result.returncode == 2
    assert "rabbitmq-plugins enable rabbitmq_management rabbitmq_shovel" in result.stderr
