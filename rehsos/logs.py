"""Log lines of a service process: one JSON object a line (``log_format: json``) or plain text.

A JSON line carries ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``node``, the
``service`` whose worker or relay wrote it where known, and whatever a call passed as ``extra``.
The existing ``log.info("%s ...", x)`` calls keep working: the message is formatted as before.
What goes into a message is the caller's care: no personal values (the access log, for one,
drops query strings).
"""
from __future__ import annotations

import contextvars
import json
import logging
from datetime import datetime, timezone

# The service a greenthread works for: set by its database dependency for every worker and for its
# outbox relay (each greenthread starts with an empty context, so it never leaks into another).
current_service: contextvars.ContextVar[str | None] = contextvars.ContextVar("rehsos_service", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, node: str):
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "node": self.node,
        }
        service = getattr(record, "service", None) or current_service.get()
        if service:
            line["service"] = service
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        # ensure_ascii=False: Indonesian text stays readable (and searchable by the privacy scan).
        return json.dumps(line, ensure_ascii=False, default=str)


class _ServiceInText(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.service_tag = f"[{service}] " if (service := getattr(record, "service", None)
                                                 or current_service.get()) else ""
        return True


def configure(node: str, level: str = "INFO", fmt: str = "json") -> None:
    """Send the process's log records to stderr, as JSON lines or text (replaces any handler)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter(node))
    else:
        handler.addFilter(_ServiceInText())
        handler.setFormatter(logging.Formatter(f"%(asctime)s {node} %(levelname)s %(name)s: %(service_tag)s%(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
