"""Messaging tables, second revision: a relay lease, unroutable events set aside, dead letters kept
for redrive and refused bodies kept as a digest (rehsos.outbox.upgrade_messaging_tables_v2).

Revision ID: training_0003
Revises: training_0002
"""
from alembic import op

from rehsos.outbox import upgrade_messaging_tables_v2

revision = "training_0003"
down_revision = "training_0002"
branch_labels = None
depends_on = None


def upgrade():
    upgrade_messaging_tables_v2(op, "training")


def downgrade():
    raise NotImplementedError("messaging tables are not downgraded: restore a backup instead")
