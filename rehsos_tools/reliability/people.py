"""Made-up persons the run registers, and every personal value it later looks for.

Names, NIKs, addresses and birth dates are what must never leave a node (architecture.md,
"Privacy on the wire"), never appear in an error body and never in a log: the register keeps
them all so the privacy checks can search for exactly what the run typed in.
"""
from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from datetime import date, timedelta

from rehsos_tools.demo import KECAMATAN

GIVEN = {"male": ["Muhammad", "Ahmad", "Rahmat", "Abdul", "Gusti", "Akhmad", "Hairil", "Fahrur", "Syamsul", "Noor"],
         "female": ["Siti", "Nur", "Fitri", "Mariani", "Rusmiati", "Norlaila", "Raudah", "Salasiah", "Intan", "Rabiatul"]}
MIDDLE = ["Hidayat", "Fauzi", "Rizky", "Aisyah", "Halimah", "Permata", "Adawiyah", "Riduan", "Arsyad", "Ifansyah"]
FAMILY = ["Rahman", "Hakim", "Saputra", "Wahyuni", "Anshari", "Maulida", "Rahmadani", "Basri", "Jannah", "Effendi"]
STREETS = ["Jl. Pramuka", "Jl. Sultan Adam", "Jl. Veteran", "Jl. Belitung Darat", "Jl. Kelayan A",
           "Jl. Ahmad Yani Km 6", "Jl. Pekapuran Raya", "Jl. Sutoyo S"]
# Adults only: a child's registration needs a guardian, which this run does not exercise.
CATEGORIES = ("gelandangan", "pengemis", "pemulung")


@dataclass(frozen=True)
class Person:
    name: str
    nik: str
    sex: str
    birth_date: date
    regency: str
    kecamatan: str
    address: str

    def case_body(self, category: str) -> dict:
        """The body of ``POST /api/v1/cases``: the person and their first case."""
        return {"category": category, "name": self.name, "nik": self.nik, "sex": self.sex,
                "birth_date": self.birth_date.isoformat(), "regency": self.regency, "kecamatan": self.kecamatan,
                "address": self.address}


class Register:
    """Hands out persons with unique NIKs (the serial part) and remembers every one of them."""

    def __init__(self, seed: int):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._serial = 0
        self.persons: list[Person] = []

    def new(self, regency: str) -> Person:
        with self._lock:
            rng = self._rng
            self._serial += 1
            serial = self._serial
            sex = rng.choice(("male", "female"))
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 54))
            day = born.day + (40 if sex == "female" else 0)  # the NIK's way of telling women apart
            nik = f"{regency}{rng.randint(1, 20):02d}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
            person = Person(
                name=f"{rng.choice(GIVEN[sex])} {rng.choice(MIDDLE)} {rng.choice(FAMILY)}", nik=nik, sex=sex,
                birth_date=born, regency=regency, kecamatan=rng.choice(KECAMATAN[regency]),
                address=f"{rng.choice(STREETS)} Gg. {rng.randint(1, 40)} No. {serial} RT {rng.randint(1, 30):02d}")
            self.persons.append(person)
            return person

    def category(self) -> str:
        with self._lock:
            return self._rng.choice(CATEGORIES)

    def needles(self) -> dict[str, set[str]]:
        """What to look for, by kind. Names are matched whole (three words), so a common given
        name alone never counts as a hit."""
        with self._lock:
            persons = list(self.persons)
        return {"name": {p.name for p in persons}, "nik": {p.nik for p in persons},
                "address": {p.address for p in persons}, "birth_date": {p.birth_date.isoformat() for p in persons}}


def _one_of(words) -> str:
    return "(?:" + "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)) + ")"


# Candidates of each kind, looked up in the register: one pass over a text, however many persons
# (a hub log grows to tens of megabytes while its database is away).
_CANDIDATES = {
    "nik": re.compile(r"(?<![0-9])[0-9]{16}(?![0-9])"),
    "birth_date": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    "name": re.compile(f"{_one_of(GIVEN['male'] + GIVEN['female'])} {_one_of(MIDDLE)} {_one_of(FAMILY)}"),
    "address": re.compile(rf"{_one_of(STREETS)} Gg\. [0-9]+ No\. [0-9]+ RT [0-9]{{2}}"),
}


def find_personal_data(text: str, needles: dict[str, set[str]]) -> list[dict]:
    """Every registered personal value found in ``text``, as ``{"kind", "value"}``; the value is
    cut short, so that the report itself does not spread what it found."""
    found = {(kind, value) for kind, pattern in _CANDIDATES.items()
             for value in pattern.findall(text) if value in needles[kind]}
    return [{"kind": kind, "value": f"{value[:4]}…"} for kind, value in sorted(found)]
