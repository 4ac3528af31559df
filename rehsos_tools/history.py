"""A generated province history: a few years of pseudonymous hub events from all 14 nodes.

Seeded, so a test can publish it onto a hub and compare the hub's figures with what it computes
itself from the same events. The 13 regency nodes register persons (some with disabilities,
some without a NIK who get one later, a few also registered in another regency) and walk their
cases along the rehabilitation stages to closure (with an outcome), aftercare and sometimes a
reopening; every node sends its facilities' beds every month (the province its panti, a regency
its shelter). One regency can be silent
for one month: none of its events occurs in that month (what would have happened then happens
at the start of the next month).

Only event contracts are used (``rehsos.contracts.make_event``); persons are random keys, never
names or NIKs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from rehsos import reference
from rehsos.clock import month_of, month_start, next_month
from rehsos.contracts import Event, make_event
from rehsos.privacy import AGE_BANDS

# Weighted toward the caseload the province describes: tuna sosial and persons with disabilities.
CATEGORIES = (["gelandangan"] * 6 + ["pengemis"] * 5 + ["pemulung"] * 3 + ["penyandang_disabilitas"] * 6
              + ["anak_jalanan"] * 2 + ["lansia_telantar"] * 3 + ["bwblp", "tuna_susila", "korban_trafficking",
                                                                   "korban_napza", "fakir_miskin", "anak_disabilitas"])
DISABLED_CATEGORIES = {"penyandang_disabilitas", "anak_disabilitas"}
# The stages a case walks before closure (terminasi only comes with the closure).
PATH = ("asesmen", "rencana_intervensi", "intervensi", "resosialisasi")
PROVINCE_PANTI = (("prsts-barakat-cangkal-bacari", "PRSTS Barakat Cangkal Bacari", "6372",
                   ["gelandangan", "pengemis", "pemulung", "tuna_susila", "bwblp"]),
                  ("prspdnf-fajar-harapan", "PRSPDNF Fajar Harapan", "6303", ["penyandang_disabilitas"]))


@dataclass
class History:
    first: str
    last: str
    silent: tuple[str, str] | None
    events: list[Event] = field(default_factory=list)

    def stream(self, node: str) -> list[Event]:
        return [e for e in self.events if e.node == node]

    def by_node(self) -> dict[str, list[Event]]:
        return {node: self.stream(node) for node in reference.NODES}


class _Builder:
    def __init__(self, rng: random.Random, first: str, last: str, silent: tuple[str, str] | None):
        self.rng, self.silent = rng, silent
        self.start, self.end = month_start(first), month_start(next_month(last))
        self.drafts: list[tuple[datetime, Event]] = []
        self.counter = 0

    def key(self) -> str:
        self.counter += 1
        return hashlib.sha256(f"history-{self.rng.random()}-{self.counter}".encode()).hexdigest()

    def when(self, node: str, moment: datetime) -> datetime:
        """``moment``, unless the node is silent then: the first hours of the next month."""
        if self.silent and node == self.silent[0] and month_of(moment) == self.silent[1]:
            return month_start(next_month(self.silent[1])) + timedelta(hours=self.rng.uniform(1, 48))
        return moment

    def emit(self, node: str, service: str, moment: datetime, event_type: str, payload: dict) -> bool:
        if moment >= self.end:
            return False
        self.drafts.append((moment, make_event(event_type, payload, node=node, service=service)))
        return True

    def later(self, node: str, moment: datetime, low_days: float, high_days: float) -> datetime:
        return self.when(node, moment + timedelta(days=self.rng.uniform(low_days, high_days)))

    # -- one person's story at one node --------------------------------------------------------------
    def person(self, node: str, moment: datetime, key: str | None = None, categories: list[str] | None = None,
               disabilities: list[str] | None = None) -> tuple[str, list[str], list[str]] | None:
        """Register a person and open their case (a second one now and then); returns their NIK
        key, categories and disabilities when registered with a NIK, else None."""
        rng = self.rng
        nik = key is not None or rng.random() < 0.7  # many tuna sosial are found without papers
        key = key or self.key()
        if categories is None:
            categories = [rng.choice(CATEGORIES)]
            if rng.random() < 0.15:
                categories.append(rng.choice(CATEGORIES))
            categories = list(dict.fromkeys(categories))
        if disabilities is None:
            disabled = bool(DISABLED_CATEGORIES & set(categories)) or rng.random() < 0.1
            disabilities = sorted(set(rng.sample(sorted(reference.DISABILITY_TYPES), rng.choice((1, 1, 2))))) \
                if disabled else []
        sex, age_band = rng.choice(("male", "female")), rng.choice(AGE_BANDS)
        if not self.emit(node, "intake", moment, "person.registered", {
                "person_key": key, "person_key_kind": "nik" if nik else "local", "age_band": age_band, "sex": sex,
                "region": node, "categories": categories, "disabilities": disabilities}):
            return None
        identify_at = None if nik or rng.random() < 0.5 else self.later(node, moment, 10, 200)
        t = self.when(node, moment + timedelta(minutes=rng.uniform(5, 120)))
        for number in range(2 if rng.random() < 0.15 else 1):
            if identify_at is not None and identify_at <= t:
                new_key = self.key()
                if not self.emit(node, "intake", identify_at, "person.identified",
                                 {"previous_person_key": key, "person_key": new_key}):
                    return None
                key, identify_at = new_key, None
            t = self.case(node, t, key, rng.choice(categories), sex, age_band)
            if t is None:
                break
            t = self.later(node, t, 20, 200)
        if identify_at is not None and identify_at < self.end:
            self.emit(node, "intake", max(identify_at, t or identify_at), "person.identified",
                      {"previous_person_key": key, "person_key": self.key()})
        return (key, categories, disabilities) if nik else None

    def case(self, node: str, t: datetime, key: str, category: str, sex: str, age_band: str) -> datetime | None:
        """Open a case and walk it; returns when its last step happened (None: ran past the end)."""
        rng, case_id = self.rng, str(uuid.uuid4())
        if not self.emit(node, "intake", t, "case.opened", {
                "case_id": case_id, "person_key": key, "age_band": age_band, "sex": sex, "category": category,
                "region": node, "stage": "pendekatan_awal"}):
            return None
        stage, reopenings = "pendekatan_awal", 0
        while True:
            steps = rng.randint(1, len(PATH))
            for to_stage in PATH[PATH.index(stage) + 1 if stage in PATH else 0:][:steps]:
                t = self.later(node, t, 3, 60)
                if not self.emit(node, "intake", t, "case.stage_changed",
                                 {"case_id": case_id, "from_stage": stage, "to_stage": to_stage}):
                    return None
                stage = to_stage
            if rng.random() < 0.25:  # still in rehabilitation
                return t
            t = self.later(node, t, 5, 90)
            if not self.emit(node, "intake", t, "case.closed", {
                    "case_id": case_id, "outcome": rng.choice(("positive", "positive", "neutral", "negative")),
                    "stage_before": stage}):
                return None
            stage = "terminasi"
            if rng.random() < 0.4:
                t = self.later(node, t, 1, 30)
                if not self.emit(node, "intake", t, "case.stage_changed",
                                 {"case_id": case_id, "from_stage": "terminasi", "to_stage": "bimbingan_lanjut"}):
                    return None
                stage = "bimbingan_lanjut"
            if reopenings or rng.random() > 0.12:
                return t
            t = self.later(node, t, 10, 120)
            if not self.emit(node, "intake", t, "case.reopened", {"case_id": case_id, "stage": "asesmen"}):
                return None
            stage, reopenings = "asesmen", 1

    def beds(self, month: str) -> None:
        """Every facility's monthly bed count: the province's panti, and a shelter (*rumah singgah*)
        in each regency, so every node sends something every month unless it is silent."""
        facilities = [("63", "panti", 60, *panti) for panti in PROVINCE_PANTI] + [
            (code, "rumah_singgah", 15, f"rumah-singgah-{code}", f"Rumah Singgah {region.name}", code,
             ["gelandangan", "pengemis"]) for code, region in reference.REGENCIES.items()]
        for node, kind, capacity, facility_id, name, regency, categories in facilities:
            moment = self.when(node, month_start(month) + timedelta(days=self.rng.uniform(0, 27)))
            occupied = self.rng.randint(capacity // 3, capacity)
            self.emit(node, "facilities", moment, "capacity.changed", {
                "facility_id": facility_id, "name": name, "kind": kind, "regency": regency,
                "categories": categories, "disability_types": [], "status": "operational",
                "units": [{"name": "Wisma", "sex": "mixed", "capacity": capacity, "occupied": occupied,
                           "free": capacity - occupied}], "as_of": moment})

    def numbered(self) -> list[Event]:
        """Each node's events in the order they occurred, numbered per node and service from 1."""
        sequences: dict[tuple[str, str], int] = {}
        events = []
        for moment, event in sorted(self.drafts, key=lambda d: (d[0], d[1].node)):
            stream = (event.node, event.service)
            sequences[stream] = sequences.get(stream, 0) + 1
            events.append(dataclasses.replace(event, occurred_at=moment.astimezone(timezone.utc),
                                              sequence=sequences[stream]))
        return events


