"""The province-wide capacity directory (last snapshot per facility).

Revision ID: facilities_0004
Revises: facilities_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "facilities_0004"
down_revision = "facilities_0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "capacity_directory",
        sa.Column("facility_id", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("regency", sa.String(4), nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("disability_types", sa.JSON, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("units", sa.JSON, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("capacity_directory")
