"""Referrals on their way to a panti: the hub follows each referral from request to admission, so
planning can see cases waiting for a bed per regency.

Revision ID: reporting_0004
Revises: reporting_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0004"
down_revision = "reporting_0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "referral_status",
        sa.Column("referral_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False, index=True),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("facility_id", sa.String(64), nullable=False),
        sa.Column("facility_node", sa.String(8), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("referral_status")
