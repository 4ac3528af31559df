"""A service process of a benchmark's province: the hub or a node run as deployed
(``python -m rehsos.serve``), on the province's databases, so that its CPU and peak RSS are its
own and not the benchmark's. Not a test fixture: benchmarks only."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

HEALTH = "/api/v1/health"


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM) in MiB, while it runs (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class ServiceProcess:
    def __init__(self, province, name: str, log_suffix: str = "", profile: Path | None = None, **env: str):
        """``profile``: run it under cProfile (``profiled.py``), its statistics written there."""
        self.province, self.name, self.profile = province, name, profile
        settings = province.settings[name]
        stem = "hub" if name == "hub" else f"node-{name}"
        self.config = province.paths.config / f"{stem}.yaml"
        # The province's settings as the harness changed them: its databases (PostgreSQL).
        self.env = {**os.environ, "REHSOS_DATABASE_URI": settings.database_uri, "REHSOS_LOG_LEVEL": "WARNING",
                    **env}
        self.log = province.paths.log / f"bench-{stem}{log_suffix}.log"
        self.process: subprocess.Popen | None = None
        self.peak_rss_mb: float | None = None

    def start(self, timeout: float = 60) -> "ServiceProcess":
        with self.log.open("ab") as log:
            serve = ([str(Path(__file__).with_name("profiled.py")), str(self.profile)] if self.profile else ["-m"]) + [
                "rehsos.serve", "--config", str(self.config)]
            self.process = subprocess.Popen([sys.executable, *serve],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} ended with {self.process.returncode}: see {self.log}")
            try:
                if requests.get(self.province.url(self.name, HEALTH), timeout=2).status_code < 500:
                    # Another process on the port may have answered: this one must still run.
                    time.sleep(2)
                    if self.process.poll() is not None:
                        raise RuntimeError(f"{self.name} ended with {self.process.returncode}: see {self.log}")
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer within {timeout}s: see {self.log}")
            time.sleep(0.2)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_now(self) -> float | None:
        return peak_rss_mb(self.pid) if self.process and self.process.poll() is None else self.peak_rss_mb

    def stop(self) -> float | None:
        """Stop it (SIGTERM, as a container would); returns its peak RSS in MiB."""
        if self.process is None or self.process.poll() is not None:
            return self.peak_rss_mb
        self.peak_rss_mb = peak_rss_mb(self.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.peak_rss_mb


def remove(province, pg) -> None:
    """A benchmark's province gone: its runners, vhosts and users, databases and folder."""
    province.close()
    pg.drop_all()
    shutil.rmtree(province.root, ignore_errors=True)
