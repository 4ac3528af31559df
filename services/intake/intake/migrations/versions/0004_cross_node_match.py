"""Persons the hub found registered at other nodes too.

Revision ID: intake_0004
Revises: intake_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "intake_0004"
down_revision = "intake_0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cross_node_match",
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("nodes", sa.JSON, nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("cross_node_match")
