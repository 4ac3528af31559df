"""A refused referral's reason as a code (what ``referral.rejected`` v2 sends); ``reason`` stays
the panti's own note, kept at this node.

Revision ID: facilities_0008
Revises: facilities_0007
"""
import sqlalchemy as sa
from alembic import op

revision = "facilities_0008"
down_revision = "facilities_0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("referral_request") as batch:
        batch.add_column(sa.Column("reason_code", sa.String(32), nullable=True))
    # Refusals before this revision: the automatic ones are known by their status; a manager's
    # typed reason is "other" (its text stays here as the note).
    op.execute("UPDATE referral_request SET reason_code = CASE WHEN status = 'expired' THEN 'reservation_expired' "
               "WHEN facility_code IS NULL THEN 'unknown_facility' ELSE 'other' END "
               "WHERE status IN ('rejected', 'expired')")


def downgrade():
    with op.batch_alter_table("referral_request") as batch:
        batch.drop_column("reason_code")
