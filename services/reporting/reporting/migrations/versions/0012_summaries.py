"""The summaries the case figures read instead of joining every case with the months (issue 14:
1,000,000 cases): the case tally (the case facts summed per regency, category, month and stage;
each step marks whether the tally counts it) and the person tally with the runs of months each
person counts in (with a case open, with one opened, registered with a disability and with a
case open too); and the runs of consecutive sequences in the inbox, which the stream figures read
instead of the whole inbox; the registered cases per regency and category (all, open) and the
person keys with a case. Filled from the facts (and the inbox) a hub already has.

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

# The runs of months each person (resolved key) has a case open, per regency and in the province
# (""): spans sorted by their start, a run going on while a span starts before the ends seen so far
# (an open span ends at "9999-99", after every month); as reporting.caseload._person_months merges them.
_SPANS = """
SELECT i.resolved AS person, s.region, s.from_month, COALESCE(s.to_month, '9999-99') AS to_month
FROM case_span s JOIN person_identity i ON i.node = s.node AND i.person_key = s.person_key
"""
_RUNS = f"""
SELECT person, region, from_month, to_month,
       CASE WHEN from_month <= max(to_month) OVER (PARTITION BY person, region ORDER BY from_month, to_month
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
            THEN 0 ELSE 1 END AS starts
FROM (SELECT person, region, from_month, to_month FROM ({_SPANS}) AS spans
      UNION ALL SELECT person, '', from_month, to_month FROM ({_SPANS}) AS spans) AS scoped
"""
_OPENED = """
SELECT i.resolved AS person, f.region, s.month
FROM case_step s JOIN case_fact f ON f.case_id = s.case_id AND f.node = s.node
JOIN person_identity i ON i.node = f.node AND i.person_key = f.person_key
WHERE s.kind = 'opened'
"""
_REGISTERED = """
SELECT i.resolved AS person, p.region, d.disability, p.month
FROM person_fact p
JOIN person_disability_fact d ON d.node = p.node AND d.person_key = p.person_key
JOIN person_identity i ON i.node = p.node AND i.person_key = p.person_key
"""
PERSON_MONTHS_FROM_FACTS = f"""
SELECT person, region, '' AS disability, 'persons' AS measure, min(from_month) AS from_month,
       CASE WHEN max(to_month) = '9999-99' THEN NULL ELSE max(to_month) END AS to_month
FROM (SELECT person, region, from_month, to_month,
             sum(starts) OVER (PARTITION BY person, region ORDER BY from_month, to_month ROWS UNBOUNDED PRECEDING)
                 AS run
      FROM ({_RUNS}) AS runs) AS numbered
GROUP BY person, region, run
UNION ALL
SELECT person, region, '', 'new_persons', month, NULL
FROM (SELECT person, region, month FROM ({_OPENED}) AS o UNION SELECT person, '', month FROM ({_OPENED}) AS o) AS n
UNION ALL
SELECT person, region, disability, 'registered', min(month), NULL
FROM (SELECT person, region, disability, month FROM ({_REGISTERED}) AS r
      UNION ALL SELECT person, '', disability, month FROM ({_REGISTERED}) AS r) AS registered
GROUP BY person, region, disability
"""
# Registered and with a case open (in any regency): each run of the person's in the province
# from the month they were registered on.
_SINCE = "CASE WHEN a.from_month > r.from_month THEN a.from_month ELSE r.from_month END"
WITH_ACTIVE_CASE_FROM_MONTHS = f"""
SELECT r.person, r.region, r.disability, 'with_active_case', {_SINCE}, a.to_month
FROM person_months r
JOIN person_months a ON a.person = r.person AND a.region = '' AND a.disability = '' AND a.measure = 'persons'
WHERE r.measure = 'registered' AND (a.to_month IS NULL OR a.to_month > {_SINCE})
"""
PERSON_TALLY_FROM_MONTHS = """
SELECT region, disability, month, measure, sum(n) AS n FROM (
    SELECT region, disability, from_month AS month, measure, 1 AS n FROM person_months
    UNION ALL
    SELECT region, disability, to_month, measure, -1 FROM person_months WHERE to_month IS NOT NULL
) AS changes
GROUP BY region, disability, month, measure
HAVING sum(n) <> 0
"""

# The runs of consecutive sequences in the inbox, per node stream (reporting.store.runs).
STREAM_RANGES_FROM_INBOX = """
SELECT node, service, min(sequence), max(sequence), count(*), max(received_at)
FROM (SELECT node, service, sequence, received_at,
             sequence - row_number() OVER (PARTITION BY node, service ORDER BY sequence) AS run
      FROM inbox) AS numbered
GROUP BY node, service, run
"""

# Registered cases per regency and category, open ones, and the person keys with a case.
REGISTERED_FROM_CASES = [
    "INSERT INTO registered_person (person_key, cases) SELECT person_key, count(*) FROM registered_case "
    "GROUP BY person_key",
    """INSERT INTO registered_tally (region, category, measure, n)
       SELECT region, category, 'cases', count(*) FROM registered_case GROUP BY region, category
       UNION ALL
       SELECT region, category, 'open', count(*) FROM registered_case WHERE closed = false GROUP BY region, category
       UNION ALL
       SELECT '', '', 'persons', (SELECT count(*) FROM registered_person)
       WHERE EXISTS (SELECT 1 FROM registered_person)""",  # no row of 0: the consumer's upsert adds it
]

FILL = [
    # A step of a case not opened yet waits: its case's opening counts it.
    "UPDATE case_step SET counted = true WHERE EXISTS (SELECT 1 FROM case_fact f WHERE f.case_id = case_step.case_id)",
    f"INSERT INTO case_tally (region, category, month, stage, measure, n) {TALLY_FROM_FACTS}",
    f"INSERT INTO person_months (person, region, disability, measure, from_month, to_month) "
    f"{PERSON_MONTHS_FROM_FACTS}",
    f"INSERT INTO person_months (person, region, disability, measure, from_month, to_month) "
    f"{WITH_ACTIVE_CASE_FROM_MONTHS}",
    f"INSERT INTO person_tally (region, disability, month, measure, n) {PERSON_TALLY_FROM_MONTHS}",
    "INSERT INTO stream_range (node, service, first_sequence, last_sequence, received, last_received_at) "
    f"{STREAM_RANGES_FROM_INBOX}",
    *REGISTERED_FROM_CASES,
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
    op.create_table(
        "person_months",
        sa.Column("person", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(4), primary_key=True),
        sa.Column("disability", sa.String(32), primary_key=True),
        sa.Column("measure", sa.String(24), primary_key=True),
        sa.Column("from_month", sa.String(7), primary_key=True),
        sa.Column("to_month", sa.String(7), nullable=True),
    )
    op.create_table(
        "person_tally",
        sa.Column("region", sa.String(4), primary_key=True),
        sa.Column("disability", sa.String(32), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("measure", sa.String(24), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.create_table(
        "stream_range",
        sa.Column("node", sa.String(8), primary_key=True),
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("first_sequence", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
        sa.Column("received", sa.Integer, nullable=False),
        sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "registered_tally",
        sa.Column("region", sa.String(4), primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("measure", sa.String(16), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.create_table(
        "registered_person",
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("cases", sa.Integer, nullable=False),
    )
    # A person's cases and spans, which the projection reads for the person's months.
    op.create_index("ix_case_fact_person", "case_fact", ["node", "person_key"])
    op.create_index("ix_case_span_person", "case_span", ["node", "person_key"])
    for statement in FILL:
        op.execute(statement)


def downgrade():
    op.drop_index("ix_case_span_person", "case_span")
    op.drop_index("ix_case_fact_person", "case_fact")
    op.drop_table("registered_person")
    op.drop_table("registered_tally")
    op.drop_table("stream_range")
    op.drop_table("person_tally")
    op.drop_table("person_months")
    op.drop_table("case_tally")
    with op.batch_alter_table("case_step") as batch:
        batch.drop_column("counted")
