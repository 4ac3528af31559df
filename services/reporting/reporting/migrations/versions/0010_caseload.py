"""Case figures over time: case history steps and open spans, persons and their disabilities,
person key aliases, and which node sent something in which month.

Revision ID: reporting_0010
Revises: reporting_0009
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0010"
down_revision = "reporting_0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "case_fact",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("region", sa.String(4), nullable=False, index=True),
        sa.Column("category", sa.String(64), nullable=False, index=True),
        sa.Column("person_key", sa.String(64), nullable=False),
    )
    op.create_table(
        "case_step",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.String(7), nullable=False, index=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
    )
    op.create_table(
        "case_span",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("from_month", sa.String(7), primary_key=True),
        sa.Column("to_month", sa.String(7), nullable=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("node", sa.String(8), nullable=False),
        sa.Column("region", sa.String(4), nullable=False, index=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
    )
    op.create_table(
        "person_fact",
        sa.Column("node", sa.String(8), primary_key=True),
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(4), nullable=False, index=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "person_disability_fact",
        sa.Column("node", sa.String(8), primary_key=True),
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("disability", sa.String(32), primary_key=True),
    )
    op.create_table(
        "person_alias",
        sa.Column("node", sa.String(8), primary_key=True),
        sa.Column("previous_key", sa.String(64), primary_key=True),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "person_identity",
        sa.Column("node", sa.String(8), primary_key=True),
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("resolved", sa.String(64), nullable=False, index=True),
    )
    op.create_table(
        "node_activity",
        sa.Column("node", sa.String(8), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
    )


def downgrade():
    for table in ("node_activity", "person_identity", "person_alias", "person_disability_fact", "person_fact",
                  "case_span", "case_step", "case_fact"):
        op.drop_table(table)
