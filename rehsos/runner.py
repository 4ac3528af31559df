"""Running a node or the hub: which services, migrations, and the nameko service runner.

This is the composition root: the only place that names the services of a node and of the hub.
"""
from __future__ import annotations

import importlib
import logging
import signal

from rehsos import db
from rehsos.config import Settings

NODE_SERVICE_CLASSES = ("intake.service:IntakeService", "facilities.service:FacilitiesService",
                        "training.service:TrainingService")
HUB_SERVICE_CLASSES = ("reporting.service:ReportingService",)


def service_names(settings: Settings) -> tuple[str, ...]:
    return db.HUB_SERVICES if settings.is_hub else db.NODE_SERVICES


def service_classes(settings: Settings) -> list[type]:
    result = []
    for dotted in HUB_SERVICE_CLASSES if settings.is_hub else NODE_SERVICE_CLASSES:
        module, _, cls = dotted.partition(":")
        result.append(getattr(importlib.import_module(module), cls))
    return result


def migrate_all(settings: Settings) -> list[str]:
    """Apply the token store's and every service's migrations; returns what was migrated."""
    done = []
    db.migrate("auth", settings.auth_database_uri)
    done.append("auth")
    for service in service_names(settings):
        db.migrate(service, settings.database_uri_for(service))
        done.append(service)
    return done


class _QuietExpectedErrors(logging.Filter):
    """nameko logs a full traceback for every refused request (a 404, a 422); one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("(expected)"):
            record.exc_info = None
        return True


def make_runner(settings: Settings):
    from nameko.runners import ServiceRunner

    runner = ServiceRunner(settings.nameko_config())
    for cls in service_classes(settings):
        runner.add_service(cls)
    return runner


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
            stop.send(signum)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    runner.start()
    log.info("%s serving %s at %s", settings.node, ", ".join(runner.service_names), settings.base_url)
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
