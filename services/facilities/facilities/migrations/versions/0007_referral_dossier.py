"""Referral dossiers, sealed for this node, and the audit log of who read or deleted them.

Revision ID: facilities_0007
Revises: facilities_0006
"""
import sqlalchemy as sa
from alembic import op

revision = "facilities_0007"
down_revision = "facilities_0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "referral_dossier",
        sa.Column("referral_id", sa.String(36), primary_key=True),
        sa.Column("referring_node", sa.String(8), nullable=False),
        sa.Column("sealed", sa.Text, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_reason", sa.String(32), nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor", sa.String(255), nullable=False, index=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False, index=True),
        sa.Column("purpose", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
    )


def downgrade():
    op.drop_table("audit_log")
    op.drop_table("referral_dossier")
