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
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # SQLite alters a table by copying it; foreign keys must be off while it does.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()  # end the implicit transaction, or alembic's would nest in it
            context.configure(connection=connection, target_metadata=target_metadata,
                              version_table=version_table, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:5]}")
    finally:
        engine.dispose()
