"""Intake migration 0007 on SQLite: free-text kecamatan become codes where they name a kecamatan
of the person's regency; the rest is kept, visible, as legacy text."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from alembic import command

from intake.domain.cases import case_view
from intake.models import Case
from rehsos import db

PERSON = ("INSERT INTO person (id, name, sex, regency, kecamatan, person_key, created_at, registration_no, name_key) "
          "VALUES (:id, 'Ahmad (UJI)', 'male', :regency, :kecamatan, :id, '2025-01-01 00:00:00', :id, 'ahmad uji')")
CASE = ('INSERT INTO "case" (id, person_id, category, regency, stage, status, registered_at, registered_by, '
        "kecamatan) VALUES (:id, :id, 'gelandangan', :regency, 'asesmen', 'open', '2025-01-01 00:00:00', 'op', "
        ":kecamatan)")
BEFORE = {  # id: (regency, what was typed)
    "p-match": ("6371", "  banjarmasin barat "),
    "p-spaced": ("6310", "Batulicin"),  # the list writes "Batu Licin"
    "p-code": ("6303", "630305"),  # a code already
    "p-elsewhere": ("6371", "Martapura"),  # a kecamatan, but of Kabupaten Banjar
    "p-unknown": ("6371", "Pasar Lama"),
}


def _migrated(tmp_path):
    uri = f"sqlite:///{tmp_path}/intake.db"
    db.migrate("intake", uri, "intake_0006")
    engine = sa.create_engine(uri)
    with engine.begin() as conn:
        for id_, (regency, kecamatan) in BEFORE.items():
            conn.execute(sa.text(PERSON), {"id": id_, "regency": regency, "kecamatan": kecamatan})
            conn.execute(sa.text(CASE), {"id": id_, "regency": regency, "kecamatan": kecamatan})
    db.migrate("intake", uri)
    return uri, engine


def _rows(engine, table):
    with engine.connect() as conn:
        return {r.id: (r.kecamatan, r.kecamatan_legacy) for r in
                conn.execute(sa.text(f'SELECT id, kecamatan, kecamatan_legacy FROM "{table}"'))}


def test_text_that_names_a_kecamatan_of_the_regency_becomes_its_code_the_rest_stays_as_legacy(tmp_path):
    _, engine = _migrated(tmp_path)
    expected = {"p-match": ("637103", None), "p-spaced": ("631001", None), "p-code": ("630305", None),
                "p-elsewhere": (None, "Martapura"), "p-unknown": (None, "Pasar Lama")}
    assert _rows(engine, "person") == expected
    assert _rows(engine, "case") == expected


def test_the_answer_shows_the_name_of_the_code_or_the_legacy_text(tmp_path):
    _, engine = _migrated(tmp_path)
    with Session(engine) as session:
        matched, unmatched = session.get(Case, "p-match"), session.get(Case, "p-unknown")
        view = case_view(matched, "6371")
        assert (view["kecamatan"], view["kecamatan_name"]) == ("637103", "Banjarmasin Barat")
        assert (view["person"]["kecamatan"], view["person"]["kecamatan_name"]) == ("637103", "Banjarmasin Barat")
        view = case_view(unmatched, "6371")
        assert (view["kecamatan"], view["kecamatan_name"]) == (None, "Pasar Lama")
        assert (view["person"]["kecamatan"], view["person"]["kecamatan_name"]) == (None, "Pasar Lama")


def test_downgrade_gives_the_text_back(tmp_path):
    uri, engine = _migrated(tmp_path)
    command.downgrade(db._alembic_config("intake", uri), "intake_0006")
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, kecamatan FROM person")).all())
    assert rows == {"p-match": "Banjarmasin Barat", "p-spaced": "Batu Licin", "p-code": "Martapura",
                    "p-elsewhere": "Martapura", "p-unknown": "Pasar Lama"}
