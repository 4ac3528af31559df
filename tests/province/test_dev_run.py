"""`rehsos up` as a developer runs it: real processes, real broker, then Ctrl-C."""
import json
import re
import signal
import sqlite3
import subprocess
import sys

import pytest
import requests
import yaml

from rehsos import auth, reference, topology
from rehsos.db import create_engine
from rehsos_tools import broker as mq
from rehsos_tools import devrun
from tests.support import MANAGEMENT_URI, namespace as test_namespace, wait_until

NODES = ["63", "6371"]


@pytest.fixture
def run_dir(tmp_path, broker):
    ns = test_namespace()
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


def test_up_starts_hub_and_nodes_with_demo_data_and_writes_the_topology_file(run_dir):
    # 30 demo cases per node rather than `make run`'s 100: the same seeding, a third of the CPU.
    cmd, cwd, port_base, hub_port = _up(run_dir, "--check", "--demo-cases", "30")
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads((cwd / "var/run/topology.json").read_text())
    assert doc["hub"]["base_url"] == f"http://127.0.0.1:{hub_port}"
    assert set(doc["hub"]["tokens"]) == {"analyst", "admin"}
    assert set(doc["nodes"]) == set(NODES)
    assert doc["nodes"]["6371"]["base_url"] == f"http://127.0.0.1:{port_base + 71}"
    assert set(doc["nodes"]["6371"]["tokens"]) == {"operator", "supervisor", "facility_manager", "trainer", "admin"}
    # Each demo account also has a password for the pages, beside its token, and the run says so.
    assert set(doc["nodes"]["6371"]["passwords"]) == set(doc["nodes"]["6371"]["tokens"])
    assert "user name and password" in result.stdout and "passwords" in result.stdout
    configs = {p.stem: yaml.safe_load(p.read_text()) for p in (cwd / "var/run/config").glob("*.yaml")}
    for key, entry, role in (("hub", doc["hub"], "analyst"), ("node-6371", doc["nodes"]["6371"], "operator")):
        store = auth.TokenStore(create_engine(configs[key]["auth_database_uri"]))
        account = entry["passwords"][role]
        assert account["user"] == f"demo.{role}"
        assert store.authenticate_password(account["user"], account["password"], configs[key]["node"]) == \
            store.lookup(entry["tokens"][role])
        store.engine.dispose()
    seeded = int(re.search(r"(\d+) demo cases registered", result.stdout).group(1))
    assert seeded >= 56  # thirty per node, a few generated NIKs may repeat
    assert f"hub counts {seeded} cases" in result.stdout  # every demo case arrived at the hub
    assert {p.name for p in (cwd / "var/log").iterdir()} == {"hub.log", "63.log", "6371.log"}
    assert all(c["dev_mode"] is True for c in configs.values())  # a development province, said so
    assert "person_key_secret" not in configs["hub"]  # only the nodes hold the province's key
    assert configs["node-63"]["person_key_secret"] == configs["node-6371"]["person_key_secret"]
    with sqlite3.connect(cwd / "var/data/63/facilities.sqlite") as db:
        codes = {row[0] for row in db.execute("SELECT code FROM facility WHERE demo")}
        referrals = db.execute("SELECT referring_node, status FROM referral_request").fetchall()
        plans = db.execute("SELECT status FROM centre_plan").fetchall()
    assert codes == {"prsts-barakat-cangkal-bacari", "prspdnf-fajar-harapan"}  # demo panti of the province
    # Node 6371 referred some of its cases to the provincial panti, through the hub; 63 answered them.
    assert len(referrals) == 4 and {node for node, _ in referrals} == {"6371"}
    assert sorted(status for _, status in referrals) == ["accepted", "accepted", "admitted", "admitted"]
    assert "node 63 answered 4 of 4 demo referrals" in result.stdout
    assert sorted(status for (status,) in plans) == ["dibangun", "disetujui", "usulan"]


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
