"""Planned rehabilitation centres per regency.

Revision ID: facilities_0005
Revises: facilities_0004
"""
import sqlalchemy as sa
from alembic import op

revision = "facilities_0005"
down_revision = "facilities_0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "centre_plan",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("regency", sa.String(4), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("planned_capacity", sa.Integer, nullable=False),
        sa.Column("target_year", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade():
    op.drop_table("centre_plan")
