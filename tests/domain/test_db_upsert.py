"""rehsos.db.upsert_rows on both databases: one row or many, nothing on conflict or added up,
and a value too long for its column refused, never cut (PostgreSQL sends many rows as arrays)."""
import pytest
import sqlalchemy as sa

from rehsos import db

METADATA = sa.MetaData()
TALLY = sa.Table("tally", METADATA, sa.Column("key", sa.String(4), primary_key=True),
                 sa.Column("n", sa.Integer, nullable=False))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def session(request, tmp_path):
    uri = request.getfixturevalue("pg").create() if request.param == "postgresql" else \
        f"sqlite:///{tmp_path / 'upsert.sqlite'}"
    engine = db.create_engine(uri)
    METADATA.create_all(engine)
    with sa.orm.Session(engine) as session:
        yield session
    engine.dispose()


def _rows(session):
    return dict(session.execute(sa.select(TALLY.c.key, TALLY.c.n)).all())


def test_rows_are_inserted_once_or_added_to(session):
    db.upsert_rows(session, TALLY, [{"key": "a", "n": 1}, {"key": "b", "n": 2}, {"key": "a", "n": 9}], ("key",))
    assert _rows(session) == {"a": 1, "b": 2}
    back = db.upsert_rows(session, TALLY, [{"key": "a", "n": 5}, {"key": "c", "n": 1}], ("key",), add=("n",),
                          returning=("key", "n"))
    assert sorted(back) == [("a", 6), ("c", 1)] and _rows(session) == {"a": 6, "b": 2, "c": 1}
    db.upsert_rows(session, TALLY, [{"key": "b", "n": -2}], ("key",), add=("n",))
    assert _rows(session)["b"] == 0 and db.upsert_rows(session, TALLY, [], ("key",)) == []


@pytest.mark.parametrize("rows", [1, 3])
def test_a_value_too_long_for_its_column_is_refused_not_cut(session, rows):
    if session.bind.dialect.name == "sqlite":
        pytest.skip("SQLite keeps any length: the contracts bound the values")
    batch = [{"key": "toolong", "n": 1}] + [{"key": f"k{i}", "n": 1} for i in range(rows - 1)]
    with pytest.raises(sa.exc.DataError):
        db.upsert_rows(session, TALLY, batch, ("key",))
