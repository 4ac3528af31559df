"""Database errors are logged; they must not carry the personal values of the statement."""
import pytest
import sqlalchemy as sa

from rehsos.db import create_engine


def test_an_error_from_the_database_names_no_value_of_the_statement(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE person (nik TEXT UNIQUE, name TEXT)"))
        conn.execute(sa.text("INSERT INTO person VALUES (:nik, :name)"), {"nik": "6371051203850001", "name": "Siti"})
    with pytest.raises(sa.exc.IntegrityError) as raised:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO person VALUES (:nik, :name)"),
                         {"nik": "6371051203850001", "name": "Siti Rahasia"})
    assert "6371051203850001" not in str(raised.value) and "Rahasia" not in str(raised.value)
    assert "hidden" in str(raised.value)  # SQLAlchemy says the parameters were left out
    engine.dispose()
