"""Looking things up: the node's cases, the audit log, and the reference lists forms choose from."""
from __future__ import annotations

import weakref
from datetime import datetime, timezone

import sqlalchemy as sa

from intake.domain.cases import TRANSITIONS
from intake.domain.common import REFERENCE_VERSION, Access, audit, name_key
from intake.domain.consent import CONSENT_PURPOSES, LEGAL_BASES
from intake.domain.persons import kecamatan_view
from intake.models import AuditEntry, Case, Person
from rehsos import reference

# Stages sort in the order of rehabilitation, not alphabetically: by the stored rank, which an
# index serves with the tiebreak (intake migration 0009).
_SORTS = {"registered_at": Case.registered_at, "name": Person.name_key, "stage": Case.stage_rank}
# A search counts its matches up to this many and then says "more": an exact count of a large
# share of a million cases reads all of them (about a second on PostgreSQL, issue 14), the page
# itself only its rows. Nobody pages through a thousand cases; they narrow the search.
COUNT_LIMIT = 1_000


def search_cases(uow, query: dict, *, access: Access) -> dict:
    """Filter, sort and page the node's cases; the search itself is audit-logged (it shows names)."""
    conditions = []
    for column in ("category", "stage", "status", "kecamatan", "worker"):
        if query.get(column):
            conditions.append(getattr(Case, column) == query[column])
    if query.get("registered_from"):
        conditions.append(Case.registered_at >= datetime.combine(query["registered_from"], datetime.min.time(),
                                                                 timezone.utc))
    if query.get("registered_to"):
        conditions.append(Case.registered_at < datetime.combine(query["registered_to"], datetime.max.time(),
                                                                timezone.utc))
    filters = list(conditions)  # all but the name
    key = name_key(query["q"]) if query.get("q") else None  # letters and spaces only: no LIKE wildcards
    if query.get("q"):
        conditions.append(Person.name_key.like(f"%{key}%") if key else sa.false())
    # Every case has its person: the count, and the choice of the page's cases, join the persons
    # only when the name is searched or sorted by; the page's 20 rows then fetch theirs.
    by_person = bool(query.get("q")) or query.get("sort", "").lstrip("-") == "name"

    def cases(*where, columns=(Case.id,)):
        chosen = sa.select(*columns)
        return (chosen.join(Person, Case.person_id == Person.id) if by_person else chosen).where(*where)

    counted = cases(*conditions).limit(COUNT_LIMIT + 1).subquery()
    total = uow.session.execute(sa.select(sa.func.count()).select_from(counted)).scalar_one()
    sort = query.get("sort", "-registered_at")
    column = _SORTS[sort.lstrip("-")]
    descending = sort.startswith("-")
    page, per_page = query.get("page", 1), query.get("per_page", 20)
    name_with_text = column is Person.name_key and bool(key)
    if name_with_text:
        # The same order (the key is lower case already), but not the name index's: PostgreSQL
        # would walk that index in order and test every name against the text (3 s for "siti"
        # among a million, its matches all near the end); it takes the matches from the trigram
        # index and sorts them instead. The page is chosen that way only where the database does
        # not sort by code point; elsewhere _name_sorted_page chooses it.
        column = sa.func.lower(Person.name_key)
    order = column.desc() if descending else column.asc()
    rows = sa.select(Case.id, Case.category, Case.stage, Case.status, Case.kecamatan, Case.kecamatan_legacy,
                     Case.worker, Case.registered_at, Person.id.label("person_id"), Person.name.label("person_name"),
                     Person.registration_no)
    # Each part is read up to the page's end: deep pages take the one query instead.
    if name_with_text and page * per_page <= COUNT_LIMIT and _code_point_order(uow.session):
        rows = rows.where(Case.id.in_(_name_sorted_page(uow.session, cases, filters, key, descending, page, per_page)))
    else:
        chosen = cases(*conditions).order_by(order, Case.id).limit(per_page).offset((page - 1) * per_page).subquery()
        rows = rows.join(chosen, chosen.c.id == Case.id)
    rows = uow.session.execute(rows.join(Person, Case.person_id == Person.id).order_by(order, Case.id)).all()
    audit(uow, access, "case.search", "case", "*")
    items = [{**{k: v for k, v in r._mapping.items() if k != "kecamatan_legacy"}, **kecamatan_view(r)} for r in rows]
    return {"items": items, "page": page, "per_page": per_page, "total": min(total, COUNT_LIMIT),
            "total_capped": total > COUNT_LIMIT}


