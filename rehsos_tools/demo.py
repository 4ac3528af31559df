"""Demo data for the development run: made-up people, every name marked "(DEMO)".

Cases go through the real HTTP API of each node, so they travel to the hub like real ones, and
some are walked along the rehabilitation stages so every screen has something to show.
"""
from __future__ import annotations

import random
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import requests

from rehsos import reference

CASES_PER_NODE = 100

# Where the demo people live: a few kecamatan of each regency, named as in rehsos/data/kecamatan.csv
# and sent by code, as the intake API takes them.
_KECAMATAN_NAMES = {
    "6301": ["Pelaihari", "Takisung", "Jorong"], "6302": ["Pulaulaut Utara", "Kelumpang Hulu", "Hampang"],
    "6303": ["Martapura", "Gambut", "Astambul", "Karang Intan"], "6304": ["Marabahan", "Alalak", "Tamban"],
    "6305": ["Tapin Utara", "Binuang", "Tapin Selatan"], "6306": ["Kandangan", "Daha Selatan", "Angkinang"],
    "6307": ["Barabai", "Haruyan", "Batang Alai Selatan"], "6308": ["Amuntai Tengah", "Babirik", "Sungai Pandan"],
    "6309": ["Tanjung", "Murung Pudak", "Kelua"], "6310": ["Batu Licin", "Simpang Empat", "Kusan Hilir"],
    "6311": ["Paringin", "Juai", "Awayan"],
    "6371": ["Banjarmasin Barat", "Banjarmasin Timur", "Banjarmasin Selatan", "Banjarmasin Utara", "Banjarmasin Tengah"],
    "6372": ["Landasan Ulin", "Cempaka", "Banjarbaru Selatan", "Liang Anggang"],
}
KECAMATAN = {regency: [reference.kecamatan_named(regency, name) for name in names]
             for regency, names in _KECAMATAN_NAMES.items()}
GIVEN = {"male": ["Muhammad Rizky", "Ahmad Fauzi", "Rahmat Hidayat", "Abdul Gani", "Syahrani", "Noor Ifansyah",
                  "Mahyuni", "Gusti Irwan", "Fahrurrazi", "M. Arsyad", "Akhmad Riduan", "Hairil Anwar"],
         "female": ["Siti Aisyah", "Nur Halimah", "Fitriani", "Mariani", "Rusmiati", "Hj. Masitah", "Norlaila",
                    "Raudah", "Salasiah", "Intan Permata", "Rabiatul Adawiyah", "Nurul Hidayah"]}
CATEGORIES = (["gelandangan"] * 6 + ["pengemis"] * 5 + ["pemulung"] * 3 + ["penyandang_disabilitas"] * 6
              + ["anak_jalanan"] * 2 + ["lansia_telantar"] * 4 + ["anak_telantar", "bwblp", "korban_napza",
                                                                   "fakir_miskin", "tuna_susila"])
WORKERS = ["Pekerja Sosial Rina (DEMO)", "Pekerja Sosial Budi (DEMO)", "Pendamping Yusuf (DEMO)"]
DISABILITIES = ["fisik", "netra", "rungu", "intelektual", "mental"]


# The institutions named in domain.md, with made-up capacities and addresses (marked DEMO).
FACILITIES = {
    "63": [
        {"code": "prsts-barakat-cangkal-bacari", "name": "PRSTS Barakat Cangkal Bacari", "kind": "panti",
         "owner": "province", "owner_name": "Dinas Sosial Provinsi Kalimantan Selatan", "regency": "6372",
         "address": "Alamat contoh (DEMO)", "categories": ["gelandangan", "pengemis", "pemulung", "tuna_susila",
                                                          "bwblp", "korban_trafficking"],
         "units": [{"name": "Wisma Laki-laki (DEMO)", "sex": "male", "capacity": 40},
                   {"name": "Wisma Perempuan (DEMO)", "sex": "female", "capacity": 20}]},
        {"code": "prspdnf-fajar-harapan", "name": "PRSPDNF Fajar Harapan", "kind": "panti", "owner": "province",
         "owner_name": "Dinas Sosial Provinsi Kalimantan Selatan", "regency": "6303",
         "address": "Alamat contoh (DEMO)", "categories": ["penyandang_disabilitas", "anak_disabilitas"],
         "disability_types": ["netra", "fisik"],
         "units": [{"name": "Asrama Netra (DEMO)", "sex": "mixed", "capacity": 30},
                   {"name": "Asrama Fisik (DEMO)", "sex": "mixed", "capacity": 25}]},
    ],
    "6371": [
        {"code": "yayasan-daksa-banua", "name": "Yayasan Daksa Banua", "kind": "lks", "owner": "foundation",
         "owner_name": "Yayasan Daksa Banua", "regency": "6371", "address": "Alamat contoh (DEMO)",
         "categories": ["penyandang_disabilitas"], "disability_types": ["fisik"],
         "units": [{"name": "Unit Layanan (DEMO)", "sex": "mixed", "capacity": 15}]},
        {"code": "rumah-singgah-banjarmasin", "name": "Rumah Singgah Kota Banjarmasin (DEMO)", "kind": "rumah_singgah",
         "owner": "regency", "owner_name": "Dinas Sosial Kota Banjarmasin", "regency": "6371",
         "address": "Alamat contoh (DEMO)", "categories": ["gelandangan", "pengemis", "anak_jalanan"],
         "units": [{"name": "Ruang Laki-laki (DEMO)", "sex": "male", "capacity": 12},
                   {"name": "Ruang Perempuan (DEMO)", "sex": "female", "capacity": 8}]},
    ],
}


