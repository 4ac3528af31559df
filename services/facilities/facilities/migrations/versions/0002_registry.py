"""The facility registry: facilities and their units.

Revision ID: facilities_0002
Revises: facilities_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "facilities_0002"
down_revision = "facilities_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "facility",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(16), nullable=False),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("regency", sa.String(4), nullable=False, index=True),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("disability_types", sa.JSON, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("contact_person", sa.String(200), nullable=True),
        sa.Column("contact_phone", sa.String(20), nullable=True),
        sa.Column("contact_email", sa.String(200), nullable=True),
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "facility_unit",
        sa.Column("facility_code", sa.String(64), sa.ForeignKey("facility.code"), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("sex", sa.String(8), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
    )


def downgrade():
    op.drop_table("facility_unit")
    op.drop_table("facility")
