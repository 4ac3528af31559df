"""The case search's results and order, on SQLite and PostgreSQL, against a plain reference: every
case loaded and filtered, sorted and paged in Python (issue 14 changed how the database finds
them: a stored stage rank with its indexes, intake migration 0009, and the name sort's plan).
And the stage rank follows the stage through every step of a case."""
from __future__ import annotations

import importlib
import random
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from intake.domain import cases as case_steps
from intake.domain import search
from intake.domain.common import Access, Office, name_key
from intake.models import Case, Person, messaging
from intake.schemas import CaseRegistrationSchema
from rehsos import auth, db, reference
from rehsos.outbox import Outbox

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
OPERATOR = Access(auth.Principal(0, "uji", auth.OPERATOR, "6371"), "uji")
SUPERVISOR = Access(auth.Principal(1, "penyelia", auth.OPERATOR, "6371"), "uji")
OFFICE = Office("6371", "rahasia-uji")
# Few words, so that fragments are common, names repeat (ties) and "siti" is also inside names.
GIVEN = ["Siti", "Ahmad", "Budi", "Nur", "Rahmat", "Dewi", "Muhammad"]
OTHER = ["Hidayat", "Rahman", "Sitinah", "Lestari", "Anwar", "Kasiti", "Putri"]


@pytest.fixture(params=DATABASES)
def uri(request, tmp_path):
    return f"sqlite:///{tmp_path}/intake.db" if request.param == "sqlite" else request.getfixturevalue("pg").create()


@pytest.fixture
def engine(uri):
    db.migrate("intake", uri)
    engine = db.create_engine(uri)
    yield engine
    engine.dispose()


def fill(engine, persons: int = 160) -> None:
    rng = random.Random(14)
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:
        for i in range(persons):
            name = f"{rng.choice(GIVEN)} {rng.choice(OTHER)}" + (f" {rng.choice(OTHER)}" if i % 3 else "")
            conn.execute(sa.insert(Person.__table__).values(
                id=f"p{i:04d}", registration_no=f"r{i}", name=name, name_key=name_key(name), sex="female",
                birth_date=date(1980, 1, 1), regency="6371", kecamatan="637103", person_key=f"k{i}", created_at=at))
            for j in range(rng.choice((1, 1, 2, 3))):  # ties on the name within a person, too
                conn.execute(sa.insert(Case.__table__).values(
                    id=f"c{rng.randrange(10**6):06d}-{i}-{j}", person_id=f"p{i:04d}",
                    category=rng.choice(("gelandangan", "pengemis")), regency="6371", kecamatan="637103",
                    stage=rng.choice(reference.STAGES), status=rng.choice(("open", "closed")),
                    # some on the same second: ties on the date as well
                    registered_at=at + timedelta(hours=rng.randrange(40)), registered_by="uji", reopen_count=0))


def reference_ids(engine, query: dict) -> tuple[list[str], int]:
    """The page's case ids and the number of matches, the plain way."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Case.id, Case.stage, Case.status, Case.category, Case.registered_at,
                                      Person.name_key).join(Person, Case.person_id == Person.id)).all()
    text = name_key(query.get("q", ""))
    matches = [r for r in rows if (not query.get("q") or text in r.name_key)
               and all(getattr(r, k) == query[k] for k in ("stage", "status", "category") if query.get(k))]
    sort = query.get("sort", "-registered_at")
    keys = {"registered_at": lambda r: r.registered_at, "name": lambda r: r.name_key,
            "stage": lambda r: reference.STAGES.index(r.stage)}
    ordered = sorted(sorted(matches, key=lambda r: r.id), key=keys[sort.lstrip("-")], reverse=sort.startswith("-"))
    page, per_page = query.get("page", 1), query.get("per_page", 20)
    return [r.id for r in ordered[(page - 1) * per_page:page * per_page]], len(matches)


def searched(engine, query: dict) -> dict:
    with db.UnitOfWork(sessionmaker(engine), Outbox(messaging, "intake")) as uow:
        return search.search_cases(uow, dict(query), access=OPERATOR)


QUERIES = [{"q": q, **extra} for q in ("siti", "sitinah", "ti", "hidayat", "nur", "zzz") for extra in
           ({}, {"status": "open"})] + [{}, {"category": "pengemis"}, {"stage": "asesmen"}]


@pytest.fixture(scope="module", params=DATABASES)
def filled(request, tmp_path_factory):
    """One filled database per kind for the module's searches (they only read, and audit)."""
    from tests.support import PostgresDatabases
    databases = PostgresDatabases() if request.param == "postgresql" else None
    uri = databases.create() if databases else f"sqlite:///{tmp_path_factory.mktemp('search')}/intake.db"
    db.migrate("intake", uri)
    engine = db.create_engine(uri)
    fill(engine)
    yield engine
    engine.dispose()
    if databases:
        databases.finish()


