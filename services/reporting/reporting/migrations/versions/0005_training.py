"""The hub's view of training events: as announced, with counts by regency and role.

Revision ID: reporting_0005
Revises: reporting_0004
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0005"
down_revision = "reporting_0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "training_record",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.Column("title", sa.String(300), nullable=True),
        sa.Column("theme", sa.String(300), nullable=True),
        sa.Column("start_date", sa.Date, nullable=True),
        sa.Column("end_date", sa.Date, nullable=True),
        sa.Column("quota", sa.Integer, nullable=True),
        sa.Column("topics", sa.JSON, nullable=True),
        sa.Column("demo", sa.Boolean, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("announced_as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("days", sa.Integer, nullable=True),
        sa.Column("cells", sa.JSON, nullable=True),
        sa.Column("counted_as_of", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade():
    op.drop_table("training_record")
