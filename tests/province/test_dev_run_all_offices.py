"""`make run NODES=all`: the launcher with all fourteen offices and demo data, run once for the
module: what it writes (topology file, accounts, configs, logs) and what its demo did (cases at the
hub, every regency's referrals answered within the provincial panti's beds). Fifteen service
processes at once: it ran alone (``pytest.mark.solo``) while the broker could open only 1024 files,
and runs among the other files since ``devrun.ensure_management`` raises that limit."""
import json
import re
import sqlite3
import subprocess

import pytest
import yaml

from rehsos import auth, reference, topology
from rehsos.db import create_engine
from rehsos_tools import broker as mq, demo, devrun
from tests.province.test_dev_run import _rows, _up
from tests.support import MANAGEMENT_URI, namespace as fresh_namespace

# 30 cases per node are enough for every regency's referrals (6302 needs 27): about 70 s on 2
# cores, against 3.5 minutes with `make run`'s 100.
CASES_PER_NODE = 30
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def launched(broker, tmp_path_factory):
    """`rehsos up --nodes all --check` run once: (its result, folder, port base, hub port)."""
    cwd, ns = tmp_path_factory.mktemp("all-offices"), fresh_namespace()
    try:
        cmd, _, port_base, hub_port = _up((cwd, ns), "--check", "--demo-cases", str(CASES_PER_NODE), nodes="all")
        result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=540)
        assert result.returncode == 0, result.stdout + result.stderr
        yield result, cwd, port_base, hub_port
    finally:
        mq.teardown(mq.Management(MANAGEMENT_URI), topology.Names(ns), list(reference.NODES))
        devrun.unclaim(ns)


def test_up_writes_the_topology_file_accounts_configs_and_logs_of_every_office(launched):
    result, cwd, port_base, hub_port = launched
    doc = json.loads((cwd / "var/run/topology.json").read_text())
    assert doc["hub"]["base_url"] == f"http://127.0.0.1:{hub_port}"
    assert set(doc["hub"]["tokens"]) == {"analyst", "admin"}
    assert set(doc["nodes"]) == set(reference.NODES)
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
    assert {p.name for p in (cwd / "var/log").iterdir()} == {"hub.log"} | {f"{n}.log" for n in reference.NODES}
    assert all(c["dev_mode"] is True for c in configs.values())  # a development province, said so
    assert "person_key_secret" not in configs["hub"]  # only the nodes hold the province's key
    assert len({configs[f"node-{n}"]["person_key_secret"] for n in reference.NODES}) == 1
    with sqlite3.connect(cwd / "var/data/63/facilities.sqlite") as db:
        codes = {row[0] for row in db.execute("SELECT code FROM facility WHERE demo")}
        plans = db.execute("SELECT status FROM centre_plan").fetchall()
    assert codes == {"prsts-barakat-cangkal-bacari", "prspdnf-fajar-harapan"}  # demo panti of the province
    assert sorted(status for (status,) in plans) == ["dibangun", "disetujui", "usulan"]


def test_up_with_all_fourteen_offices_answers_every_referral_within_the_beds(launched):
    # `make run NODES=all`: 13 regencies refer to the provincial panti, more women than its female
    # ward holds (this stopped the run with 409 no_free_bed).
    result, cwd, _, _ = launched
    data = cwd / "var/data"
    registered = {node: _rows(data / node / "intake.sqlite", "SELECT count(*) FROM \"case\"")[0][0]
                  for node in reference.NODES}
    assert all(count >= CASES_PER_NODE - 2 for count in registered.values()), registered  # a NIK may repeat
    seeded = sum(registered.values())
    assert int(re.search(r"(\d+) demo cases registered", result.stdout).group(1)) == seeded
    assert f"hub counts {seeded} cases" in result.stdout  # every demo case arrived at the hub
    assert dict(_rows(data / "hub/reporting.sqlite", "SELECT node, count(*) FROM registered_case GROUP BY node")) \
        == registered

    panti, facilities_db = demo.PROVINCIAL_PANTI["code"], data / "63/facilities.sqlite"
    referrals = _rows(facilities_db, "SELECT referring_node, sex, status, unit_name FROM referral_request "
                                     f"WHERE facility_code = '{panti}'")
    regencies = set(reference.NODES) - {reference.PROVINCE}
    assert len(referrals) == demo.REFERRALS_PER_NODE * len(regencies)
    assert {node for node, *_ in referrals} == regencies
    assert {status for _, _, status, _ in referrals} == {"accepted", "admitted", "waitlisted"}  # none 'requested'
    capacity = {unit: (sex, beds) for unit, sex, beds in _rows(
        facilities_db, f"SELECT name, sex, capacity FROM facility_unit WHERE facility_code = '{panti}'")}
    taken = {unit: sum(1 for *_, status, u in referrals if u == unit and status in ("accepted", "admitted"))
             for unit in capacity}
    assert all(taken[unit] <= beds for unit, (_, beds) in capacity.items()), taken
    full = {sex for unit, (sex, beds) in capacity.items() if taken[unit] == beds}
    # Only a person whose ward is full waits; and in this data at least one does.
    assert {sex for _, sex, status, _ in referrals if status == "waitlisted"} == full == {"female"}
    assert f"node 63 answered {len(referrals)} of {len(referrals)} demo referrals" in result.stdout
