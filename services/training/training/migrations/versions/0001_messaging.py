"""Training's outbox, inbox and quarantine.

Revision ID: training_0001
Revises:
"""
from alembic import op

from rehsos.outbox import create_messaging_tables_v1

revision = "training_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_messaging_tables_v1(op, "training")


def downgrade():
    for table in ("quarantine", "inbox", "outbox_sequence", "outbox"):
        op.drop_table(table)