def generate(seed: int = 12, first: str = "2024-01", last: str = "2025-12", persons_per_month: float = 1.5,
             silent: tuple[str, str] | None = ("6305", "2025-03")) -> History:
    """Events from ``first`` to ``last`` (months, WITA) for every node; ``persons_per_month`` is the
    average a regency registers (more in bigger regencies); ``silent`` = (regency, month) that
    sends nothing."""
    rng = random.Random(seed)
    builder = _Builder(rng, first, last, silent)
    average = sum(reference.POPULATION[c] for c in reference.REGENCIES) / len(reference.REGENCIES)
    month = first
    crossers: list[tuple[str, str, list[str], list[str]]] = []
    while month <= last:
        builder.beds(month)
        for regency in reference.REGENCIES:
            expected = persons_per_month * reference.POPULATION[regency] / average
            for _ in range(int(expected) + (rng.random() < expected % 1)):
                moment = builder.when(regency, month_start(month) + timedelta(days=rng.uniform(0, 27.9)))
                registered = builder.person(regency, moment)
                if registered and rng.random() < 0.05:
                    crossers.append((regency, *registered))
        month = next_month(month)
    # A few persons registered at one regency turn up in another (same NIK, so the same key): one
    # person, two regencies, two cases.
    for origin, key, categories, disabilities in crossers:
        elsewhere = rng.choice([c for c in reference.REGENCIES if c != origin])
        moment = builder.when(elsewhere, builder.start + (builder.end - builder.start) * rng.uniform(0.2, 0.9))
        builder.person(elsewhere, moment, key=key, categories=categories, disabilities=disabilities)
    return History(first, last, silent, builder.numbered())
