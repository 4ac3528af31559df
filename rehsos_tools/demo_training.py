"""Demo training for the development run: the two events the province reported in 2024, exactly
as domain.md describes them, with attendance, scores and certificates; and one upcoming event
open for nomination, to which the running regency nodes nominate a few of their staff.

Everything goes through the real API of node 63 (and of the regency nodes for nominations), so
the hub receives the counts as it would in production. Participants' names are made up and
marked (DEMO); speakers' names too, their institutions are the real ones.
"""
from __future__ import annotations

import random
import time
from datetime import date, timedelta

import requests

from rehsos import reference

REGENCIES = tuple(reference.REGENCIES)

BIMTEK = {
    "event": {"kind": "bimtek", "title": "Bimtek Pelayanan Tuna Sosial",
              "theme": "Pekerja sosial yang lebih kompeten dan terkoordinasi, agar tuna sosial berkurang",
              "venue": "Banjarmasin", "start_date": "2024-12-04", "end_date": "2024-12-04", "quota": 40,
              "target_roles": [], "min_attendance": 1.0, "min_post_score": 60},
    "speakers": [("Narasumber PRSTS (DEMO)", "PRSTS Barakat Cangkal Bacari"),
                 ("Narasumber Pusat Studi Gender (DEMO)", "Pusat Studi Gender STIMI Banjarmasin"),
                 ("Narasumber Sentra (DEMO)", "Sentra Budi Luhur Banjarbaru"),
                 ("Narasumber HIMPSI (DEMO)", "HIMPSI Kalimantan Selatan")],
    # (day index, start, end, topic, speaker index)
    "sessions": [(0, "08:30", "10:00", "Pelayanan tuna sosial di dalam panti", 0),
                 (0, "10:15", "11:45", "Perlindungan hukum bagi tuna sosial", 1),
                 (0, "13:00", "14:30", "Teknik asesmen", 3),
                 (0, "14:45", "16:15", "Peran pekerja sosial", 2)],
    "participants": 40,
}
RAKOR = {
    "event": {"kind": "rakor", "title": "Rakor Rehabilitasi Sosial Penyandang Disabilitas",
              "theme": "Satu gambaran dan data bersama provinsi dan kabupaten/kota untuk kebijakan",
              "venue": "Banjarmasin", "start_date": "2024-09-26", "end_date": "2024-09-27", "quota": 30,
              # All 13 kabupaten/kota are invited: 30 places, 3 for four of them and 2 for the rest.
              "regency_quotas": [{"regency": r, "quota": 3 if i < 4 else 2} for i, r in enumerate(REGENCIES)],
              "target_roles": ["pekerja_sosial", "pendamping_disabilitas", "other"],
              "min_attendance": 1.0, "min_post_score": None},
    "speakers": [("Narasumber Dinas Sosial Provinsi (DEMO)", "Dinas Sosial Provinsi Kalimantan Selatan"),
                 ("Narasumber PRSPDNF (DEMO)", "PRSPDNF Fajar Harapan"),
                 ("Narasumber Yayasan (DEMO)", "Yayasan Daksa Banua"),
                 ("Narasumber Direktorat (DEMO)", "Direktorat Rehabilitasi Sosial Penyandang Disabilitas, "
                                                  "Kementerian Sosial")],
    "sessions": [(0, "09:00", "10:30", "Aksesibilitas layanan sosial", 0),
                 (0, "10:45", "12:15", "Kualitas hidup penyandang disabilitas", 1),
                 (0, "13:30", "15:00", "Perencanaan rehabilitasi berbasis masyarakat", 2),
                 (1, "08:30", "10:00", "Kapasitas pendamping disabilitas", 3),
                 (1, "10:15", "11:45", "Rencana sentra rehabilitasi baru di kabupaten/kota", 0)],
    "participants": 30,
}
UPCOMING = {
    "event": {"kind": "workshop", "title": "Lokakarya Pendampingan Penyandang Disabilitas Mental (DEMO)",
              "theme": "Pendampingan berbasis keluarga", "venue": "Banjarbaru",
              "quota": 30, "regency_quotas": [{"regency": r, "quota": 2} for r in REGENCIES] + [
                  {"regency": reference.PROVINCE, "quota": 4}],
              "target_roles": ["pekerja_sosial", "pendamping_disabilitas"], "min_attendance": 1.0,
              "min_post_score": 60},
    "speakers": [("Narasumber HIMPSI (DEMO)", "HIMPSI Kalimantan Selatan")],
    "sessions": [(0, "09:00", "12:00", "Mengenali gangguan mental dalam keluarga", 0),
                 (1, "09:00", "12:00", "Rencana pendampingan", 0)],
}
GIVEN = ["Rahmat", "Siti", "Fahmi", "Nurul", "Ahmad", "Rina", "Yusuf", "Mariani", "Hendra", "Fitri", "Akhmad",
         "Dewi", "Rizal", "Halimah", "Syahrul", "Laila", "Gusti", "Noor", "Irwan", "Aulia"]
