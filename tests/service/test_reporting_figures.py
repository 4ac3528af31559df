"""The hub's figures through the real broker: referral flows (any order, redelivered), occupancy
and its alert, training coverage per 100 open cases, and the ranking of where to build next on a
constructed history, each computed independently here. SQLite and PostgreSQL."""
import contextlib
import dataclasses
import itertools
import statistics
import uuid
from datetime import date, datetime, timedelta, timezone

import kombu
import pytest
import requests

from rehsos import auth, contracts, topology
from rehsos.clock import add_months, month_of, month_start, now
from tests.support import wait_until

NODES = ["6371", "6303", "63"]
_SEQUENCES = itertools.count(1)
FACILITY = "panti-bina-laras"  # at the province's node


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub(request, make_province):
    kwargs = {"database": request.param}
    return make_province(NODES, start_nodes=False, **kwargs)


def event(event_type, payload, node, at=None):
    if event_type.startswith(("case.", "referral.requested")):
        service = "intake"
    else:
        service = "training" if event_type.startswith("training.") else "facilities"
    made = contracts.make_event(event_type, payload, node=node, service=service).with_sequence(next(_SEQUENCES))
    return dataclasses.replace(made, occurred_at=at) if at else made


def publish(hub, events):
    """Publish on the hub as each event's node does, in the order given (one connection per node)."""
    with contextlib.ExitStack() as stack:
        producers = {}
        for node in dict.fromkeys(e.node for e in events):
            uri = hub.hub_amqp(hub.names.node_user(node), hub.node_password(node))
            conn = stack.enter_context(kombu.Connection(uri, transport_options={"confirm_publish": True}))
            producers[node] = conn.Producer()
        for e in events:
            producers[e.node].publish(e.to_json(), exchange=topology.uplink_exchange(e.node),
                                      routing_key=f"{e.node}.intake.x", user_id=hub.names.node_user(e.node),
                                      content_type="application/json", content_encoding="utf-8", retry=False)


def applied(hub, count):
    wait_until(lambda: hub.count("hub", "reporting", "inbox") >= count, timeout=60, message=f"{count} events applied")
    assert [(q["reason"], q["kind"]) for q in get(hub, "/api/v1/quarantine")] == []


def get(hub, path, **query):
    resp = requests.get(hub.url("hub", path), params=query, headers=hub.headers("hub", auth.ANALYST), timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def case(node, region, category="gelandangan"):
    return event("case.opened", {"case_id": str(uuid.uuid4()), "person_key": uuid.uuid4().hex * 2,
                                 "stage": "pendekatan_awal", "age_band": "30-34", "sex": "male", "category": category,
                                 "region": region}, node)


def referral(opened, at, facility=FACILITY, facility_node="63"):
    """The request for a case, and a function giving the facility's answers to it."""
    p = opened.payload
    request = event("referral.requested", {
        "referral_id": str(uuid.uuid4()), "case_id": p["case_id"], "facility_id": facility,
        "facility_node": facility_node, "person_key": p["person_key"], "category": p["category"], "sex": "male",
        "age_band": "30-34", "consent_override": False}, opened.node, at)
    extra = {"referral.accepted": {"reserved_until": datetime(2030, 1, 1, tzinfo=timezone.utc)},
             "referral.rejected": {"reason_code": "no_bed"}, "referral.waitlisted": {"position": 1},
             "admission.recorded": {"admitted_on": None},
             "discharge.recorded": {"discharged_on": None, "outcome": "positive"}}

    def answer(event_type, answered_at):
        dated = {k: answered_at.date() if v is None else v for k, v in extra[event_type].items()}
        return event(event_type, {"referral_id": request.payload["referral_id"], "case_id": p["case_id"],
                                  "referring_node": opened.node, "facility_id": facility, **dated},
                     facility_node, answered_at)
    return request, answer


T = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)


def hours(n):
    return T + timedelta(hours=n)


def scenario(node):
    """Three cases of ``node`` referred to the panti: waitlisted → accepted → admitted after 3
    days; rejected after 10 hours; accepted after 2 hours. Returns (cases, requests, answers)."""
    cases = [case(node, node) for _ in range(3)]
    (r1, a1), (r2, a2), (r3, a3) = (referral(c, T) for c in cases)
    answers = [a1("referral.waitlisted", hours(5)), a1("referral.accepted", hours(30)),
               a1("admission.recorded", hours(72)), a2("referral.rejected", hours(10)),
               a3("referral.accepted", hours(2))]
    return cases, [r1, r2, r3], answers


