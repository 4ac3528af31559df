"""The case search counts its matches up to search.COUNT_LIMIT and then says there are more
(issue 14: an exact count over a million cases took a second; the page itself milliseconds),
and a name search sorted by name keeps the order of the names."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from intake.domain import search
from intake.domain.common import Access, name_key
from intake.models import Case, Person, messaging
from rehsos import auth, db
from rehsos.outbox import Outbox


@pytest.fixture
def factory(tmp_path):
    uri = f"sqlite:///{tmp_path}/intake.db"
    db.migrate("intake", uri)
    engine = db.create_engine(uri)
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    names = ["Siti Aisyah", "Siti Rahmah", "Siti Noor", "Siti Hasanah", "Ahmad Fauzi"]
    with engine.begin() as conn:
        for i, name in enumerate(names):
            conn.execute(sa.insert(Person.__table__).values(
                id=f"p{i}", registration_no=f"r{i}", name=name, name_key=name_key(name), sex="female",
                birth_date=date(1980, 1, 1), regency="6371", kecamatan="637103", person_key=f"k{i}", created_at=at))
            conn.execute(sa.insert(Case.__table__).values(
                id=f"c{i}", person_id=f"p{i}", category="gelandangan" if i < 4 else "pengemis", regency="6371",
                kecamatan="637103", stage="asesmen", status="open", registered_at=at + timedelta(days=i),
                registered_by="uji", reopen_count=0))
    yield sessionmaker(engine)
    engine.dispose()


def found(factory, **query):
    access = Access(auth.Principal(0, "uji", auth.OPERATOR, "6371"), "uji")
    with db.UnitOfWork(factory, Outbox(messaging, "intake")) as uow:
        return search.search_cases(uow, {"page": 1, "per_page": 2, **query}, access=access)


@pytest.mark.parametrize("query, matches", [({}, 5), ({"q": "siti"}, 4), ({"category": "gelandangan"}, 4),
                                            ({"category": "pengemis"}, 1), ({"q": "fauzi"}, 1)])
def test_matches_beyond_the_limit_are_counted_as_the_limit_and_said_to_be_more(factory, monkeypatch, query, matches):
    assert (found(factory, **query)["total"], found(factory, **query)["total_capped"]) == (matches, False)
    monkeypatch.setattr(search, "COUNT_LIMIT", 3)
    page = found(factory, **query)
    assert (page["total"], page["total_capped"]) == ((3, True) if matches > 3 else (matches, False))
    assert len(page["items"]) == min(2, matches)  # the page itself is not cut


def test_an_exact_limit_is_not_said_to_be_more(factory, monkeypatch):
    monkeypatch.setattr(search, "COUNT_LIMIT", 4)
    assert (found(factory, q="siti")["total"], found(factory, q="siti")["total_capped"]) == (4, False)


@pytest.mark.parametrize("sort", ["name", "-name"])
def test_a_name_search_sorted_by_name_keeps_the_order_of_the_names(factory, sort):
    names = [i["person_name"] for i in found(factory, q="siti", sort=sort, per_page=10)["items"]]
    assert names == sorted(["Siti Aisyah", "Siti Rahmah", "Siti Noor", "Siti Hasanah"], reverse=sort == "-name")