def _name_sorted_page(session, cases, filters: list, key: str, descending: bool, page: int,
                      per_page: int) -> list[str]:
    """The page's case ids of a name search sorted by name, from two parts that never overlap,
    each ordered and cut at the page's end, then merged: every match starts with the text or has
    it after the first letter. Sorting all matches took 250 ms for the 41,600 of "siti" among a
    million persons (issue 14): a common fragment is mostly a first name, all in one stretch of
    the name order (walking the name index to that stretch took 3 s).

    Those starting with it are a range of the name index, walked in order. Those with it further
    on come from the trigram index over the name without its first letter (intake migration 0010)
    and are sorted, when there are at most _SORTED_AT_MOST of them. More (a surname: spread over
    all names), and they are looked for among the names that come first in the sort's order:
    enough there, and they are the first of the part; otherwise all of them are sorted after all.
    """
    upto = page * per_page
    columns = (Case.id, Person.name_key)
    # The key's letters and spaces all sort below "{": the range holds exactly the names starting with it.
    starts = sa.and_(Person.name_key >= key, Person.name_key < key + "{")
    further = sa.and_(sa.func.substr(Person.name_key, sa.literal_column("2")).like(f"%{key}%"), sa.not_(starts))

    def first(*where, sort_key=Person.name_key):
        return session.execute(cases(*filters, *where, columns=columns).order_by(
            sort_key.desc() if descending else sort_key.asc(), Case.id).limit(upto)).all()

    def ordered(column):
        return column.desc() if descending else column.asc()

    found = first(starts)
    few = cases(*filters, further, columns=columns).limit(_SORTED_AT_MOST + 1).subquery()
    rest = session.execute(sa.select(few.c.id, few.c.name_key, sa.func.count().over().label("matches"))
                           .order_by(ordered(few.c.name_key), few.c.id).limit(upto)).all()
    if rest and rest[0].matches > _SORTED_AT_MOST:
        window = min(_WINDOW_PER_ROW * upto, _WINDOW_MOST)
        edge = session.execute(sa.select(Person.name_key).order_by(ordered(Person.name_key))
                               .offset(window - 1).limit(1)).scalar()
        # All names up to the edge, ties included: what lies beyond it sorts after them.
        rest = first(further, Person.name_key >= edge if descending else Person.name_key <= edge) if edge else []
        if len(rest) < upto:
            # lower(): the same order, but PostgreSQL sorts the trigram index's matches instead of
            # walking the name index in order (see search_cases).
            rest = first(further, sort_key=sa.func.lower(Person.name_key))
    # Code point order, as the database's (_code_point_order); the case ids are ASCII.
    merged = sorted(found + list(rest), key=lambda r: r.id)
    merged.sort(key=lambda r: r.name_key, reverse=descending)
    return [r.id for r in merged[(page - 1) * per_page:upto]]


# A name search sorted by name sorts up to this many matches that have the text after the name's
# first letter (about 10 ms on PostgreSQL at a million persons); with more, it first walks the
# names that come first in the sort's order, in the name index alone (intake migration 0010: it
# carries the id): _WINDOW_PER_ROW per case of the page, at most _WINDOW_MOST (about 30 ms when
# in vain). The 20 first matches of
# "hidayat", a surname, are among the first 13,000 names: behind "Abdul Gani Hasanah".
_SORTED_AT_MOST = 1_000
_WINDOW_PER_ROW = 2_000
_WINDOW_MOST = 100_000


_CODE_POINT_ORDER: "weakref.WeakKeyDictionary[sa.Engine, bool]" = weakref.WeakKeyDictionary()


def _code_point_order(session) -> bool:
    """Whether the database sorts text by code point (SQLite; PostgreSQL with the C or C.UTF-8
    collation, as rehsos deploys it), which the name range of _name_sorted_page assumes. Asked
    once per engine."""
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        return True
    if engine not in _CODE_POINT_ORDER:
        database = session.execute(sa.text("SELECT * FROM pg_database WHERE datname = current_database()")
                                   ).mappings().one()
        collation = database["datcollate"]
        _CODE_POINT_ORDER[engine] = database.get("datlocprovider", "c") == "c" and (
            collation in ("C", "POSIX") or collation.startswith("C."))  # libc's C.UTF-8 orders by code point
    return _CODE_POINT_ORDER[engine]


def query_audit(session, query: dict) -> list[AuditEntry]:
    conditions = [getattr(AuditEntry, k) == query[k] for k in ("actor", "record_id", "action") if query.get(k)]
    if query.get("since"):
        conditions.append(AuditEntry.at >= query["since"])
    page, per_page = query.get("page", 1), query.get("per_page", 50)
    return list(session.scalars(sa.select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
                                .limit(per_page).offset((page - 1) * per_page)))


def reference_lists(node: str) -> dict:
    """The lists forms choose from; the kecamatan are the office's own (all of them at the province)."""
    return {
        "ppks_categories": {"version": REFERENCE_VERSION, "items": [
            {"code": c.code, "no": c.no, "name": c.name_id, "group": c.group}
            for c in reference.PPKS_CATEGORIES.values()]},
        "disability_types": [{"code": code, "name": d["name_id"], "parent": d["parent"] or None}
                             for code, d in reference.DISABILITY_TYPES.items()],
        "stages": [{"code": st["code"], "order": int(st["order"]), "name": st["name_id"],
                    "next": sorted(TRANSITIONS[st["code"]])} for st in reference.REHAB_STAGES],
        "atensi_components": [{"code": code, "name": name} for code, name in reference.ATENSI_COMPONENTS.items()],
        "regions": [{"code": r.code, "name": r.name, "kind": r.kind} for r in reference.REGIONS.values()],
        "kecamatan": [{"code": code, "name": name, "regency": reference.KECAMATAN[code].regency}
                      for code, name in reference.kecamatan_of(node).items()],
        "consent_purposes": list(CONSENT_PURPOSES),
        "legal_bases": list(LEGAL_BASES),
    }

