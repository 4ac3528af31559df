"""Two copies of one event applied at once on PostgreSQL: the loser sees the winner's inbox row
only in its second read (READ COMMITTED). It is a duplicate, not a replay (found by the hub's
figures test: a redelivered referral answer was quarantined as "a replay")."""
import sqlalchemy as sa
from sqlalchemy.orm import Session

from rehsos import contracts, db
from rehsos.messaging import accept_once
from reporting.models import messaging


def test_a_copy_committed_between_the_two_inbox_reads_is_a_duplicate(pg):
    uri = pg.create()
    db.migrate("reporting", uri)
    engine = db.create_engine(uri)
    event = contracts.make_event("case.opened", {
        "case_id": "00000000-0000-0000-0000-000000000001", "person_key": "ab" * 32, "stage": "pendekatan_awal",
        "age_band": "30-34", "sex": "male", "category": "gelandangan", "region": "6371"},
        node="6371", service="intake").with_sequence(7)
    reads = []

    def the_other_copy_commits(conn, cursor, statement, parameters, context, executemany):
        reads.append(statement)
        if len(reads) == 2:  # between the read by event id and the read by sequence
            with Session(engine) as other:
                assert accept_once(other, messaging, event) is True
                other.commit()

    with Session(engine) as session:
        sa.event.listen(engine, "before_cursor_execute", the_other_copy_commits)
        try:
            assert accept_once(session, messaging, event) is False
        finally:
            sa.event.remove(engine, "before_cursor_execute", the_other_copy_commits)
        session.rollback()
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(messaging.inbox)).scalar_one() == 1
    engine.dispose()
