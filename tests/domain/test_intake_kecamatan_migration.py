"""Intake migration 0007 on SQLite: free-text kecamatan become codes where they name a kecamatan
of the person's regency; the rest is kept, visible, as legacy text."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from alembic import command

from intake.domain.cases import case_view
from intake.domain.common import Access
from intake.domain.duplicates import likely_duplicates
from intake.models import Case, messaging
from rehsos import auth, db
from rehsos.outbox import Outbox

PERSON = ("INSERT INTO person (id, name, sex, birth_date, regency, kecamatan, person_key, created_at, registration_no, "
          "name_key) VALUES (:id, 'Ahmad (UJI)', 'male', '1980-01-01', :regency, :kecamatan, :id, "
          "'2025-01-01 00:00:00', :id, 'ahmad uji')")
CASE = ('INSERT INTO "case" (id, person_id, category, regency, stage, status, registered_at, registered_by, '
        "kecamatan) VALUES (:id, :id, 'gelandangan', :regency, 'asesmen', 'open', '2025-01-01 00:00:00', 'op', "
        ":kecamatan)")
BEFORE = {  # id: (regency, what was typed)
    "p-match": ("6371", "  banjarmasin barat "),
    "p-spaced": ("6310", "Batulicin"),  # the list writes "Batu Licin"
    "p-code": ("6303", "630305"),  # a code already
    "p-elsewhere": ("6371", "Martapura"),  # a kecamatan, but of Kabupaten Banjar
    "p-unknown": ("6371", "Pasar Lama"),
    "p-unknown-too": ("6371", "pasar lama "),  # the same place, typed again
}
AFTER = {"p-match": ("637103", None), "p-spaced": ("631001", None), "p-code": ("630305", None),
         "p-elsewhere": (None, "Martapura"), "p-unknown": (None, "Pasar Lama"), "p-unknown-too": (None, "pasar lama ")}


def migrated(uri: str):
    """``uri`` migrated to 0006, filled with BEFORE, then migrated to the head."""
    db.migrate("intake", uri, "intake_0006")
    engine = db.create_engine(uri)
    with engine.begin() as conn:
        for id_, (regency, kecamatan) in BEFORE.items():
            conn.execute(sa.text(PERSON), {"id": id_, "regency": regency, "kecamatan": kecamatan})
            conn.execute(sa.text(CASE), {"id": id_, "regency": regency, "kecamatan": kecamatan})
    db.migrate("intake", uri)
    return uri, engine


def kecamatan_columns(engine, table):
    with engine.connect() as conn:
        return {r.id: (r.kecamatan, r.kecamatan_legacy) for r in
                conn.execute(sa.text(f'SELECT id, kecamatan, kecamatan_legacy FROM "{table}"'))}


def test_text_that_names_a_kecamatan_of_the_regency_becomes_its_code_the_rest_stays_as_legacy(tmp_path):
    _, engine = migrated(f"sqlite:///{tmp_path}/intake.db")
    assert kecamatan_columns(engine, "person") == kecamatan_columns(engine, "case") == AFTER


def test_the_answer_shows_the_name_of_the_code_or_the_legacy_text(tmp_path):
    _, engine = migrated(f"sqlite:///{tmp_path}/intake.db")
    with Session(engine) as session:
        matched, unmatched = session.get(Case, "p-match"), session.get(Case, "p-unknown")
        view = case_view(matched, "6371")
        assert (view["kecamatan"], view["kecamatan_name"]) == ("637103", "Banjarmasin Barat")
        assert (view["person"]["kecamatan"], view["person"]["kecamatan_name"]) == ("637103", "Banjarmasin Barat")
        view = case_view(unmatched, "6371")
        assert (view["kecamatan"], view["kecamatan_name"]) == (None, "Pasar Lama")
        assert (view["person"]["kecamatan"], view["person"]["kecamatan_name"]) == (None, "Pasar Lama")


def test_downgrade_gives_the_text_back(tmp_path):
    uri, engine = migrated(f"sqlite:///{tmp_path}/intake.db")
    command.downgrade(db._alembic_config("intake", uri), "intake_0006")
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, kecamatan FROM person")).all())
    assert rows == {"p-match": "Banjarmasin Barat", "p-spaced": "Batu Licin", "p-code": "Martapura",
                    "p-elsewhere": "Martapura", "p-unknown": "Pasar Lama", "p-unknown-too": "pasar lama "}


def test_legacy_text_counts_as_the_same_kecamatan_for_duplicates_only_against_the_same_text(tmp_path):
    _, engine = migrated(f"sqlite:///{tmp_path}/intake.db")
    access = Access(auth.Principal(0, "uji", auth.OPERATOR, "6371"), "uji")
    with db.UnitOfWork(sessionmaker(engine), Outbox(messaging, "intake")) as uow:
        found = {c["person_id"]: c for c in likely_duplicates(uow, "p-unknown", access=access)}
    assert "kecamatan sama" in found["p-unknown-too"]["reasons"]
    assert (found["p-unknown-too"]["kecamatan"], found["p-unknown-too"]["kecamatan_name"]) == (None, "pasar lama ")
    assert "kecamatan sama" not in found["p-match"]["reasons"]
