"""A node's (or the hub's) service process: ``rehsos-serve --config FILE`` (or ``python -m rehsos.serve``).

It runs the registered services of its site with nameko until SIGINT/SIGTERM. It is part of
the kernel so that a service process imports nothing of the tooling.

This module imports only the standard library and ``rehsos.config``/``rehsos.logs`` (which import
no I/O library) at its top: ``main`` patches the process green (:func:`green`) before anything
else is imported. A library imported earlier keeps the blocking functions it bound by name: kombu's
``from time import sleep`` then blocks the whole process for a second at a time while a consumer
waits to reconnect to an absent broker, and the health check of a hub whose broker was stopped
took 10 s, 111 s, then no answer (``tests/domain/test_serve_green.py``).
"""
from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys

from rehsos import config, logs
from rehsos.config import Settings

# Imported before the patch, these would keep blocking functions (see the module's docstring).
GREEN_FIRST = ("kombu", "amqp", "nameko", "sqlalchemy", "psycopg2", "dns", "requests", "urllib3")


class _QuietExpectedErrors(logging.Filter):
    """nameko logs a full traceback for every refused request (a 404, a 422); one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("(expected)"):
            record.exc_info = None
        return True


def green() -> None:
    """Patch the process green (sockets, sleep, threads, psycopg2) and turn off eventlet's DNS
    cache; first thing in a service process. Refuses when an I/O library was imported unpatched."""
    early = sorted({name.split(".")[0] for name in sys.modules} & set(GREEN_FIRST))
    import warnings

    warnings.filterwarnings("ignore", message="\nEventlet is deprecated")
    import eventlet
    import eventlet.patcher

    if not eventlet.patcher.is_monkey_patched("time"):  # patched already (a test process): nothing to fear
        if early:
            raise RuntimeError(f"imported before eventlet.monkey_patch(): {', '.join(early)}; they would "
                               "block the whole process (see rehsos.serve's docstring)")
        eventlet.monkey_patch()
    resolve_afresh()


def make_runner(settings: Settings):
    from nameko.runners import ServiceRunner

    from rehsos import db

    settings.require_servable()
    runner = ServiceRunner(settings.nameko_config())
    for spec in db.services_of(settings):
        runner.add_service(spec.load())
    return runner


STOP_DEADLINE = 25.0


def serve(settings: Settings) -> None:
    """Run the node's (or hub's) services until SIGINT/SIGTERM, then stop them gracefully.

    The caller must have called ``eventlet.monkey_patch()`` before importing anything else.
    """
    import eventlet

    log = logging.getLogger("rehsos")
    logging.getLogger("nameko.containers").addFilter(_QuietExpectedErrors())
    runner = make_runner(settings)
    stop = eventlet.event.Event()

    def _on_signal(signum, _frame):
        if not stop.ready():
            # The process ends within STOP_DEADLINE whatever happens (a container's grace is 30 s).
            # With its broker and database gone at once (a compose `down`), the stop below waits on
            # consumers that retry forever and on libpq's blocking host lookups, which no eventlet
            # timeout interrupts; faulthandler's watchdog thread does, and dumps the stacks first.
            # Nothing is lost: the outbox keeps unsent events, unacked messages are redelivered.
            faulthandler.dump_traceback_later(STOP_DEADLINE, exit=True)
            stop.send(signum)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    runner.start()
    log.info("%s serving %s at %s", settings.node, ", ".join(runner.service_names), settings.base_url)
    if not settings.is_hub and (problem := settings.dossier_problem()):
        log.warning("%s", problem)
    waiter = eventlet.spawn(runner.wait)
    while not stop.ready() and not waiter.dead:
        eventlet.sleep(0.2)
    log.info("%s stopping", settings.node)
    with eventlet.Timeout(20, False):
        runner.stop()
        log.info("%s stopped", settings.node)
        return
    log.warning("%s did not stop within 20s; killing", settings.node)
    runner.kill()


def resolve_afresh() -> None:
    """Turn off eventlet's DNS cache. It keeps an answer for its TTL, and container DNS answers
    with long ones (podman's aardvark-dns: a day): a broker or database container that restarts
    with a new address would stay unreachable for that long. Each connection now asks again."""
    from eventlet.support import greendns

    try:
        greendns.resolver._resolver.cache = None
    except Exception:  # no resolver configuration at all: nothing is cached either
        pass


def main(argv: list[str] | None = None) -> int:
    # Green sockets, sleep, threads and psycopg2 must be in place before anything imports them.
    green()
    from rehsos import db
    parser = argparse.ArgumentParser(prog="rehsos-serve", description="Run the services of one node or the hub")
    parser.add_argument("--config", help="the node's or hub's YAML file (default: $REHSOS_CONFIG)")
    parser.add_argument("--migrate", action="store_true", help="apply migrations before starting")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = config.load(args.config)
        settings.require_servable()
    except config.ConfigError as exc:
        print(f"rehsos-serve: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.node, settings.log_level, settings.log_format)
    if settings.is_dev_secret:
        logging.getLogger("rehsos").warning("dev_mode: person_key_secret is the public development key")
    if args.migrate:
        db.migrate_all(settings)
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