def flow(hub, regency, **query):
    [row] = [f for f in get(hub, "/api/v1/figures/referrals", regency=regency, **query)["flows"]
             if f["facility_id"] == FACILITY]
    return {k: v for k, v in row.items() if k not in ("regency", "regency_name")}


def test_referral_timelines_give_the_same_figures_whatever_the_order_and_redeliveries(hub):
    cases, requests_, answers = scenario("6371")
    publish(hub, cases + requests_ + answers)  # as they happened
    other_cases, other_requests, other_answers = scenario("6303")
    # The other regency's: answers first (the hub retries them until their request has applied),
    # newest first, then the requests, then every answer once more (redelivered). Fewer answers
    # ahead of their requests than the consumer has workers: each retry holds one (see the report).
    publish(hub, other_cases + list(reversed(other_answers)))
    publish(hub, other_requests + other_answers)
    applied(hub, 2 * (3 + 3 + 5))

    in_order = wait_until(lambda: flow(hub, "6371"), message="6371 flow")
    shuffled = wait_until(lambda: (f := flow(hub, "6303"))["answered"] == 3 and f["admitted"] == 1 and f,
                          message="6303 flow")
    assert shuffled == in_order
    # Computed by hand: first answers after 5, 10 and 2 hours; one admission after 3 days.
    assert in_order["referrals"] == 3 and in_order["answered"] == 3
    assert in_order["outcomes"] == {"requested": 0, "waitlisted": 0, "accepted": 1, "rejected": 1, "admitted": 1,
                                    "discharged": 0}
    assert (in_order["response_hours_median"], in_order["response_hours_p90"]) == (5.0, 9.0)  # 5 + 0.8 × 5
    assert (in_order["admission_days_median"], in_order["admission_days_p90"]) == (3.0, 3.0)

    # Months (WITA) filter the requests: all three fell in March 2026.
    assert flow(hub, "6371", **{"from": "2026-03", "to": "2026-03"})["referrals"] == 3
    assert get(hub, "/api/v1/figures/referrals", regency="6371", **{"from": "2026-04"})["flows"] == []
    bad = requests.get(hub.url("hub", "/api/v1/figures/referrals"),
                       params={"from": "2026-13", "to": "2026-01", "regency": "9999", "category": "x"},
                       headers=hub.headers("hub", auth.ANALYST), timeout=10)
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"from", "regency", "category"}
    backwards = requests.get(hub.url("hub", "/api/v1/figures/referrals"), params={"from": "2026-03", "to": "2026-01"},
                             headers=hub.headers("hub", auth.ANALYST), timeout=10)
    assert backwards.status_code == 422 and set(backwards.json()["error"]["fields"]) == {"to"}


def snapshot(facility, regency, units, as_of, node="63"):
    return event("capacity.changed", {
        "facility_id": facility, "name": f"Panti {facility}", "kind": "panti", "regency": regency,
        "categories": ["gelandangan"], "disability_types": [], "status": "operational",
        "units": [{"name": name, "sex": "mixed", "capacity": beds, "occupied": occupied, "free": beds - occupied}
                  for name, beds, occupied in units], "as_of": as_of}, node)


