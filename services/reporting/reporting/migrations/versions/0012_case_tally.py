"""The case tally: the case facts summed per regency, category, month and stage, which the case
figures read instead of joining every case with the months (issue 14: 1,000,000 cases); each
step marks whether the tally counts it. Filled from the facts a hub already has.

Revision ID: reporting_0012
Revises: reporting_0011
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0012"
down_revision = "reporting_0011"
branch_labels = None
depends_on = None

# What the projection adds as it applies the events (reporting.caseload._recompute_spans), from
# the facts at once: the opened, closed and reopened steps of every opened case (its own node's),
# and +1 / -1 where each span starts and ends. Plain SQL, for PostgreSQL and SQLite alike.
TALLY_FROM_FACTS = """
SELECT region, category, month, stage, measure, sum(n) AS n FROM (
    SELECT f.region, f.category, s.month, s.stage,
           CASE s.kind WHEN 'opened' THEN 'new' WHEN 'reopened' THEN 'reopened' ELSE 'closed_' || s.outcome END
               AS measure,
           1 AS n
    FROM case_step s JOIN case_fact f ON f.case_id = s.case_id AND f.node = s.node
    WHERE s.kind IN ('opened', 'closed', 'reopened')
    UNION ALL
    SELECT region, category, from_month, stage, 'active', 1 FROM case_span
    UNION ALL
    SELECT region, category, to_month, stage, 'active', -1 FROM case_span WHERE to_month IS NOT NULL
) AS facts
GROUP BY region, category, month, stage, measure
HAVING sum(n) <> 0
"""

FILL = [
    # A step of a case not opened yet waits: its case's opening counts it.
    "UPDATE case_step SET counted = true WHERE EXISTS (SELECT 1 FROM case_fact f WHERE f.case_id = case_step.case_id)",
    f"INSERT INTO case_tally (region, category, month, stage, measure, n) {TALLY_FROM_FACTS}",
]


def upgrade():
    op.add_column("case_step", sa.Column("counted", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "case_tally",
        sa.Column("region", sa.String(4), primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("stage", sa.String(32), primary_key=True),
        sa.Column("measure", sa.String(24), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    for statement in FILL:
        op.execute(statement)


def downgrade():
    op.drop_table("case_tally")
    with op.batch_alter_table("case_step") as batch:
        batch.drop_column("counted")
