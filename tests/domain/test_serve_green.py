"""A service process stays responsive while its broker is away, and its health check answers.

Found with the compose smoke test (make compose-smoke, issue 15): with the hub's broker container
stopped, the hub's /api/v1/health answered 503 after 10 s, then not within 150 s. Two causes:

- `python -m rehsos.serve` imported kombu (through rehsos.db) before eventlet.monkey_patch(), so
  kombu's connection retries kept the blocking `time.sleep`: every consumer waiting to reconnect
  blocked the whole process a second at a time, longer as the retry intervals grew;
- the broker probe's deadline was a TimeoutError, an OSError, which kombu's retries (and
  dnspython's name server loop) take for one more failed attempt; once swallowed it never fires
  again, and the probe's own retries slept 2 s and more.

Each scenario runs in a fresh interpreter that starts as a service process does, without a broker:
an unresolvable host (a stopped container's name), a closed port, and a "broker" that accepts the
TCP connection and never answers.
"""
import json
import subprocess
import sys
from pathlib import Path

from rehsos import metrics

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = r"""
import json, socket, sys, time
import rehsos.serve as serve           # what `python -m rehsos.serve` imports before main()
serve.green()                          # main's first step
import eventlet, kombu
from rehsos.metrics import BrokerProbe, CHECK_SECONDS

closed = socket.socket(); closed.bind(("127.0.0.1", 0)); closed_port = closed.getsockname()[1]; closed.close()
silent = socket.socket(); silent.bind(("127.0.0.1", 0)); silent.listen(8)   # accepts, never speaks AMQP
silent_port = silent.getsockname()[1]

# A consumer whose broker is away: kombu reconnects forever, sleeping between attempts.
consumer = kombu.Connection(f"amqp://guest:guest@127.0.0.1:{closed_port}//", connect_timeout=1)
eventlet.spawn(consumer.ensure_connection, max_retries=None, interval_start=1, interval_step=1, interval_max=2)

gaps = []
def ticker():
    while True:
        at = time.monotonic(); eventlet.sleep(0.05); gaps.append(time.monotonic() - at - 0.05)
eventlet.spawn(ticker)

took = {}
for name, uri in [("unresolvable", "amqp://guest:guest@broker-gone.invalid:5672//"),
                  ("closed_port", f"amqp://guest:guest@127.0.0.1:{closed_port}//"),
                  ("silent", f"amqp://guest:guest@127.0.0.1:{silent_port}//")]:
    probe = BrokerProbe(uri)
    for i in (1, 2):                   # the second one: nothing left over from the first
        at = time.monotonic()
        try:
            probe.ready_messages(["reporting.events"])
            error = None
        except Exception as exc:
            error = type(exc).__name__
        took[f"{name}_{i}"] = [round(time.monotonic() - at, 3), error]
print(json.dumps({"took": took, "max_stall": round(max(gaps), 3), "check_seconds": CHECK_SECONDS}))
"""


def test_the_service_process_imports_no_io_library_before_patching_green():
    code = "import sys, rehsos.serve as s; print(sorted({m.split('.')[0] for m in sys.modules} & set(s.GREEN_FIRST)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_green_refuses_a_process_whose_io_libraries_came_first():
    code = "import kombu, rehsos.serve as s; s.green()"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "imported before eventlet.monkey_patch(): kombu" in result.stderr


def test_broker_probe_gives_up_promptly_while_consumers_wait_for_their_broker():
    result = subprocess.run([sys.executable, "-c", SCENARIO], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    took = found["took"]
    print(json.dumps(found))
    # Every probe fails, and says so: no broker answers.
    assert all(error for _, error in took.values()), took
    # Refused or unresolvable: one attempt, no retry sleeps (it took 4 s with kombu's retries).
    for name in ("unresolvable_1", "unresolvable_2", "closed_port_1", "closed_port_2"):
        assert took[name][0] < 2.0, took
    # Silent: the deadline holds, and reports a timeout (it hung for good when the deadline was swallowed).
    for name in ("silent_1", "silent_2"):
        assert took[name][1] == "TimeoutError" and took[name][0] < metrics.CHECK_SECONDS + 1.5, took
    # The process never stalled: the consumer's retry sleeps are green (they blocked for 1 s each).
    assert found["max_stall"] < 0.5, found

