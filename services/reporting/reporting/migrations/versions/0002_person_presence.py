"""Person keys seen per node, to tell nodes when one person is registered at several.

Revision ID: reporting_0002
Revises: reporting_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0002"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "person_presence",
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(8), primary_key=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    )
    # Cases already counted tell where their persons are.
    op.execute("INSERT INTO person_presence (person_key, node, first_seen) "
               "SELECT person_key, node, min(registered_at) FROM registered_case GROUP BY person_key, node")


def downgrade():
    op.drop_table("person_presence")