FAMILY = ["Hidayat", "Rahmawati", "Fauzi", "Saputra", "Lestari", "Anwar", "Pratama", "Wahyuni", "Hakim", "Sari"]
POSITIONS = {"pekerja_sosial": "Pekerja Sosial Ahli Pertama", "pendamping_disabilitas": "Pendamping Disabilitas",
             "staf_panti": "Staf Panti", "tksk": "Tenaga Kesejahteraan Sosial Kecamatan", "other": "Kepala Seksi"}


class _Api:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body=None, ok=(200, 201)):
        resp = self.session.request(method, self.base_url + path, json=body, timeout=15)
        if resp.status_code not in ok:
            raise RuntimeError(f"demo training: {method} {path} -> {resp.status_code} {resp.text[:300]}")
        return resp.json()


def _office(regency: str) -> str:
    if regency == reference.PROVINCE:
        return "Dinas Sosial Provinsi Kalimantan Selatan"
    region = reference.REGIONS[regency]
    return f"Dinas Sosial {'Kota' if region.kind == 'kota' else 'Kabupaten'} {region.name}"


def _person(rng: random.Random, i: int, regency: str, role: str) -> dict:
    return {"name": f"{GIVEN[i % len(GIVEN)]} {FAMILY[(i * 7 + len(regency)) % len(FAMILY)]} (DEMO {i + 1})",
            "position": POSITIONS[role], "office": _office(regency), "regency": regency, "role": role,
            "phone": f"0812{rng.randrange(10_000_000, 99_999_999)}", "email": None}


def _create(api: _Api, spec: dict, start: date | None = None) -> dict:
    body = dict(spec["event"], demo=True)
    if start is not None:
        body.update(start_date=start.isoformat(), end_date=(start + timedelta(days=1)).isoformat())
    event = api.call("POST", "/api/v1/trainings", body)
    first = date.fromisoformat(event["start_date"])
    speakers = [api.call("POST", f"/api/v1/trainings/{event['id']}/speakers", {"name": n, "institution": i})["id"]
                for n, i in spec["speakers"]]
    for day, starts, ends, topic, speaker in spec["sessions"]:
        api.call("POST", f"/api/v1/trainings/{event['id']}/sessions", {
            "day": (first + timedelta(days=day)).isoformat(), "starts_at": starts, "ends_at": ends, "topic": topic,
            "speaker_ids": [speakers[speaker]]})
    return event


