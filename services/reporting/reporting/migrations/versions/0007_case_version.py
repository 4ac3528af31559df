"""A version per case at the hub: the sequence of the event that last changed it.

Revision ID: reporting_0007
Revises: reporting_0006
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0007"
down_revision = "reporting_0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("registered_case") as batch:
        batch.add_column(sa.Column("version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("registered_case") as batch:
        batch.drop_column("version")
