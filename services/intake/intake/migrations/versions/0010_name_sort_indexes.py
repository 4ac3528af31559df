"""On PostgreSQL, two indexes for the case search sorted by name (issue 14: "siti" sorted by name
sorted all its 41,600 matches among 1,000,000 persons; a common fragment is mostly a first name,
all in one stretch of the name order). A trigram index on the name key without its first letter:
the names that have the text somewhere after their start (those that start with it are a range of
the name index). And the name index carries the person's id (INCLUDE): walking the first names in
order and testing each against the text reads the index alone, no table rows. SQLite keeps its
indexes and plain scans.

Revision ID: intake_0010
Revises: intake_0009
"""
from alembic import op

revision = "intake_0010"
down_revision = "intake_0009"
branch_labels = None
depends_on = None

TAIL = "ix_person_name_key_tail_trgm"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # The same expression as intake.domain.search's: the planner matches it to this index.
    op.execute(f"CREATE INDEX {TAIL} ON person USING gin ((substr(name_key, 2)) gin_trgm_ops)")
    op.execute("CREATE INDEX ix_person_name_key_with_id ON person (name_key) INCLUDE (id)")
    op.execute("DROP INDEX ix_person_name_key")
    op.execute("ALTER INDEX ix_person_name_key_with_id RENAME TO ix_person_name_key")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_person_name_key_alone ON person (name_key)")
    op.execute("DROP INDEX ix_person_name_key")
    op.execute("ALTER INDEX ix_person_name_key_alone RENAME TO ix_person_name_key")
    op.execute(f"DROP INDEX {TAIL}")
