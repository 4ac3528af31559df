"""Training coverage: trained social workers and disability companions per regency, per 100 open
cases, beside the caseload; the average pre/post-test gain per event and per theme.

``training.summary`` carries counts by regency and role only, so the hub can give gains per event
(and theme), not per topic: gains per topic stay at the organising node (training.domain.learning).
"""
from __future__ import annotations

import sqlalchemy as sa

from rehsos import reference
from rehsos.clock import now
from reporting import domain
from reporting.domain import TRAINED_ROLES, _gain as gain
from reporting.models import TrainingRecord


def per_100(count: int, cases: int) -> float | None:
    return round(100 * count / cases, 1) if cases else None


def training_coverage(session, regency: str | None = None, category: str | None = None) -> dict:
    """Completions count as trained (someone who completed two events counts twice: the hub sees
    no names). With ``regency``, only its participants' cells; with ``category``, only that PPKS
    category's open cases (the caseload)."""
    open_cases = domain.open_cases(session, category)
    codes = [regency] if regency else list(reference.NODES)  # the province office's own staff too
    rows = {code: {"regency": code, "name": reference.region_name(code), "open_cases": open_cases.get(code, 0),
                   "registered": 0, "attended": 0, "completed": 0, **{f"trained_{role}": 0 for role in TRAINED_ROLES}}
            for code in codes}
    events, themes = [], {}
    records = session.scalars(sa.select(TrainingRecord).order_by(TrainingRecord.start_date.desc().nulls_last(),
                                                                 TrainingRecord.event_id))
    for record in records:
        if record.status == "cancelled":
            continue
        cells = [c for c in record.cells or [] if c["regency"] in rows]
        if not cells:
            continue
        for cell in cells:
            row = rows[cell["regency"]]
            for key in ("registered", "attended", "completed"):
                row[key] += cell[key]
            if cell["role"] in TRAINED_ROLES:
                row[f"trained_{cell['role']}"] += cell["completed"]
        themes.setdefault(record.theme or "", []).extend(cells)
        events.append({"event_id": record.event_id, "node": record.node, "kind": record.kind, "title": record.title,
                       "theme": record.theme, "start_date": record.start_date, "end_date": record.end_date,
                       "status": record.status, "completed": sum(c["completed"] for c in cells), **gain(cells)})
    for row in rows.values():
        trained = sum(row[f"trained_{role}"] for role in TRAINED_ROLES)
        row["trained"] = trained
        for role in TRAINED_ROLES:
            row[f"{role}_per_100_open_cases"] = per_100(row[f"trained_{role}"], row["open_cases"])
        row["trained_per_100_open_cases"] = per_100(trained, row["open_cases"])
        row["open_cases_per_trained"] = round(row["open_cases"] / trained, 1) if trained else None
    return {"generated_at": now().isoformat(), "regency": regency, "category": category,
            "regencies": list(rows.values()), "events": events,
            "by_theme": [{"theme": theme, **gain(cells)} for theme, cells in sorted(themes.items())]}
