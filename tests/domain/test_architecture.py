"""The layering written in pyproject.toml ([tool.importlinter]) holds: tooling -> services ->
kernel, no service imports another, domains import no transport, no module circles."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " 0 broken" in result.stdout


def test_a_service_process_imports_no_tooling():
    # What `rehsos-serve` loads for a node and for the hub, in a fresh interpreter.
    code = ("import sys, rehsos.serve, rehsos.registry as r\n"
            "[s.load() for s in r.SERVICES]\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('rehsos_tools', 'requests'))\n"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
