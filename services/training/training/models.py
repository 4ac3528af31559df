"""Training's tables. So far only its outbox, inbox and quarantine: its domain comes with its issue."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from rehsos.outbox import messaging_tables


class Base(DeclarativeBase):
    metadata = sa.MetaData()


messaging = messaging_tables(Base.metadata)
