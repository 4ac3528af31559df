"""Looking things up: the node's cases, the audit log, and the reference lists forms choose from."""
from __future__ import annotations

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
    if query.get("q"):
        key = name_key(query["q"])  # letters only, so no LIKE wildcards get through
        conditions.append(Person.name_key.like(f"%{key}%") if key else sa.false())
    # Every case has its person: the count, and the choice of the page's cases, join the persons
    # only when the name is searched or sorted by; the page's 20 rows then fetch theirs.
    by_person = bool(query.get("q")) or query.get("sort", "").lstrip("-") == "name"

    def cases():
        chosen = sa.select(Case.id)
        return (chosen.join(Person, Case.person_id == Person.id) if by_person else chosen).where(*conditions)

    counted = cases().limit(COUNT_LIMIT + 1).subquery()
    total = uow.session.execute(sa.select(sa.func.count()).select_from(counted)).scalar_one()
    sort = query.get("sort", "-registered_at")
    column = _SORTS[sort.lstrip("-")]
    if column is Person.name_key and query.get("q"):
        # The same order (the key is lower case already), but not the name index's: PostgreSQL
        # would walk that index in order and test every name against the text (3 s for "siti"
        # among a million, its matches all near the end); it takes the matches from the trigram
        # index and sorts them instead.
        column = sa.func.lower(Person.name_key)
    order = column.desc() if sort.startswith("-") else column.asc()
    page, per_page = query.get("page", 1), query.get("per_page", 20)
    chosen = cases().order_by(order, Case.id).limit(per_page).offset((page - 1) * per_page).subquery()
    rows = uow.session.execute(
        sa.select(Case.id, Case.category, Case.stage, Case.status, Case.kecamatan, Case.kecamatan_legacy, Case.worker,
                  Case.registered_at, Person.id.label("person_id"), Person.name.label("person_name"),
                  Person.registration_no)
        .join(chosen, chosen.c.id == Case.id).join(Person, Case.person_id == Person.id)
        .order_by(order, Case.id)).all()
    audit(uow, access, "case.search", "case", "*")
    items = [{**{k: v for k, v in r._mapping.items() if k != "kecamatan_legacy"}, **kecamatan_view(r)} for r in rows]
    return {"items": items, "page": page, "per_page": per_page, "total": min(total, COUNT_LIMIT),
            "total_capped": total > COUNT_LIMIT}


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

