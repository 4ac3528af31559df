"""PostgreSQL: migrations with their own version tables, a whole node and hub on it, and
cooperative queries under eventlet (psycopg2 + psycogreen)."""
from contextlib import closing

import eventlet
import psycopg2
import pytest
import requests
import sqlalchemy as sa

from rehsos import db
from tests.support import PostgresDatabases, Province, case_body, drop_finished, wait_until


def test_each_service_migrates_with_its_own_version_table_and_a_second_run_changes_nothing(pg):
    intake_uri = pg.create()
    db.migrate("intake", intake_uri)
    db.migrate("intake", intake_uri)
    assert db.current_revision("intake", intake_uri) == db.head_revision("intake")
    engine = db.create_engine(intake_uri)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert {"alembic_version_intake", "person", "case", "audit_log", "outbox", "inbox"} <= tables
    assert "alembic_version" not in tables


def test_a_node_and_the_hub_on_postgresql_carry_a_case_to_the_summary(make_province):
    province = make_province(["6371"], database="postgresql")
    assert province.settings["6371"].database_uri_for("intake").startswith("postgresql://")
    case = province.register("6371", case_body())
    assert case.status_code == 201
    wait_until(lambda: province.hub_cases() == 1, message="case at the hub")
    # Moving a case locks its row; on PostgreSQL only the case's own row can be locked (its
    # joined person sits on the nullable side of an outer join): found by fuzzing, a 500 before.
    headers = province.headers("6371", "operator")
    moved = requests.post(province.url("6371", f"/api/v1/cases/{case.json()['id']}/stage"), headers=headers,
                          json={"stage": "asesmen"}, timeout=10)
    assert moved.status_code == 200, moved.text
    closure = requests.post(province.url("6371", f"/api/v1/cases/{case.json()['id']}/closure"), headers=headers,
                            json={"reason": "Kembali ke keluarga", "outcome": "positive"}, timeout=10)
    assert closure.status_code == 200, closure.text


def test_postgresql_queries_do_not_block_the_eventlet_hub(pg):
    engine = db.create_engine(pg.create())
    finished = []

    def query(name, seconds):
        with engine.connect() as conn:
            conn.execute(sa.text(f"SELECT pg_sleep({seconds})"))
        finished.append(name)

    slow = eventlet.spawn(query, "slow", 1.0)
    eventlet.sleep(0)  # let the slow query start first
    quick = eventlet.spawn(query, "quick", 0)
    quick.wait()
    slow.wait()
    engine.dispose()
    # A blocking driver would hold the whole process in the slow query: quick would finish last.
    assert finished == ["quick", "slow"]


def test_the_kecamatan_migration_maps_text_to_codes_on_postgresql_too(pg):
    from tests.domain.test_intake_kecamatan_migration import AFTER, kecamatan_columns, migrated

    uri = pg.create()
    _, engine = migrated(uri)
    try:
        assert kecamatan_columns(engine, "person") == kecamatan_columns(engine, "case") == AFTER
    finally:
        engine.dispose()


def test_the_case_search_finds_names_through_a_trigram_index_that_a_fresh_database_gets(pg):
    """intake_0008 creates pg_trgm itself (a fresh database has no extension) and the GIN index
    the search's ``name_key LIKE '%text%'`` uses; its downgrade takes the index away again."""
    from alembic import command

    uri = pg.create()
    engine = db.create_engine(uri)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")).scalar_one() == 0
        db.migrate("intake", uri)

        with engine.begin() as conn:  # persons for the planner to choose by, vacuumed as autovacuum
            # would (the name index carries the id since intake_0010: on an empty table, or before
            # the trigram index's first vacuum, a whole walk of it looks cheaper)
            conn.execute(sa.text(
                "INSERT INTO person (id, registration_no, name, name_key, sex, regency, person_key, created_at) "
                "SELECT 'p' || i, 'r' || i, 'Nama ' || md5(i::text), 'nama ' || translate(md5(i::text), "
                "'0123456789', 'ghijklmnop'), 'male', '6371', md5(i::text), now() FROM generate_series(1, 5000) i"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE person"))

        def plan():
            with engine.begin() as conn:
                conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
                return "\n".join(conn.execute(sa.text(
                    "EXPLAIN SELECT id FROM person WHERE name_key LIKE '%hidayat%'")).scalars())

        assert "ix_person_name_key_trgm" in plan()
        command.downgrade(db._alembic_config("intake", uri), "intake_0007")
        assert "ix_person_name_key_trgm" not in plan()
        db.migrate("intake", uri)
        assert "ix_person_name_key_trgm" in plan()
    finally:
        engine.dispose()


def _exists(name: str) -> bool:
    with closing(psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cur.fetchone() is not None


@pytest.mark.postgres
def test_a_benchmark_s_databases_are_dropped_at_once_and_a_test_s_when_its_process_ends():
    now, later = PostgresDatabases(), PostgresDatabases()
    dropped_now = now.create().rsplit("/", 1)[1]
    dropped_later = later.create().rsplit("/", 1)[1]
    now.drop_all()  # a benchmark's, which has no end-of-session hook
    later.finish()  # a test's
    assert not _exists(dropped_now)
    assert _exists(dropped_later)
    drop_finished()
    assert not _exists(dropped_later)


@pytest.mark.postgres
def test_a_province_s_databases_are_copies_of_one_migrated_template_dropped_with_the_process(tmp_path):
    province = Province(tmp_path, ["6371"], start_hub=False, start_nodes=False)
    province.close()  # only its settings are needed
    settings = province.settings["6371"]
    first, second = PostgresDatabases(), PostgresDatabases()
    uris = [first.per_service(settings), second.per_service(settings)]
    templates = set(PostgresDatabases.templates.values())
    assert templates and len(PostgresDatabases.templates) == len({s.database for s in db.services_of(settings)})
    for uri in uris:
        for spec in db.services_of(settings):
            assert db.current_revision(spec.name, uri.replace("{service}", spec.database)) == db.head_revision(spec.name)
    first.finish()
    second.drop_all()  # a benchmark's: the process's templates go too
    assert not any(_exists(name) for name in templates)
    assert not PostgresDatabases.templates
