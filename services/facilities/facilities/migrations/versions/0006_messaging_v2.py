"""Messaging tables, second revision: a relay lease, unroutable events set aside, dead letters kept
for redrive and refused bodies kept as a digest (rehsos.outbox.upgrade_messaging_tables_v2).

Revision ID: facilities_0006
Revises: facilities_0005
"""
from alembic import op

from rehsos.outbox import upgrade_messaging_tables_v2

revision = "facilities_0006"
down_revision = "facilities_0005"
branch_labels = None
depends_on = None


def upgrade():
    upgrade_messaging_tables_v2(op, "facilities")


def downgrade():
    raise NotImplementedError("messaging tables are not downgraded: restore a backup instead")
