"""Refused access attempts (403), for the node's audit trail.

Revision ID: auth_0002
Revises: auth_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "access_denial",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("token_id", sa.Integer, nullable=True),
        sa.Column("token_node", sa.String(8), nullable=True),
        sa.Column("role", sa.String(32), nullable=True),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
    )


def downgrade():
    op.drop_table("access_denial")