# The province plans new centres in several regencies (made up, marked DEMO).
PLANS = {
    "63": [
        ({"regency": "6309", "name": "Sentra Rehabilitasi Sosial Tabalong (DEMO)", "kind": "sentra",
          "categories": ["gelandangan", "pengemis", "penyandang_disabilitas"], "planned_capacity": 60,
          "target_year": 2028}, "disetujui"),
        ({"regency": "6310", "name": "Panti Sosial Tanah Bumbu (DEMO)", "kind": "panti",
          "categories": ["gelandangan", "tuna_susila", "korban_trafficking"], "planned_capacity": 40,
          "target_year": 2029}, "usulan"),
        ({"regency": "6308", "name": "Rumah Singgah Amuntai (DEMO)", "kind": "rumah_singgah",
          "categories": ["anak_jalanan", "gelandangan"], "planned_capacity": 20, "target_year": 2027}, "dibangun"),
    ],
}
# Regency nodes refer some of their tuna sosial to the provincial panti; node 63 answers.
PROVINCIAL_PANTI = FACILITIES["63"][0]
REFERRALS_PER_NODE = 4


def people(node: str, count: int, seed: int) -> list[dict]:
    """Made-up persons with their first case; half have a plausible NIK, some only an estimated age."""
    rng = random.Random(seed)
    regencies = reference.regions_served_by(node)
    result = []
    for i in range(count):
        sex = rng.choice(("male", "female"))
        regency = rng.choice(regencies)
        category = rng.choice(CATEGORIES)
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))  # adults
        if category.startswith("anak"):
            birth = date.today() - timedelta(days=rng.randrange(365 * 6, 365 * 17))
        body = {"category": category, "name": f"(DEMO) {rng.choice(GIVEN[sex])}", "sex": sex,
                "regency": regency, "kecamatan": rng.choice(KECAMATAN[regency]), "worker": rng.choice(WORKERS)}
        if i % 5 == 4:  # found without papers: the age is an estimate
            body["estimated_age"] = date.today().year - birth.year
        else:
            body["birth_date"] = birth.isoformat()
        if i % 2 == 0 and "birth_date" in body:
            day = birth.day + (40 if sex == "female" else 0)
            body["nik"] = (f"{regency}{rng.randint(1, 9):02d}{day:02d}{birth.month:02d}{birth.year % 100:02d}"
                           f"{rng.randint(1, 9999):04d}")
        if category in ("penyandang_disabilitas", "anak_disabilitas"):
            body["disabilities"] = [rng.choice(DISABILITIES)]
        if category.startswith("anak") or set(body.get("disabilities", [])) & {"intelektual", "mental"}:
            body.update(guardian_name=f"(DEMO) Wali {rng.choice(GIVEN['female'])}", guardian_relationship="ibu")
        result.append(body)
    return result


class _Client:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "X-Purpose": "data demo"})

    def get(self, path: str, **params) -> list | dict:
        resp = self.session.get(self.base_url + path, params=params, timeout=15)
        if not resp.ok:
            raise RuntimeError(f"demo: GET {path} -> {resp.status_code} {resp.text[:300]}")
        return resp.json()

    def post(self, path: str, body: dict, ok=(200, 201)) -> dict:
        resp = self.session.post(self.base_url + path, json=body, timeout=15)
        if resp.status_code not in ok:
            raise RuntimeError(f"demo: POST {path} -> {resp.status_code} {resp.text[:300]}")
        return resp.json()


def _walk(operator: _Client, supervisor: _Client, case: dict, person: dict, steps: int, rng: random.Random) -> None:
    """Move a case along the stages: assessment, plan, services, and for some a closure."""
    cid = case["id"]
    given_by = "guardian" if person.get("guardian_name") else "person"
    operator.post(f"/api/v1/persons/{case['person']['id']}/consents",
                  {"purpose": "assessment", "legal_basis": "consent", "given_by": given_by})
    if steps < 1:
        return
    operator.post(f"/api/v1/cases/{cid}/stage", {"stage": "asesmen"})
    needs = rng.sample(list(reference.ATENSI_COMPONENTS), 2)
    operator.post(f"/api/v1/cases/{cid}/assessments", {
        "needs": {n: "Kebutuhan dicatat saat asesmen (DEMO)." for n in needs},
        "risk_level": rng.choice(("low", "medium", "high")), "recommendation": "Rehabilitasi sosial (DEMO)."})
    if steps < 2:
        return
    operator.post(f"/api/v1/cases/{cid}/stage", {"stage": "rencana_intervensi"})
    operator.post(f"/api/v1/cases/{cid}/plans", {"components": needs, "responsible_worker": case["worker"]})
    operator.post(f"/api/v1/cases/{cid}/stage", {"stage": "intervensi"})
    operator.post(f"/api/v1/cases/{cid}/services", {
        "component": needs[0], "delivered_on": (date.today() - timedelta(days=rng.randrange(1, 60))).isoformat(),
        "description": "Layanan diberikan (DEMO).", "worker": case["worker"]})
    if steps < 3:
        return
    operator.post(f"/api/v1/cases/{cid}/stage", {"stage": "resosialisasi"})
    operator.post(f"/api/v1/cases/{cid}/closure", {"reason": "Kembali ke keluarga (DEMO).",
                                                   "outcome": rng.choice(("positive", "positive", "neutral"))})
    supervisor.post(f"/api/v1/cases/{cid}/closure/decision", {"approve": True})


