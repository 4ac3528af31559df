"""Registered cases (pseudonymous) and reporting's inbox, quarantine and outbox.

Revision ID: reporting_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from rehsos.outbox import create_messaging_tables_v1

revision = "reporting_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "registered_case",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("node", sa.String(8), nullable=False, index=True),
        sa.Column("region", sa.String(4), nullable=False, index=True),
        sa.Column("category", sa.String(64), nullable=False, index=True),
        sa.Column("sex", sa.String(8), nullable=False),
        sa.Column("age_band", sa.String(8), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False, index=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    )
    create_messaging_tables_v1(op, "reporting")


def downgrade():
    for table in ("registered_case", "quarantine", "inbox", "outbox_sequence", "outbox"):
        op.drop_table(table)
