"""Referrals received by this node's facilities.

Revision ID: facilities_0003
Revises: facilities_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "facilities_0003"
down_revision = "facilities_0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "referral_request",
        sa.Column("referral_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("referring_node", sa.String(8), nullable=False, index=True),
        sa.Column("facility_code", sa.String(64), sa.ForeignKey("facility.code"), nullable=True, index=True),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("sex", sa.String(8), nullable=False),
        sa.Column("age_band", sa.String(8), nullable=False),
        sa.Column("consent_override", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("unit_name", sa.String(100), nullable=True),
        sa.Column("reserved_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("admitted_on", sa.Date, nullable=True),
        sa.Column("discharged_on", sa.Date, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
    )


def downgrade():
    op.drop_table("referral_request")
