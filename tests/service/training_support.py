"""What the service-level training tests share: requests as a role of the node, an event in the
status a test needs, participants with distinct names (digits do not tell names apart: the
duplicate check folds them away)."""
from __future__ import annotations

import itertools

import requests

from rehsos import auth

NODE = "63"
FIRST_NAMES = ("Ahmad", "Budi", "Citra", "Dewi", "Eka", "Fajar", "Gusti", "Hendra", "Indah", "Joko", "Kartini",
               "Lukman", "Mariani", "Nurul", "Oktavia", "Puteri", "Rahmat", "Syahrani", "Taufik", "Wulan")
LAST_NAMES = ("Saputra", "Rahman", "Hidayat", "Lestari", "Noor", "Wahyuni", "Fitriani", "Maulana")
_names = (f"{first} {last}" for last, first in itertools.cycle(itertools.product(LAST_NAMES, FIRST_NAMES)))

EVENT = {"kind": "bimtek", "title": "Bimtek Pelayanan Tuna Sosial", "theme": "Pelayanan tuna sosial",
         "venue": "Banjarmasin", "start_date": "2024-12-04", "end_date": "2024-12-04", "quota": 10,
         "target_roles": [], "min_attendance": 1.0, "min_post_score": None}
RAKOR = {**EVENT, "kind": "rakor", "title": "Rakor Rehabilitasi Sosial Penyandang Disabilitas",
         "theme": "Rehabilitasi sosial penyandang disabilitas", "start_date": "2024-09-26", "end_date": "2024-09-27"}


def call(node, method, path, body=None, role=auth.TRAINER, token=None, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else node.headers(NODE, role)
    headers.update(kwargs.pop("headers", {}))
    if body is not None:
        kwargs["json"] = body
    return requests.request(method, node.url(NODE, path), headers=headers, timeout=30, **kwargs)


def ok(resp: requests.Response, status: int | tuple = (200, 201)):
    assert resp.status_code in ((status,) if isinstance(status, int) else status), resp.text
    return resp.json()


def new_event(node, status: str = "draft", body: dict = EVENT, **overrides) -> dict:
    """An event of its own for a test, moved on to ``status`` (draft, open or ongoing)."""
    event = ok(call(node, "POST", "/api/v1/trainings", {**body, **overrides}), 201)
    for step in ("open", "ongoing")[:("draft", "open", "ongoing").index(status)]:
        event = move(node, event["id"], step)
    return event


def move(node, event_id: str, status: str, reason: str | None = None) -> dict:
    body = {"status": status, **({"reason": reason} if reason else {})}
    return ok(call(node, "POST", f"/api/v1/trainings/{event_id}/status", body))


def person(regency: str = "6371", role: str = "pekerja_sosial", **overrides) -> dict:
    return {"name": next(_names), "position": "Pekerja Sosial Ahli Pertama", "office": "Dinas Sosial",
            "regency": regency, "role": role, "phone": "081234567890", "email": "peserta@example.org", **overrides}


def register(node, event_id: str, status: int = 201, **overrides) -> dict:
    return ok(call(node, "POST", f"/api/v1/trainings/{event_id}/participants", person(**overrides)), status)


def participants(node, event_id: str, **params) -> list[dict]:
    return ok(call(node, "GET", f"/api/v1/trainings/{event_id}/participants", params=params))
