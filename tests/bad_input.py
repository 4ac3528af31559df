"""The bad-input table shared by every service's tests: for each endpoint with a body, bodies that
must be refused with a message per field, bodies that cannot be read at all, and a check that
nothing was written in between."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import requests
import sqlalchemy as sa

UNREADABLE = [
    ("not JSON", b"{not json", 400, "invalid_json"),
    ("empty body", b"", 400, "empty_body"),
    ("not UTF-8", b"\xff\xfe\x00", 400, "invalid_json"),
    ("JSON array", b"[]", 422, "validation_failed"),
    ("JSON null", b"null", 422, "validation_failed"),
    ("JSON string", b'"hallo"', 422, "validation_failed"),
]


@dataclass
class Endpoint:
    name: str
    method: str
    path: str
    prepare: Callable[[object], dict]
    valid: dict | Callable[[], dict]
    bad: list = field(default_factory=list)  # (label, body, expected fields)
    role: str = "operator"


def well_formed(messages) -> bool:
    """A field's messages: a non-empty list of non-empty texts, or per key/item a dict of such."""
    if isinstance(messages, list):
        return bool(messages) and all(isinstance(m, str) and m.strip() for m in messages)
    if isinstance(messages, dict):
        return bool(messages) and all(well_formed(m) for m in messages.values())
    return False


def send(url: str, method: str, headers: dict, body=None, data: bytes | None = None) -> requests.Response:
    if data is not None:
        return requests.request(method, url, data=data, headers={**headers, "Content-Type": "application/json"},
                                timeout=10)
    return requests.request(method, url, json=body, headers=headers, timeout=10)


def row_counts(province, node: str, service: str, tables) -> dict:
    """Rows per table of a service's database at a node: the "nothing written" measure."""
    engine = province.engine(node, service)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
    finally:
        engine.dispose()


def write_endpoints(spec: dict, service: str) -> set[tuple[str, str]]:
    """(method, path) of every POST/PUT/PATCH operation of a service in an OpenAPI document."""
    return {(method.upper(), path) for path, ops in spec["paths"].items() for method, op in ops.items()
            if method in ("post", "put", "patch") and op["operationId"].startswith(f"{service}.")}


def problems_with(endpoint: Endpoint, url: str, headers: dict, counts: Callable[[], dict]) -> list[str]:
    """Every bad and unreadable body of the endpoint: what was not refused as it should have been,
    and any rows written by a refused request."""
    before = counts()
    problems = []

    def unchanged(label):
        nonlocal before
        now = counts()
        if now != before:
            problems.append(f"{label}: rows written: {before} -> {now}")
            before = now

    for label, body, expected in endpoint.bad:
        resp = send(url, endpoint.method, headers, body)
        fields = resp.json().get("error", {}).get("fields") or {}
        if resp.status_code != 422:
            problems.append(f"{label}: status {resp.status_code} (expected 422): {resp.text[:300]}")
        elif set(fields) != expected:
            problems.append(f"{label}: fields {sorted(fields)} (expected {sorted(expected)})")
        elif not all(well_formed(m) for m in fields.values()):
            problems.append(f"{label}: malformed messages {fields}")
        unchanged(label)

    for label, data, status, code in UNREADABLE:
        resp = send(url, endpoint.method, headers, data=data)
        error = resp.json().get("error", {})
        if (resp.status_code, error.get("code")) != (status, code):
            problems.append(f"{label}: {resp.status_code} {error.get('code')} (expected {status} {code})")
        elif not well_formed((error.get("fields") or {}).get("_body")):
            problems.append(f"{label}: no message for _body: {error}")
        unchanged(label)
    return problems
