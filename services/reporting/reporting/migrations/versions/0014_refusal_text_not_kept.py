"""The free-text reason of ``referral.rejected`` v1 events already in the event store becomes a
dash, as reporting.store.keep now stores a contract's free-text field (v2 carries a code; a name could be in the text).

Revision ID: reporting_0014
Revises: reporting_0013
"""
from alembic import op

revision = "reporting_0014"
down_revision = "reporting_0013"
branch_labels = None
depends_on = None

WHERE = "WHERE event_type = 'referral.rejected' AND schema_version = 1"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE event_store SET envelope = jsonb_set(envelope::jsonb, '{payload,reason}', '\"-\"')::text "
                   + WHERE)
    else:
        op.execute("UPDATE event_store SET envelope = json_set(envelope, '$.payload.reason', '-') " + WHERE)


def downgrade():
    pass  # what was typed is gone