# "tight" and "one_query" change only how a name sorted by name is searched: only those run in them.
@pytest.mark.parametrize("database_query,mode", [(i, mode) for i, query in enumerate(QUERIES)
                                                 for mode in ("as_set", "tight", "one_query")
                                                 if mode == "as_set" or query.get("q")])
def test_every_sort_and_page_gives_the_cases_and_order_of_the_plain_reference(filled, monkeypatch, database_query,
                                                                               mode):
    engine = filled
    with sessionmaker(engine)() as session:  # the test databases sort by code point: the parts are used
        assert search._code_point_order(session)
    monkeypatch.setattr(search, "COUNT_LIMIT", 60)  # some queries over the cap, some under
    if mode == "tight":  # a name sorted by name: matches after the first letter too many to sort, and a
        # window of the first names that sometimes holds the page and sometimes not (160 persons)
        monkeypatch.setattr(search, "_SORTED_AT_MOST", 4)
        monkeypatch.setattr(search, "_WINDOW_PER_ROW", 3)
    elif mode == "one_query":  # a database that does not sort by code point: all matches sorted at once
        monkeypatch.setattr(search, "_code_point_order", lambda session: False)
    sorts = ("name", "-name", "stage", "-stage", "registered_at", "-registered_at") if mode == "as_set" else \
        ("name", "-name")
    for sort in sorts:
        for page, per_page in ((1, 7), (2, 7), (5, 7), (1, 100), (40, 7)):
            query = {**QUERIES[database_query], "sort": sort, "page": page, "per_page": per_page}
            ids, matches = reference_ids(engine, query)
            found = searched(engine, query)
            assert [i["id"] for i in found["items"]] == ids, query
            assert (found["total"], found["total_capped"]) == (min(matches, 60), matches > 60), query


def test_the_migration_ranks_the_stages_in_the_order_of_the_reference():
    migration = importlib.import_module("intake.migrations.versions.0009_stage_rank")
    assert migration.STAGES == reference.STAGES


def ranks(engine) -> dict[str, tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text('SELECT id, stage, stage_rank FROM "case"'))
        return {r.id: (r.stage, r.stage_rank) for r in rows}


def step(engine, action, *args, **kwargs):
    with db.UnitOfWork(sessionmaker(engine), Outbox(messaging, "intake")) as uow:
        return action(uow, *args, **kwargs)


def test_the_stage_rank_follows_every_step_of_a_case(engine):
    body = CaseRegistrationSchema().load({"category": "gelandangan", "name": "Siti Aisyah", "sex": "female",
                                          "birth_date": "1990-05-15", "regency": "6371", "kecamatan": "637105"})
    case_id = step(engine, lambda uow: case_steps.register_case(uow, body, office=OFFICE, access=OPERATOR).id)
    seen = [ranks(engine)[case_id]]
    for to_stage in ("asesmen", "rencana_intervensi", "intervensi", "resosialisasi", "intervensi"):
        step(engine, case_steps.change_stage, case_id, to_stage, office=OFFICE, access=OPERATOR)
        seen.append(ranks(engine)[case_id])
    step(engine, case_steps.request_closure, case_id, {"reason": "selesai", "outcome": "positive"}, access=OPERATOR)
    step(engine, case_steps.decide_closure, case_id, {"approve": True}, office=OFFICE, access=SUPERVISOR)
    seen.append(ranks(engine)[case_id])
    step(engine, case_steps.reopen_case, case_id, {"reason": "kambuh"}, office=OFFICE, access=OPERATOR)
    seen.append(ranks(engine)[case_id])
    with engine.begin() as conn:  # any other writer (a referral's answer, a repair by hand)
        conn.execute(sa.text("UPDATE \"case\" SET stage = 'bimbingan_lanjut' WHERE id = :id"), {"id": case_id})
    seen.append(ranks(engine)[case_id])
    assert [stage for stage, _ in seen] == ["pendekatan_awal", "asesmen", "rencana_intervensi", "intervensi",
                                            "resosialisasi", "intervensi", "terminasi", "asesmen", "bimbingan_lanjut"]
    assert all(rank == reference.STAGES.index(stage) for stage, rank in seen), seen


def test_existing_cases_get_their_rank_from_the_migration(uri):
    db.migrate("intake", uri, "intake_0008")
    engine = db.create_engine(uri)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO person (id, name, sex, birth_date, regency, kecamatan, person_key, "
                             "created_at, registration_no, name_key) VALUES ('p', 'Budi', 'male', '1980-01-01', "
                             "'6371', '637103', 'k', '2025-01-01 00:00:00', 'r', 'budi')"))
        for stage in reference.STAGES:
            conn.execute(sa.text('INSERT INTO "case" (id, person_id, category, regency, stage, status, '
                                 "registered_at, registered_by, kecamatan) VALUES (:stage, 'p', 'gelandangan', "
                                 "'6371', :stage, 'open', '2025-01-01 00:00:00', 'op', '637103')"), {"stage": stage})
    db.migrate("intake", uri)
    try:
        assert ranks(engine) == {stage: (stage, i) for i, stage in enumerate(reference.STAGES)}
    finally:
        engine.dispose()
