"""`rehsos up` as a developer runs it: real processes, real broker, then Ctrl-C. What the launcher
writes and seeds is checked on its run with all fourteen offices (test_dev_run_all_offices.py)."""
import signal
import sqlite3
import subprocess
import sys

import pytest
import requests

from rehsos import reference, topology
from rehsos_tools import broker as mq
from rehsos_tools import devrun
from tests.support import MANAGEMENT_URI, namespace as fresh_namespace, wait_until

NODES = ["63", "6371"]


@pytest.fixture
def run_dir(tmp_path, broker):
    ns = fresh_namespace()
    yield tmp_path, ns
    # Every node's vhost and user, whichever the test started (absent ones are skipped).
    mq.teardown(mq.Management(MANAGEMENT_URI), topology.Names(ns), list(reference.NODES))
    devrun.unclaim(ns)


def _up(run_dir, *extra, nodes=",".join(NODES)):
    cwd, namespace = run_dir
    port_base, hub_port = devrun.free_port_base(devrun.parse_nodes(nodes))
    cmd = [sys.executable, "-m", "rehsos_tools.cli", "up", "--nodes", nodes, "--port-base", str(port_base),
           "--hub-port", str(hub_port), "--namespace", namespace, *extra]
    return cmd, cwd, port_base, hub_port


def _rows(path, query):
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


def test_up_with_one_regency_and_no_province_seeds_no_referrals(run_dir):
    cmd, cwd, _, _ = _up(run_dir, "--check", "--demo-cases", "10", nodes="6303")
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=110)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 demo cases registered" in result.stdout and "hub counts 10 cases" in result.stdout
    # Nobody would answer a referral to the provincial panti: the demo makes none.
    assert _rows(cwd / "var/data/6303/intake.sqlite", "SELECT count(*) FROM referral") == [(0,)]
    assert "demo referrals" not in result.stdout


def test_ctrl_c_stops_every_process_cleanly(run_dir):
    cmd, cwd, port_base, hub_port = _up(run_dir, "--no-demo")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: (cwd / "var/run/topology.json").exists(), timeout=120, interval=0.5, message="started")
        assert requests.get(f"http://127.0.0.1:{hub_port}/api/v1/health", timeout=5).ok
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "rehsos: stopped" in out
    for port in (hub_port, port_base, port_base + 71):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
    for log in ("hub.log", "63.log", "6371.log"):
        assert "stopped" in (cwd / "var/log" / log).read_text()
