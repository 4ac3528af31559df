"""Waiting for something to become true, for the tools and the tests alike."""
from __future__ import annotations

import time


def wait_until(predicate, timeout: float, interval: float = 0.5, message: str = "condition", *,
               sleep=time.sleep, tolerate: tuple[type[BaseException], ...] = (), error=TimeoutError):
    """What ``predicate()`` returns once it is true; ``error`` after ``timeout`` seconds. An
    exception of a ``tolerate``d type counts as "not yet" (a service still starting), and the
    last answer is named in the error. ``sleep`` is ``eventlet.sleep`` inside a green program."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except tolerate as exc:
            last = exc
        if time.monotonic() > deadline:
            raise error(f"timed out after {timeout:.0f}s waiting for {message} (last: {last!r})")
        sleep(interval)
