"""On PostgreSQL, a trigram index (pg_trgm, GIN) on the person's name key: the case search's
``name_key LIKE '%text%'`` reads the index instead of every person (issue 14: 1,000,000 persons).
The extension is created here when missing (pg_trgm is a trusted extension: the database's owner
may create it). SQLite keeps its plain scan. Names stay on the node: this is the node's own DB.

Revision ID: intake_0008
Revises: intake_0007
"""
from alembic import op

revision = "intake_0008"
down_revision = "intake_0007"
branch_labels = None
depends_on = None

INDEX = "ix_person_name_key_trgm"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(INDEX, "person", ["name_key"], postgresql_using="gin",
                    postgresql_ops={"name_key": "gin_trgm_ops"})


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="person")  # the extension stays: other objects may use it
