"""JSON log lines of a service process (rehsos.logs)."""
import json
import logging

from rehsos import logs


def _line(record_args, **extra) -> dict:
    record = logging.LogRecord("rehsos.outbox", logging.WARNING, __file__, 1, *record_args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(logs.JsonFormatter("6371").format(record))


def test_a_line_is_one_json_object_with_time_in_utc_level_logger_message_and_node():
    line = _line(("outbox relay (%s): %d waiting", ("intake", 3)))
    assert line.keys() == {"time", "level", "logger", "message", "node"}
    assert line["time"].endswith("+00:00") and line["level"] == "warning" and line["logger"] == "rehsos.outbox"
    assert (line["message"], line["node"]) == ("outbox relay (intake): 3 waiting", "6371")


def test_the_service_comes_from_the_greenthread_and_extras_ride_along():
    token = logs.current_service.set("facilities")
    try:
        line = _line(("Kasur penuh", None), queue="facilities.downlink", attempts=2)
    finally:
        logs.current_service.reset(token)
    assert line["service"] == "facilities" and line["queue"] == "facilities.downlink" and line["attempts"] == 2
    assert line["message"] == "Kasur penuh"
    assert "service" not in _line(("no worker", None))


def test_text_stays_readable_without_escapes():
    record = logging.LogRecord("rehsos.access", logging.INFO, __file__, 1, "GET /api/v1/cases?… 200", None, None)
    assert "?… 200" in logs.JsonFormatter("6371").format(record)


def test_an_exception_is_kept_as_text_in_the_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = json.loads(logs.JsonFormatter("hub").format(record))
    assert "ValueError: boom" in line["exception"] and line["node"] == "hub"

