"""Persons, cases, audit log, and intake's outbox/inbox.

Revision ID: intake_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from rehsos.outbox import create_messaging_tables_v1

revision = "intake_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "person",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("nik", sa.String(16), nullable=True, unique=True),
        sa.Column("sex", sa.String(8), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("regency", sa.String(4), nullable=False),
        sa.Column("kecamatan", sa.String(100), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "case",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("person_id", sa.String(36), sa.ForeignKey("person.id"), nullable=False, index=True),
        sa.Column("category", sa.String(64), nullable=False, index=True),
        sa.Column("regency", sa.String(4), nullable=False, index=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("registered_by", sa.String(255), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False, index=True),
        sa.Column("purpose", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    create_messaging_tables_v1(op, "intake")


def downgrade():
    for table in ("audit_log", "case", "person", "quarantine", "inbox", "outbox_sequence", "outbox"):
        op.drop_table(table)
