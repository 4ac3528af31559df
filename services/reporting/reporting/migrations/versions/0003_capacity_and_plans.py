"""Beds and planned centres beside demand: the newest capacity snapshot per facility, the newest
state of each planned centre, and whether a case is still open.

Revision ID: reporting_0003
Revises: reporting_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0003"
down_revision = "reporting_0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("registered_case") as batch:
        batch.add_column(sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "facility_capacity",
        sa.Column("facility_id", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("regency", sa.String(4), nullable=False, index=True),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("units", sa.JSON, nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "centre_plan",
        sa.Column("plan_id", sa.String(36), primary_key=True),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("regency", sa.String(4), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("planned_capacity", sa.Integer, nullable=False),
        sa.Column("target_year", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("centre_plan")
    op.drop_table("facility_capacity")
    with op.batch_alter_table("registered_case") as batch:
        batch.drop_column("closed")
