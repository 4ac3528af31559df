"""The body of every service's Alembic ``env.py``: online migrations, own version table."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from rehsos.db import create_engine


def run_migrations(target_metadata: sa.MetaData) -> None:
    config = context.config
    version_table = config.attributes["version_table"]
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata,
                              version_table=version_table, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
