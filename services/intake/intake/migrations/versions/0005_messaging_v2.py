"""Messaging tables, second revision: a relay lease, unroutable events set aside, dead letters kept
for redrive and refused bodies kept as a digest (rehsos.outbox.upgrade_messaging_tables_v2).

Revision ID: intake_0005
Revises: intake_0004
"""
from alembic import op

from rehsos.outbox import upgrade_messaging_tables_v2

revision = "intake_0005"
down_revision = "intake_0004"
branch_labels = None
depends_on = None


def upgrade():
    upgrade_messaging_tables_v2(op, "intake")


def downgrade():
    raise NotImplementedError("messaging tables are not downgraded: restore a backup instead")
