"""JSON text from outside (request bodies, broker messages), read with a bound on its nesting.

Python's parser descends one call per level: a 64 KiB body of ``[`` ends in a RecursionError deep
inside the server (a 500 over HTTP, a message the consumer fails on forever). The depth is
measured before parsing, on the text with its strings taken out.
"""
from __future__ import annotations

import json
import re
from typing import Any

# Our deepest documents have 4 levels (an event: envelope, payload, units, unit); room to grow.
MAX_DEPTH = 16
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")


class TooDeep(ValueError):
    """JSON nested deeper than ``MAX_DEPTH``."""


def depth(text: str) -> int:
    level = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            level += 1
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` of UTF-8 text nested at most ``max_depth`` deep; ``TooDeep``, ``ValueError``
    (not JSON) or ``UnicodeDecodeError`` otherwise."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    if depth(text) > max_depth:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text)
