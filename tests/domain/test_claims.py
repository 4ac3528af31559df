"""What test processes hold on the shared servers and ports is claimed across processes
(rehsos_tools.devrun): a port base, a province's broker namespace, a set of test databases. The
sweep of leftovers removes only what no living process holds."""
import subprocess
import sys

import pytest

from rehsos_tools import devrun, testrun


@pytest.fixture(autouse=True)
def claims(tmp_path, monkeypatch):
    monkeypatch.setattr(devrun, "CLAIMS", tmp_path)
    return tmp_path


def ended_pid() -> str:
    return subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()


def test_a_reserved_base_is_not_given_twice_until_released(monkeypatch):
    monkeypatch.setattr(devrun, "_port_free", lambda port: True)
    monkeypatch.setattr(devrun.random, "randrange", lambda *args: 12300)
    base, hub = devrun.free_port_base(["6371"])
    assert (base, hub) == (12300, 12399)
    assert not devrun.claim("port-12300")  # held by this very process
    devrun.release_port_base(12300)
    assert devrun.claim("port-12300")


def test_a_name_left_by_a_process_that_ended_is_taken_back(claims):
    (claims / "port-15000").write_text(ended_pid())
    assert "port-15000" not in devrun.claimed()
    assert devrun.claim("port-15000")
    assert "port-15000" in devrun.claimed()


def test_a_name_being_written_by_its_holder_counts_as_taken(claims):
    (claims / "port-16000").write_text("")
    assert not devrun.claim("port-16000")
    assert "port-16000" in devrun.claimed()


def test_only_another_process_s_claim_can_be_released_by_it(claims):
    (claims / "t0badc0de-").write_text(ended_pid())
    devrun.unclaim("t0badc0de-")
    assert (claims / "t0badc0de-").exists()


@pytest.mark.parametrize("name,owner", [
    ("t1a2b3c4d-hub", "t1a2b3c4d-"), ("t1a2b3c4d-node-6371", "t1a2b3c4d-"),
    ("rehsos_test_0123456789", "rehsos_test_0123456789"),
    ("rehsos_test_0123456789_intake", "rehsos_test_0123456789"),
    ("rehsos_test_0123456789abc", None), ("hub", None), ("rehsos_demo", None)])
def test_a_leftover_is_known_by_the_claim_its_name_starts_with(name, owner):
    assert testrun.owner(name) == owner
