"""The OpenAPI documents tell the truth: schemathesis, with every check on, finds no server error,
no status the document does not list, no method answered other than 405, no answer unlike its
schema, on the province node and the hub.

A schema-valid request may still be refused (ST202), but only by a rule the document states: a
422 whose fields are all named by the operation's ``x-rules`` (a rule against today, against the
node's own data, or between items, which JSON Schema cannot carry). Anything else, a limit the
document leaves out, fails the test."""
from __future__ import annotations

import os

import pytest
import schemathesis
from schemathesis.engine import events, from_schema

from rehsos import auth
from rehsos_tools.reliability.fuzz import field_paths, stated

pytestmark = pytest.mark.broker

VALID_REFUSED = "ST202"


def fuzz(url: str, token: str, *, max_examples: int, seed: int) -> tuple[int, list[tuple[str, str, str]], int]:
    """Cases sent; (code, operation, message) of every failed check or error of the run, a
    refusal by a stated rule left out; and how many refusals were by a stated rule."""
    config = schemathesis.Config.from_dict({
        "seed": seed, "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"max-examples": max_examples, "database": "none"},
    })
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json", config=config)
    cases, failures, by_rule = 0, [], 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            cases += len(recorder.cases)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    case = recorder.cases[case_id].value
                    interaction = recorder.interactions.get(case_id)
                    if failure.code == VALID_REFUSED and stated(case.operation, interaction and interaction.response):
                        by_rule += 1
                        continue
                    body = (interaction.request.body or b"")[:2000] if interaction else b""
                    failures.append((failure.code, case.operation.label,
                                     f"{_first_line(failure)} {body!r}"))
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            failures.append(("error", getattr(event, "label", ""), repr(getattr(event, "value", event))))
    return cases, sorted(set(failures)), by_rule


def _first_line(failure) -> str:
    """A failure's message can be empty (a response-time failure, say): then its title."""
    return next(iter((failure.message or "").splitlines()), getattr(failure, "title", type(failure).__name__))


def test_field_paths_leave_item_positions_out():
    assert field_paths({"rows": {"0": {"code": ["x"]}, "3": {"day": ["y"]}}, "units": ["z"]}) == {
        "rows.code", "rows.day", "units"}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name,max_examples", [("63", 4), ("hub", 20)])
def test_fuzzing_every_operation_finds_no_server_error_and_no_undocumented_answer(make_province, name, max_examples):
    province = make_province(["63"])
    cases, failures, by_rule = fuzz(province.url(name, ""), province.tokens[name][auth.ADMIN],
                                    max_examples=max_examples,
                                    seed=int(os.environ.get("FUZZ_SEED", "20261126")))  # another, to explore
    print(f"{cases} cases; {by_rule} refused by a rule the document states")
    for code, operation, message in failures:
        print(f"{code} {operation}: {message}")
    assert cases > 100
    assert failures == []
