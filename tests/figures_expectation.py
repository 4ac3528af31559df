"""What the hub's case figures must be for a list of events, computed here in plain Python by
replaying the events in the order they occurred (the projection instead keeps facts and derives
spans): the tests compare the two."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from rehsos import reference

MAKASSAR = ZoneInfo("Asia/Makassar")
TUNA_SOSIAL = {code for code, c in reference.PPKS_CATEGORIES.items() if c.group == "tuna_sosial"}


def month_of(moment: datetime) -> str:
    return moment.astimezone(MAKASSAR).strftime("%Y-%m")


def months_between(first: str, last: str) -> list[str]:
    out, (year, number) = [], map(int, first.split("-"))
    while f"{year:04d}-{number:02d}" <= last:
        out.append(f"{year:04d}-{number:02d}")
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return out


def year_before(month: str) -> str:
    return f"{int(month[:4]) - 1:04d}-{month[5:]}"


class Expectation:
    """Figures per (regency, month) from the events, whatever order they are given in."""

    def __init__(self, events):
        # Replay in the order things happened at each node (the generator numbers them so).
        self.events = sorted(events, key=lambda e: (e.occurred_at, e.node, e.sequence))
        self.sent = {(e.node, month_of(e.occurred_at)) for e in self.events}
        self.alias: dict[str, dict[str, str]] = defaultdict(dict)
        for e in self.events:
            if e.event_type == "person.identified":
                self.alias[e.node][e.payload["previous_person_key"]] = e.payload["person_key"]
        self.cases = {e.payload["case_id"]: {"node": e.node, "region": e.payload["region"],
                                             "category": e.payload["category"], "key": e.payload["person_key"]}
                      for e in self.events if e.event_type == "case.opened"}
        self.persons = [(e.node, e.payload["region"], e.payload["person_key"], e.payload["disabilities"],
                         month_of(e.occurred_at)) for e in self.events if e.event_type == "person.registered"]

    def person(self, node: str, key: str) -> str:
        while key in self.alias[node]:
            key = self.alias[node][key]
        return key

    def has_data(self, regency: str, month: str) -> bool:
        return (regency, month) in self.sent

    def figures(self, first: str, last: str, categories=None) -> dict:
        """{(regency, month): {new, active, closed: {...}, reopened, persons, new_persons,
        active_persons_set, new_persons_set, stages: {stage: n}, categories: {cat: {new, active}}}}."""
        def counted(case):
            return categories is None or case["category"] in categories

        months = months_between(first, last)
        cells = {(r, mo): {"new": 0, "active": 0, "closed": {"positive": 0, "neutral": 0, "negative": 0},
                           "reopened": 0, "new_set": set(), "active_set": set(), "stages": defaultdict(int),
                           "categories": defaultdict(lambda: {"new": 0, "active": 0})}
                 for r in reference.REGENCIES for mo in months}
        open_cases: dict[str, str] = {}  # case -> stage while open
        stage: dict[str, str] = {}
        position = 0
        for month in months_between(min(month_of(e.occurred_at) for e in self.events), last):
            while position < len(self.events) and month_of(self.events[position].occurred_at) <= month:
                e = self.events[position]
                position += 1
                case_id = e.payload.get("case_id")
                if case_id is None or e.event_type not in ("case.opened", "case.stage_changed", "case.closed",
                                                           "case.reopened"):
                    continue
                case = self.cases[case_id]
                kind = e.event_type.split(".")[1]
                stage[case_id] = {"opened": e.payload.get("stage"), "stage_changed": e.payload.get("to_stage"),
                                  "closed": "terminasi", "reopened": e.payload.get("stage")}[kind]
                if kind in ("opened", "reopened"):
                    open_cases[case_id] = stage[case_id]
                elif kind == "closed":
                    open_cases.pop(case_id, None)
                elif case_id in open_cases:
                    open_cases[case_id] = stage[case_id]
                cell = cells.get((case["region"], month))
                if cell is None or not counted(case):
                    continue
                if kind == "opened":
                    cell["new"] += 1
                    cell["new_set"].add(self.person(case["node"], case["key"]))
                    cell["categories"][case["category"]]["new"] += 1
                elif kind == "closed":
                    cell["closed"][e.payload["outcome"]] += 1
                elif kind == "reopened":
                    cell["reopened"] += 1
            if month < first:
                continue
            for case_id, at_stage in open_cases.items():
                case = self.cases[case_id]
                if not counted(case):
                    continue
                cell = cells[(case["region"], month)]
                cell["active"] += 1
                cell["active_set"].add(self.person(case["node"], case["key"]))
                cell["stages"][at_stage] += 1
                cell["categories"][case["category"]]["active"] += 1
        for cell in cells.values():
            cell["persons"], cell["new_persons"] = len(cell["active_set"]), len(cell["new_set"])
        return cells

    def open_persons(self, month: str, category=None) -> set[str]:
        """Resolved persons with a case open at the end of ``month`` (any regency)."""
        cells = self.figures(month, month, categories={category} if category else None)
        return set().union(*(c["active_set"] for c in cells.values()))

    def disabilities(self, month: str, category=None) -> dict:
        """{(regency, type): (registered persons, of them with an active case)} at the month's end."""
        covered = self.open_persons(month, category)
        found: dict[tuple[str, str], set] = defaultdict(set)
        for node, region, key, types, registered in self.persons:
            if registered <= month:
                for kind in types:
                    found[(region, kind)].add(self.person(node, key))
        return {k: (len(v), len(v & covered)) for k, v in found.items()} | {
            ("*", kind): (len(set().union(*(v for (r, t), v in found.items() if t == kind and self.has_data(r, month)))),
                          len(set().union(*(v for (r, t), v in found.items() if t == kind and self.has_data(r, month)))
                              & covered))
            for kind in reference.DISABILITY_TYPES}
