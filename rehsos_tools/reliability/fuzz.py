"""Fuzzing every OpenAPI document with schemathesis, a bounded number of examples per operation.

Each operation is called with a token of a role its ``x-roles`` allow (so the fuzzer reaches
the validation and the handler, not only the door), with schema-valid and schema-invalid
data, and every response goes through all of schemathesis' checks. A server error or a status
code the document does not declare is a failure; what the other checks find is counted beside.
"""
from __future__ import annotations

import logging
import os
import time
from collections import Counter

import requests

from rehsos_tools.reliability.province import HUB, Province
from rehsos_tools.reliability.report import Section

log = logging.getLogger("rehsos.reliability")


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
                            checks[f"{getattr(failure, 'code', '')} {getattr(failure, 'title', type(failure).__name__)}"
                                   .strip()] += 1

                try:
                    call()
                except Exception as exc:  # noqa: BLE001 - a strategy that cannot generate is a finding too
                    checks[f"not generated: {type(exc).__name__}"] += 1
            requests_made += calls
            findings.update(checks)
            ok = not server_errors and not undocumented
            case = {"operation": label, "requests": calls}
            if server_errors:
                case["server_errors"] = dict(server_errors)
            if undocumented:
                case["undocumented_statuses"] = {str(k): v for k, v in undocumented.items()}
            if checks:
                case["other_checks"] = dict(checks)
            section.add(ok, **case)
    section.figures.update(
        requests=requests_made, max_examples_per_mode=max_examples,
        server_errors=sum(sum(c.get("server_errors", {}).values()) for c in section.cases),
        undocumented_statuses=sum(sum(c.get("undocumented_statuses", {}).values()) for c in section.cases),
        other_checks=dict(findings.most_common()))
    if skipped:
        section.figures["skipped_over_time_budget"] = skipped
        section.add(False, operation="time budget", error=f"{len(skipped)} operations not fuzzed within {budget:.0f}s")
    return section
