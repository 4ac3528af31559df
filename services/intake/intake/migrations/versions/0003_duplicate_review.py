"""Decisions on likely duplicates (dismissed or merged).

Revision ID: intake_0003
Revises: intake_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0003"
down_revision = "intake_0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "duplicate_review",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(36), sa.ForeignKey("person.id"), nullable=False, index=True),
        sa.Column("other_id", sa.String(36), sa.ForeignKey("person.id"), nullable=False, index=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(255), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("duplicate_review")
