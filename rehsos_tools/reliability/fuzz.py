"""Fuzzing every OpenAPI document with schemathesis, a bounded number of examples per operation.

Each operation is called with a token of a role its ``x-roles`` allow (so the fuzzer reaches
the validation and the handler, not only the door), with schema-valid and schema-invalid
data, and every response goes through all of schemathesis' checks. A server error, a status
code the document does not declare, or a schema-valid request refused by a rule the document
does not state (``x-rules``) is a failure; what the other checks find is counted beside.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from collections import Counter

import requests

from rehsos_tools.reliability.province import HUB, Province
from rehsos_tools.reliability.report import Section

log = logging.getLogger("rehsos.reliability")


def field_paths(fields: dict, prefix: str = "") -> set[str]:
    """``{"rows": {"0": {"code": [...]}}}`` -> ``{"rows.code"}``: item positions left out."""
    paths = set()
    for key, value in fields.items():
        path = prefix if re.fullmatch(r"[0-9]+", key) else f"{prefix}{key}."
        if isinstance(value, dict):
            paths |= field_paths(value, path)
        else:
            paths.add(path.rstrip("."))
    return paths


def refused_fields(response) -> set[str]:
    """The field paths a refusal names (never the values sent)."""
    try:
        return field_paths(json.loads(response.content)["error"].get("fields") or {})
    except (ValueError, KeyError, TypeError, AttributeError):
        return set()


def stated(operation, response) -> bool:
    """Whether a refusal is one the operation's document states (its ``x-rules``)."""
    if response is None or response.status_code != 422:
        return False
    rules = {rule["field"] for rule in operation.definition.raw.get("x-rules", [])}
    paths = refused_fields(response)
    return bool(paths) and all(any(p == r or p.startswith(r + ".") for r in rules) for p in paths)


def _documented(status: int, responses: dict) -> bool:
    return str(status) in responses or f"{str(status)[0]}XX" in responses or "default" in responses


def run(province: Province, max_examples: int = 10, budget: float = 240.0) -> Section:
    section = Section("fuzzing")
    # Hypothesis keeps caches in ./.hypothesis unless told otherwise: keep them with the run.
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(province.paths.var / "hypothesis"))
    try:
        import schemathesis
        from hypothesis import HealthCheck, Phase, given, settings
        from schemathesis import GenerationMode
    except ImportError as exc:
        section.cannot_yet("schemathesis", f"not installed ({exc.name}); it comes with the test extra")
        return section
    deadline = time.monotonic() + budget
    findings: Counter = Counter()
    requests_made = 0
    skipped: list[str] = []
    for site in [province.nodes[0], HUB]:
        url = province.url(site, "/api/v1/openapi.json")
        schema = schemathesis.openapi.from_url(url)
        session = requests.Session()
        for result in schema.get_all_operations():
            operation = result.ok()
            label = f"{site} {operation.label}"
            if time.monotonic() > deadline:
                skipped.append(label)
                continue
            raw = operation.definition.raw
            roles = raw.get("x-roles") or []
            role = next((r for r in roles if r in province.tokens[site]), None)
            headers = {"X-Purpose": "uji keandalan"}
            if role:
                headers["Authorization"] = f"Bearer {province.tokens[site][role]}"
            responses = raw.get("responses", {})
            server_errors: Counter = Counter()
            undocumented: Counter = Counter()
            unstated: Counter = Counter()  # a schema-valid request refused by no rule the document states
            checks: Counter = Counter()
            calls = 0

            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @given(operation.as_strategy(generation_mode=mode))
                @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
                          suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
                def call(case):
                    nonlocal calls
                    try:
                        response = case.call(session=session, headers=headers, timeout=15)
                    except requests.RequestException as exc:
                        checks[f"no answer: {type(exc).__name__}"] += 1
                        return
                    calls += 1
                    if response.status_code >= 500:
                        server_errors[response.status_code] += 1
                    if not _documented(response.status_code, responses):
                        undocumented[response.status_code] += 1
                    try:
                        case.validate_response(response, headers=headers)
                    except (KeyboardInterrupt, SystemExit):
                        raise
                    except BaseException as group:  # schemathesis' FailureGroup is a BaseExceptionGroup
                        for failure in getattr(group, "exceptions", [group]):
                            if getattr(failure, "code", "") == "ST202" and not stated(operation, response):
                                unstated[" ".join([str(response.status_code), *sorted(refused_fields(response))])] += 1
                            checks[f"{getattr(failure, 'code', '')} {getattr(failure, 'title', type(failure).__name__)}"
                                   .strip()] += 1

                try:
                    call()
                except Exception as exc:  # noqa: BLE001 - a strategy that cannot generate is a finding too
                    checks[f"not generated: {type(exc).__name__}"] += 1
            requests_made += calls
            findings.update(checks)
            ok = not server_errors and not undocumented and not unstated
            case = {"operation": label, "requests": calls}
            if server_errors:
                case["server_errors"] = dict(server_errors)
            if undocumented:
                case["undocumented_statuses"] = {str(k): v for k, v in undocumented.items()}
            if unstated:
                case["valid_refused_by_no_stated_rule"] = {str(k): v for k, v in unstated.items()}
            if checks:
                case["other_checks"] = dict(checks)
            section.add(ok, **case)
    section.figures.update(
        requests=requests_made, max_examples_per_mode=max_examples,
        server_errors=sum(sum(c.get("server_errors", {}).values()) for c in section.cases),
        undocumented_statuses=sum(sum(c.get("undocumented_statuses", {}).values()) for c in section.cases),
        valid_refused_by_no_stated_rule=sum(sum(c.get("valid_refused_by_no_stated_rule", {}).values())
                                            for c in section.cases),
        other_checks=dict(findings.most_common()))
    if skipped:
        section.figures["skipped_over_time_budget"] = skipped
        section.add(False, operation="time budget", error=f"{len(skipped)} operations not fuzzed within {budget:.0f}s")
    return section
