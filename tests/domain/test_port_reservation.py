"""Port bases for test provinces are reserved across processes (rehsos_tools.devrun)."""
import subprocess
import sys

from rehsos_tools import devrun


def test_a_reserved_base_is_not_given_twice_until_released(tmp_path, monkeypatch):
    monkeypatch.setattr(devrun, "PORT_RESERVATIONS", tmp_path)
    monkeypatch.setattr(devrun, "_port_free", lambda port: True)
    monkeypatch.setattr(devrun.random, "randrange", lambda *args: 12300)
    base, hub = devrun.free_port_base(["6371"])
    assert (base, hub) == (12300, 12399)
    assert not devrun._reserve(12300)  # held by this very process
    devrun.release_port_base(12300)
    assert devrun._reserve(12300)


def test_a_base_left_by_a_process_that_ended_is_taken_back(tmp_path, monkeypatch):
    monkeypatch.setattr(devrun, "PORT_RESERVATIONS", tmp_path)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "15000").write_text(ended.stdout.strip())
    assert devrun._reserve(15000)
    assert (tmp_path / "15000").read_text() != ended.stdout.strip()


def test_a_base_being_written_by_its_holder_counts_as_taken(tmp_path, monkeypatch):
    monkeypatch.setattr(devrun, "PORT_RESERVATIONS", tmp_path)
    (tmp_path / "16000").write_text("")
    assert not devrun._reserve(16000)
