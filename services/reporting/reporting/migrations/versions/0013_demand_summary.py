"""The demand summary "where to build" reads instead of every referral timeline (issue 14:
1,000,000 cases): the runs of months each person waits for a bed or is in one, per regency and
category (reporting.flows.demand_months), the demand tally they sum to; and on each timeline the
regency and person it counts under (as reporting.flows.timelines places it, kept as cases arrive
and keys are renamed) and ``counts_until`` (indexed: the people waiting and in a bed now are read
from the few referrals that may still count). Filled from the timelines a hub already has.

Revision ID: reporting_0013
Revises: reporting_0012
"""
import sqlalchemy as sa
from alembic import op

revision = "reporting_0013"
down_revision = "reporting_0012"
branch_labels = None
depends_on = None

STEPS = ("requested", "accepted", "rejected", "waitlisted", "admitted", "discharged")
_OPEN = "(requested_at IS NOT NULL AND admitted_at IS NULL AND rejected_at IS NULL AND discharged_at IS NULL) " \
        "OR (admitted_at IS NOT NULL AND discharged_at IS NULL)"


def _month(column: str, dialect: str) -> str:
    """The WITA month ("YYYY-MM") of a stored UTC moment (rehsos.clock.month_of: UTC+8 all year)."""
    if dialect == "postgresql":
        return f"to_char(({column} AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM')"
    return f"strftime('%Y-%m', {column}, '+8 hours')"


def fill(dialect: str) -> list[str]:
    """What the projection keeps as it applies the events (reporting.flows._changed and
    _recompute_demand), from the timelines at once, in ``dialect``'s SQL (PostgreSQL or SQLite)."""
    # The latest of a timeline's steps: GREATEST skips NULLs, SQLite's max() would give NULL
    # (stored as text there: '' sorts first, and every timeline has a step).
    latest = (f"GREATEST({', '.join(f'{s}_at' for s in STEPS)})" if dialect == "postgresql"
              else f"max({', '.join(f'coalesce({s}_at, {chr(39) * 2})' for s in STEPS)})")
    least = "LEAST" if dialect == "postgresql" else "min"

    def month(column):
        return _month(column, dialect)

    # Each referral where it counts, with the WITA months of its steps (the month of the first
    # stop is the first of their months).
    referrals = f"""
    SELECT person, region, category, {month("requested_at")} AS requested, {month("admitted_at")} AS admitted,
           {month("discharged_at")} AS discharged,
           NULLIF({least}(coalesce({month("admitted_at")}, '9999-99'), coalesce({month("rejected_at")}, '9999-99'),
                          coalesce({month("discharged_at")}, '9999-99')), '9999-99') AS stopped
    FROM referral_timeline"""
    # Waiting from the request up to the first stop, in a bed from the admission up to the
    # discharge (flows.demand_spells); an open spell ends at "9999-99", after every month.
    spells = f"""
    SELECT person, region, category, from_month, to_month FROM (
        SELECT person, region, category, requested AS from_month, coalesce(stopped, '9999-99') AS to_month
        FROM ({referrals}) AS r WHERE requested IS NOT NULL
        UNION ALL
        SELECT person, region, category, admitted, coalesce(discharged, '9999-99')
        FROM ({referrals}) AS r WHERE admitted IS NOT NULL) AS s
    WHERE from_month < to_month"""
    scoped = f"""
    SELECT person, region, '' AS category, from_month, to_month FROM ({spells}) AS s
    UNION ALL SELECT person, region, category, from_month, to_month FROM ({spells}) AS s WHERE category IS NOT NULL"""
    # Runs as caseload._runs merges them (and migration 0012 the persons' months).
    runs = f"""
    SELECT person, region, category, from_month, to_month,
           CASE WHEN from_month <= max(to_month) OVER (PARTITION BY person, region, category
                                                       ORDER BY from_month, to_month
                                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS starts
    FROM ({scoped}) AS scoped"""
    requested = f"""
    SELECT person, region, '' AS category, requested FROM ({referrals}) AS r WHERE requested IS NOT NULL
    UNION ALL
    SELECT person, region, category, requested FROM ({referrals}) AS r
    WHERE requested IS NOT NULL AND category IS NOT NULL"""
    columns = "person, region, category, measure, from_month, to_month"
    return [
        # Where each referral counts, as flows.timelines places it (flows._place).
        f"""UPDATE referral_timeline
            SET region = coalesce((SELECT c.region FROM registered_case c WHERE c.case_id = referral_timeline.case_id),
                                  node),
                person = coalesce((SELECT c.person_key FROM registered_case c
                                   WHERE c.case_id = referral_timeline.case_id), person_key, referral_id),
                counts_until = CASE WHEN {_OPEN} THEN NULL ELSE {latest} END""",
        f"""INSERT INTO demand_months ({columns})
            SELECT person, region, category, 'demand', min(from_month),
                   CASE WHEN max(to_month) = '9999-99' THEN NULL ELSE max(to_month) END
            FROM (SELECT person, region, category, from_month, to_month,
                         sum(starts) OVER (PARTITION BY person, region, category ORDER BY from_month, to_month
                                           ROWS UNBOUNDED PRECEDING) AS run
                  FROM ({runs}) AS runs) AS numbered
            GROUP BY person, region, category, run
            UNION ALL
            SELECT person, region, category, 'requested', min(requested), NULL FROM ({requested}) AS r
            GROUP BY person, region, category""",
        """INSERT INTO demand_tally (region, category, month, measure, n)
           SELECT region, category, month, measure, sum(n) FROM (
               SELECT region, category, from_month AS month, measure, 1 AS n FROM demand_months
               UNION ALL
               SELECT region, category, to_month, measure, -1 FROM demand_months WHERE to_month IS NOT NULL
           ) AS changes
           GROUP BY region, category, month, measure
           HAVING sum(n) <> 0""",
    ]


def upgrade():
    op.add_column("referral_timeline", sa.Column("region", sa.String(8), nullable=True))
    op.add_column("referral_timeline", sa.Column("person", sa.String(64), nullable=True))
    op.add_column("referral_timeline", sa.Column("counts_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_referral_timeline_counts_until", "referral_timeline", ["counts_until"])
    # A person's referrals, for their demand months.
    op.create_index("ix_referral_timeline_person", "referral_timeline", ["person"])
    op.create_table(
        "demand_months",
        sa.Column("person", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(8), primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("measure", sa.String(16), primary_key=True),
        sa.Column("from_month", sa.String(7), primary_key=True),
        sa.Column("to_month", sa.String(7), nullable=True),
    )
    op.create_table(
        "demand_tally",
        sa.Column("region", sa.String(8), primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("measure", sa.String(16), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    for statement in fill(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    op.drop_table("demand_tally")
    op.drop_table("demand_months")
    op.drop_index("ix_referral_timeline_person", "referral_timeline")
    op.drop_index("ix_referral_timeline_counts_until", "referral_timeline")
    with op.batch_alter_table("referral_timeline") as batch:
        for column in ("counts_until", "person", "region"):
            batch.drop_column(column)
