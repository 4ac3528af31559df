"""Referral timelines: request, first answer of each kind, admission and discharge, for response
times, waitlists and the monthly demand for beds.

Revision ID: reporting_0011
Revises: reporting_0010
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0011"
down_revision = "reporting_0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "referral_timeline",
        sa.Column("referral_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False, index=True),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("facility_id", sa.String(64), nullable=False, index=True),
        sa.Column("facility_node", sa.String(8), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("person_key", sa.String(64), nullable=True),
        *(sa.Column(f"{step}_at", sa.DateTime(timezone=True), nullable=True)
          for step in ("requested", "accepted", "rejected", "waitlisted", "admitted", "discharged")),
    )
    # Timelines of referrals already applied are rebuilt by replaying the event store (`rehsos hub
    # rebuild`); until then the figures start from the referrals that arrive after this migration.


def downgrade():
    op.drop_table("referral_timeline")
