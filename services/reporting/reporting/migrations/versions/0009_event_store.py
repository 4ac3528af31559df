"""Event store (every accepted event, append-only, for rebuilds and sync health) and the newest
heartbeat of each node service.

Events accepted before this revision are in the inbox only (no payload): a rebuild refuses to run
while the store lacks any of them.

Revision ID: reporting_0009
Revises: reporting_0008
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0009"
down_revision = "reporting_0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "event_store",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
    )
    op.create_index("ix_event_store_stream", "event_store", ["node", "service", "sequence"])
    op.create_index("ix_event_store_node_received", "event_store", ["node", "received_at"])
    op.create_index("ix_event_store_node_type", "event_store", ["node", "event_type", "schema_version"])
    op.create_table(
        "node_heartbeat",
        sa.Column("node", sa.String(8), primary_key=True),
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outbox_waiting", sa.Integer, nullable=False),
    )


def downgrade():
    op.drop_table("node_heartbeat")
    op.drop_index("ix_event_store_node_type", "event_store")
    op.drop_index("ix_event_store_node_received", "event_store")
    op.drop_index("ix_event_store_stream", "event_store")
    op.drop_table("event_store")
