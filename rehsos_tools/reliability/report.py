"""What every section hands back: the cases it tried, which failed, and what it could not try yet."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Section:
    name: str
    cases: list[dict] = field(default_factory=list)
    not_yet_possible: list[dict] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    error: str | None = None  # the section itself broke down: a failure too

    def add(self, ok: bool, **detail) -> dict:
        case = {"ok": ok, **detail}
        self.cases.append(case)
        return case

    def cannot_yet(self, what: str, why: str) -> None:
        self.not_yet_possible.append({"check": what, "why": why})

    @property
    def failures(self) -> int:
        return sum(1 for c in self.cases if not c["ok"]) + (1 if self.error else 0)

    def as_dict(self, all_cases: bool = False) -> dict:
        """Counts and figures; failed cases in full, passed ones only with ``all_cases``."""
        doc = {"cases": len(self.cases), "failures": self.failures, **self.figures}
        if self.error:
            doc["error"] = self.error
        doc["failed"] = [c for c in self.cases if not c["ok"]]
        if all_cases:
            doc["passed"] = [c for c in self.cases if c["ok"]]
        if self.not_yet_possible:
            doc["not_yet_possible"] = self.not_yet_possible
        return doc
