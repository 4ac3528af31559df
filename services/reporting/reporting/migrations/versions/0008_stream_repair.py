"""Gap repair: the gaps last seen per node stream and the hub's requests to resend them.

Revision ID: reporting_0008
Revises: reporting_0007
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0008"
down_revision = "reporting_0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "stream_repair",
        sa.Column("node", sa.String(8), primary_key=True),
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("seen_ranges", sa.JSON, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_ranges", sa.JSON, nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requests", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade():
    op.drop_table("stream_repair")
