"""The access matrix: every route of every OpenAPI document x every token a caller could hold.

Expectations come from the document's ``x-roles``: a role listed there gets past the door
(anything but 401/403, and never a 5xx), any other role of the office gets 403, a token of
another office 403, no token, a made-up token, a revoked and an expired one 401. Paths name
real records of the run where it has them (a person, a case), so a refusal that leaks the
record would show, and a number that no record has elsewhere; no error body may contain a name, NIK, address or birth date the run
registered.
"""
from __future__ import annotations

import itertools
import logging
import re
import secrets
import uuid
from collections import Counter

import requests

from rehsos_tools.reliability.people import Register, find_personal_data
from rehsos_tools.reliability.province import HUB, Province
from rehsos_tools.reliability.report import Section

log = logging.getLogger("rehsos.reliability")

BODY_METHODS = {"post", "put", "patch"}
_PARAM = re.compile(r"{([^}]+)}")
ALLOWED = "allowed"  # past the auth check: any status but 401, 403 and 5xx


# A parameter without a real record gets a value its route's converter accepts (the documents do
# not say which: a UUID-long string, an int, a bounded string), found by asking without a token:
# a route that matched answers 401, one that did not 404.
UNKNOWN_IDS = (str(uuid.uuid4()), "987654321")


def resolve_path(session: requests.Session, base_url: str, path: str, known: dict[str, str],
                 learned: dict[str, str]) -> str | None:
    """``path`` with every ``{param}`` filled so that the route matches, or None."""
    params = _PARAM.findall(path)
    choices = [[v for v in (known.get(p), learned.get(p), *UNKNOWN_IDS) if v] for p in params]
    for values in itertools.product(*choices):
        filled = dict(zip(params, values))
        resolved = _PARAM.sub(lambda m: filled[m.group(1)], path)
        if not params or session.request("OPTIONS", base_url + resolved, timeout=15).status_code != 404:
            learned.update(filled)
            return resolved
    return None


def _request(session: requests.Session, method: str, url: str, operation: dict, token: str | None):
    headers = {"X-Purpose": "uji keandalan"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    kwargs: dict = {}
    if method in BODY_METHODS:
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content or not content:
            kwargs["json"] = {}
        else:
            kwargs["data"], headers["Content-Type"] = b"", next(iter(content))
    return session.request(method.upper(), url, headers=headers, timeout=15, **kwargs)


def callers(province: Province, site: str, roles: list[str]) -> list[tuple[str, str | None, object]]:
    """(caller, token, expectation) for one route of ``site`` whose document allows ``roles``."""
    own = province.tokens[site]
    allowed_role = next((r for r in roles if r in own), None)
    other_site = province.nodes[1] if site != province.nodes[1] else province.nodes[0]
    other = province.tokens[other_site]
    rows: list[tuple[str, str | None, object]] = [
        (f"role:{role}", token, ALLOWED if role in roles else 403) for role, token in own.items()]
    # Another office's token, of a role the route would allow there (or any, for the hub's routes).
    other_role = next((r for r in roles if r in other), next(iter(other)))
    rows.append((f"other_node:{other_site}:{other_role}", other[other_role], 403))
    rows.append(("missing", None, 401))
    rows.append(("wrong", f"rk_{province.settings[site].node}_{secrets.token_urlsafe(32)}", 401))
    if allowed_role:
        rows.append((f"revoked:{allowed_role}", province.revoked[site][allowed_role], 401))
        if province.expired is not None:
            rows.append((f"expired:{allowed_role}", province.expired[site][allowed_role], 401))
    return rows


def run(province: Province, people: Register, known: dict[str, dict[str, str]]) -> Section:
    """``known``: per site, path parameter name -> a real id of the run (``case_id``...)."""
    section = Section("access_matrix")
    if province.expired is None:
        section.cannot_yet("expired tokens", "tokens have no expiry yet (no expires* column in api_token)")
    needles = people.needles()
    session = requests.Session()
    statuses: Counter = Counter()
    routes = 0
    for site in [province.nodes[0], HUB]:
        doc = session.get(province.url(site, "/api/v1/openapi.json"), timeout=15).json()
        learned: dict[str, str] = {}
        for path, operations in sorted(doc["paths"].items()):
            resolved = resolve_path(session, province.url(site, ""), path, known.get(site, {}), learned)
            for method, operation in sorted(operations.items()):
                routes += 1
                if resolved is None:
                    section.add(False, site=site, route=f"{method.upper()} {path}",
                                error="no value of its path parameters reaches the route")
                    continue
                url = province.url(site, resolved)
                roles = operation.get("x-roles")
                rows = (callers(province, site, roles) if roles is not None
                        else [("missing (public route)", None, ALLOWED)])
                for caller, token, expected in rows:
                    cell = {"site": site, "route": f"{method.upper()} {path}", "caller": caller,
                            "expected": expected}
                    try:
                        resp = _request(session, method, url, operation, token)
                    except requests.RequestException as exc:
                        section.add(False, **cell, error=f"{type(exc).__name__}: {exc}")
                        continue
                    statuses[resp.status_code] += 1
                    cell["status"] = resp.status_code
                    if expected == ALLOWED:
                        ok = resp.status_code not in (401, 403) and resp.status_code < 500
                    else:
                        ok = resp.status_code == expected
                    if resp.status_code >= 400:
                        leaks = find_personal_data(resp.text, needles)
                        if leaks:
                            cell["personal_data_in_error_body"] = leaks
                            ok = False
                    section.add(ok, **cell)
    section.figures.update(routes=routes, statuses={str(k): v for k, v in sorted(statuses.items())})
    return section