def test_occupancy_raises_the_alert_at_90_percent_and_counts_the_waitlist(hub):
    as_of = now() - timedelta(hours=48)
    opened = case("6371", "6371")
    request, answer = referral(opened, hours(0), facility="full")
    publish(hub, [
        snapshot("full", "6372", [("Putra", 10, 9), ("Putri", 10, 9)], as_of),  # 90 %: alert
        snapshot("almost", "6372", [("Putra", 19, 17)], as_of),  # 89.5 %: none
        snapshot("mixed", "6372", [("Putra", 10, 10), ("Putri", 10, 4)], as_of),  # 70 % overall, one unit full
        snapshot("elsewhere", "6303", [("Ruang", 4, 4)], as_of, node="6303"),
        opened, request, answer("referral.waitlisted", hours(1))])
    applied(hub, 7)

    figures = get(hub, "/api/v1/figures/facilities", regency="6372")
    by_id = {f["facility_id"]: f for f in figures["facilities"]}
    assert set(by_id) == {"full", "almost", "mixed"} and figures["alerts"] == 1
    full, almost, mixed = by_id["full"], by_id["almost"], by_id["mixed"]
    assert (full["beds"], full["occupied"], full["free"], full["occupancy_percent"], full["alert"]) == (20, 18, 2,
                                                                                                        90.0, True)
    assert (almost["occupancy_percent"], almost["alert"]) == (89.5, False)
    assert (mixed["occupancy_percent"], mixed["alert"]) == (70.0, False)
    assert [(u["name"], u["occupancy_percent"], u["alert"]) for u in mixed["units"]] == [("Putra", 100.0, True),
                                                                                         ("Putri", 40.0, False)]
    assert full["waitlisted"] == 1 and almost["waitlisted"] == 0
    assert full["as_of"] == as_of.isoformat() and 47.9 <= full["data_age_hours"] < 60
    assert [f["facility_id"] for f in get(hub, "/api/v1/figures/facilities", regency="6303")["facilities"]] == [
        "elsewhere"]
    # Accepted off the waiting list: no longer counted there.
    publish(hub, [answer("referral.accepted", hours(3))])
    wait_until(lambda: all(f["waitlisted"] == 0 for f in get(hub, "/api/v1/figures/facilities")["facilities"]),
               message="accepted off the waitlist")


def test_training_coverage_per_100_open_cases_beside_the_caseload(hub):
    cases = [case("6371", "6371") for _ in range(5)]
    closed = event("case.closed", {"case_id": cases[0].payload["case_id"], "outcome": "positive",
                                   "stage_before": "resosialisasi"}, "6371")
    training_id = str(uuid.uuid4())
    as_of = now()
    announced = event("training.event_changed", {
        "event_id": training_id, "kind": "bimtek", "title": "Bimtek Pekerja Sosial", "theme": "Tuna sosial",
        "venue": "Banjarbaru", "start_date": date(2026, 2, 2), "end_date": date(2026, 2, 4), "quota": 40,
        "regency_quotas": [], "target_roles": ["pekerja_sosial"], "status": "completed", "topics": ["Asesmen"],
        "demo": False, "as_of": as_of}, "63")

    def cell(regency, role, completed, scored=0, pre=0, post=0):
        return {"regency": regency, "role": role, "registered": completed + 1, "waitlisted": 0,
                "attended": completed, "completed": completed, "scored": scored, "pre_total": pre, "post_total": post}
    summary = event("training.summary", {"event_id": training_id, "status": "completed", "days": 3, "as_of": as_of,
                                         "cells": [cell("6371", "pekerja_sosial", 2, 2, 100, 150),
                                                   cell("6371", "pendamping_disabilitas", 1, 1, 40, 50),
                                                   cell("6371", "staf_panti", 5),
                                                   cell("6303", "pekerja_sosial", 4, 4, 200, 200)]}, "63")
    publish(hub, cases + [closed, announced, summary])
    applied(hub, 8)

    figures = get(hub, "/api/v1/figures/training")
    row = next(r for r in figures["regencies"] if r["regency"] == "6371")
    # 4 open cases; 2 social workers and 1 companion trained (staff of a panti are not counted).
    assert (row["open_cases"], row["trained_pekerja_sosial"], row["trained_pendamping_disabilitas"], row["trained"]) \
        == (4, 2, 1, 3)
    assert (row["pekerja_sosial_per_100_open_cases"], row["pendamping_disabilitas_per_100_open_cases"],
            row["trained_per_100_open_cases"], row["open_cases_per_trained"]) == (50.0, 25.0, 75.0, 1.3)
    in_6303 = next(r for r in figures["regencies"] if r["regency"] == "6303")
    assert (in_6303["trained"], in_6303["trained_per_100_open_cases"]) == (4, None)  # no open cases: no ratio
    [whole] = figures["events"]
    # Pre 340 / 7 scored, post 400 / 7: a gain of 60 / 7.
    assert (whole["scored"], whole["gain"], whole["theme"]) == (7, round(400 / 7 - 340 / 7, 1), "Tuna sosial")
    [only_6371] = get(hub, "/api/v1/figures/training", regency="6371")["events"]
    assert (only_6371["scored"], only_6371["pre_average"], only_6371["post_average"], only_6371["gain"]) == (
        3, 46.7, 66.7, 20.0)
    assert [(t["theme"], t["scored"]) for t in figures["by_theme"]] == [("Tuna sosial", 7)]
    elsewhere = get(hub, "/api/v1/figures/training", category="pengemis")["regencies"]
    assert next(r for r in elsewhere if r["regency"] == "6371")["trained_per_100_open_cases"] is None