def _run_past_event(api: _Api, spec: dict, participants: list[dict], rng: random.Random) -> None:
    event = _create(api, spec)
    eid = event["id"]
    api.call("POST", f"/api/v1/trainings/{eid}/status", {"status": "open"})
    registered = [api.call("POST", f"/api/v1/trainings/{eid}/participants", p) for p in participants]
    api.call("POST", f"/api/v1/trainings/{eid}/status", {"status": "ongoing"})
    days = [date.fromisoformat(event["start_date"]) + timedelta(days=d) for d in range(event["days"])]
    # The venue's list, typed in afterwards: most came every day, a few missed one.
    rows = [{"code": p["checkin_code"], "day": day.isoformat()} for i, p in enumerate(registered) for day in days
            if not (len(days) > 1 and i % 9 == 4 and day == days[-1])]
    api.call("POST", f"/api/v1/trainings/{eid}/attendance/batch", {"rows": rows})
    for p in registered:
        pre = rng.randrange(35, 70)
        api.call("PUT", f"/api/v1/trainings/{eid}/participants/{p['id']}/scores",
                 {"pre_score": pre, "post_score": min(100, pre + rng.randrange(-5, 35))})
    sessions = api.call("GET", f"/api/v1/trainings/{eid}")["sessions"]
    for p in registered[::3]:
        for s in sessions:
            api.call("POST", f"/api/v1/trainings/{eid}/sessions/{s['id']}/feedback",
                     {"participant_id": p["id"], "score": rng.choice((3, 4, 4, 5, 5))})
    api.call("POST", f"/api/v1/trainings/{eid}/status", {"status": "completed"})


def seed(base_url: str, trainer_token: str) -> int:
    """At node 63: the two 2024 events and the upcoming one, once; returns how many were created."""
    api = _Api(base_url, trainer_token)
    existing = {e["title"] for e in api.call("GET", "/api/v1/trainings")}
    rng = random.Random("training-demo")
    created = 0
    if BIMTEK["event"]["title"] not in existing:
        # "40 participants from related stakeholders": social workers, companions, panti staff, TKSK.
        roles = ["pekerja_sosial"] * 16 + ["pendamping_disabilitas"] * 8 + ["staf_panti"] * 8 + ["tksk"] * 6 + \
                ["other"] * 2
        regencies = [reference.PROVINCE] * 8 + [REGENCIES[i % len(REGENCIES)] for i in range(32)]
        _run_past_event(api, BIMTEK, [_person(rng, i, regencies[i], roles[i]) for i in range(40)], rng)
        created += 1
    if RAKOR["event"]["title"] not in existing:
        places = [q["regency"] for q in RAKOR["event"]["regency_quotas"] for _ in range(q["quota"])]
        roles = ["pendamping_disabilitas", "pekerja_sosial", "other"]
        _run_past_event(api, RAKOR, [_person(rng, 100 + i, r, roles[i % 3]) for i, r in enumerate(places)], rng)
        created += 1
    if UPCOMING["event"]["title"] not in existing:
        event = _create(api, UPCOMING, start=date.today() + timedelta(days=60))
        api.call("POST", f"/api/v1/trainings/{event['id']}/status", {"status": "open"})
        created += 1
    return created


def nominate(base_url: str, operator_token: str, node: str, count: int = 2, timeout: float = 30.0) -> int:
    """At a regency node: once the upcoming event's invitation arrived, nominate ``count`` of its
    staff (they travel to node 63, are registered there, and the answer comes back)."""
    api = _Api(base_url, operator_token)
    deadline = time.monotonic() + timeout
    invitation = None
    while invitation is None and time.monotonic() < deadline:
        invitation = next((i for i in api.call("GET", "/api/v1/trainings/invitations")
                           if i["title"] == UPCOMING["event"]["title"]), None)
        if invitation is None:
            time.sleep(0.5)
    if invitation is None:
        return 0
    sent = {n["name"] for n in api.call("GET", "/api/v1/trainings/nominations")}
    rng = random.Random(f"nominate-{node}")
    made = 0
    for i in range(count):
        person = _person(rng, 200 + int(node) % 97 + i, node, ("pekerja_sosial", "pendamping_disabilitas")[i % 2])
        if person["name"] not in sent:
            api.call("POST", f"/api/v1/trainings/{invitation['event_id']}/nominations", person)
            made += 1
    return made