def seed(base_url: str, tokens: dict, node: str, marker: Path, count: int = CASES_PER_NODE, *,
         province_running: bool) -> tuple[int, int]:
    """Register the node's demo facilities, plans and ``count`` demo cases, once (a marker file
    remembers); returns how many cases, and how many of them were referred to node 63 (none when
    node 63 is not running: nobody would answer)."""
    if marker.exists():
        return 0, 0
    operator, supervisor = _Client(base_url, tokens["operator"]), _Client(base_url, tokens["supervisor"])
    manager = _Client(base_url, tokens["facility_manager"])
    for facility in FACILITIES.get(node, []):
        manager.post("/api/v1/facilities", {**facility, "demo": True}, ok=(201, 409))
    for plan, status in PLANS.get(node, []):
        created_plan = manager.post("/api/v1/plans", plan)
        if status != "usulan":
            manager.session.patch(f"{base_url}/api/v1/plans/{created_plan['id']}", json={"status": status}, timeout=15)
    rng = random.Random(f"walk-{node}")
    may_refer = province_running and node != reference.PROVINCE
    created = referred = 0
    for body in people(node, count, seed=int(node)):
        resp = operator.session.post(base_url + "/api/v1/cases", json=body, timeout=15)
        if resp.status_code == 409:
            continue  # a generated NIK repeated: skip, as an operator would
        if resp.status_code != 201:
            raise RuntimeError(f"demo case refused by {node}: {resp.status_code} {resp.text[:300]}")
        created += 1
        case = resp.json()
        steps = rng.choice((0, 1, 1, 2, 2, 3))
        _walk(operator, supervisor, case, body, steps, rng)
        if (may_refer and referred < REFERRALS_PER_NODE and steps in (1, 2)
                and body["category"] in PROVINCIAL_PANTI["categories"] and not body.get("guardian_name")):
            operator.post(f"/api/v1/persons/{case['person']['id']}/consents",
                          {"purpose": "referral", "legal_basis": "consent", "given_by": "person"})
            operator.post(f"/api/v1/cases/{case['id']}/referrals",
                          {"facility_id": PROVINCIAL_PANTI["code"], "facility_node": reference.PROVINCE})
            referred += 1
    marker.write_text(str(created))
    return created, referred


def answer_referrals(base_url: str, manager_token: str, expected: int, timeout: float = 60.0) -> Counter:
    """At node 63: wait for the regencies' demo referrals to arrive and answer each from the beds
    the facility reports, as a manager would: accept into a unit for the person's sex with a free
    bed (and admit every other one accepted), or put it on the waiting list when there is none.
    Returns how many were admitted, accepted (bed reserved) and waitlisted."""
    manager = _Client(base_url, manager_token)
    deadline = time.monotonic() + timeout
    waiting = []
    while time.monotonic() < deadline:
        waiting = manager.get("/api/v1/referrals", status="requested")
        if len(waiting) >= expected:
            break
        time.sleep(0.5)
    answers = Counter()
    for referral in waiting:
        path = f"/api/v1/referrals/{referral['referral_id']}"
        unit = _unit_with_free_bed(manager, referral["facility_code"], referral["sex"])
        if unit is None:
            manager.post(f"{path}/waitlist", {"note": "Semua tempat tidur untuk jenis kelamin ini terisi (DEMO)."})
            answers["waitlisted"] += 1
            continue
        manager.post(f"{path}/accept", {"unit": unit})
        if (answers["admitted"] + answers["accepted"]) % 2 == 0:
            manager.post(f"{path}/admission", {"admitted_on": date.today().isoformat()})
            answers["admitted"] += 1
        else:
            answers["accepted"] += 1
    return answers


def _unit_with_free_bed(manager: _Client, facility_code: str, sex: str) -> str | None:
    """The unit for this sex (or mixed) with the most free beds now, counted by the facility."""
    units = [u for u in manager.get(f"/api/v1/facilities/{facility_code}/occupancy")
             if u["sex"] in (sex, "mixed") and u["free"] > 0]
    return max(units, key=lambda u: u["free"])["unit"] if units else None