# Requests per month (oldest first) and how many of them were refused in the same month; the
# others wait or are admitted and stay. Beds and plans per regency.
HISTORY = {
    "6301": ([2, 1, 3, 2, 2, 4, 1, 3, 2, 3, 2, 3], [0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0]),
    "6302": ([3, 2, 2, 3, 2, 2, 3, 2, 2, 3, 2, 2], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
    "6304": ([1, 3, 3, 4, 4, 5, 5, 6], [0, 0, 1, 0, 1, 0, 0, 1]),
    "6305": ([2, 2, 3], [0, 0, 0]),  # three months: projected, not reliable
}
BEDS = {"6302": 10}
PLANNED = {"6304": 20}


def test_where_to_build_ranks_regencies_by_projected_shortfall(hub):
    last = add_months(month_of(now()), -1)
    events, expected = [], {}
    for regency, (counts, refused) in HISTORY.items():
        months = [add_months(last, i - len(counts) + 1) for i in range(len(counts))]
        demand, series = 0, []
        for i, (month, n, r) in enumerate(zip(months, counts, refused)):
            day = month_start(month) + timedelta(days=4)
            for k in range(n):
                opened = case("63", regency)
                request, answer = referral(opened, day)
                events += [opened, request]
                if k < r:
                    events.append(answer("referral.rejected", day + timedelta(days=10)))
                elif k % 2:
                    events.append(answer("admission.recorded", day + timedelta(days=8)))
            demand += n - r
            series.append(demand)
        # Independently: the standard library's least-squares line, 12 months past the last.
        fit = statistics.linear_regression(range(len(series)), series)
        projected = max(fit.intercept + fit.slope * (len(series) - 1 + 12), 0)
        expected[regency] = (series, projected, projected - BEDS.get(regency, 0) - PLANNED.get(regency, 0))
    events.append(snapshot("panti-6302", "6302", [("Ruang", 10, 6)], now()))
    events.append(event("plan.proposed", {"plan_id": str(uuid.uuid4()), "regency": "6304", "name": "Sentra Baru",
                                          "kind": "sentra", "categories": ["gelandangan"], "planned_capacity": 20,
                                          "target_year": 2028, "status": "usulan"}, "63"))
    publish(hub, events)
    applied(hub, len(events))

    figures = get(hub, "/api/v1/figures/where-to-build")
    ranked = [r for r in figures["regencies"] if r["rank"] is not None]
    assert [r["regency"] for r in ranked] == sorted(expected, key=lambda code: -expected[code][2])
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4]
    for row in ranked:
        series, projected, shortfall = expected[row["regency"]]
        assert [h["demand"] for h in row["history"]] == series
        assert row["history"][-1]["month"] == last == figures["history_until"]
        assert row["projected_demand"] == pytest.approx(projected, abs=0.051)
        assert row["projected_shortfall"] == pytest.approx(shortfall, abs=0.051)
        assert row["projected_demand_low"] <= row["projected_demand"] <= row["projected_demand_high"]
        assert row["reliable"] == (len(series) >= 6)
        assert row["people_waiting"] + row["people_in_bed"] == series[-1]
    by_code = {r["regency"]: r for r in figures["regencies"]}
    assert (by_code["6302"]["beds"], by_code["6304"]["planned_beds"]) == (10, 20)
    assert all(r["rank"] is None and r["history"] == [] for c, r in by_code.items() if c not in HISTORY)
    assert "kuadrat terkecil" in figures["method"] and "semua kabupaten/kota" in figures["method"]
    assert figures["projected_month"] == add_months(last, 12)

    # One regency keeps its province-wide rank; another category has no history at all.
    [one] = get(hub, "/api/v1/figures/where-to-build", regency="6302")["regencies"]
    assert one["rank"] == by_code["6302"]["rank"]
    assert all(r["rank"] is None for r in get(hub, "/api/v1/figures/where-to-build",
                                              category="pengemis")["regencies"])
    bad = requests.get(hub.url("hub", "/api/v1/figures/where-to-build"), params={"regency": "63", "from": "2026-01"},
                       headers=hub.headers("hub", auth.ANALYST), timeout=10)
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"regency", "from"}
