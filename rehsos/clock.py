"""The one clock: aware UTC datetimes everywhere (stored, sent and compared)."""
from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)
