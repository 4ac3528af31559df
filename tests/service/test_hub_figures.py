"""A generated province history (all 14 nodes, two years) published onto a real hub through the
broker, each node as itself, one regency's stream shuffled: the figures API equals what the test
computes from the same events (tests/figures_expectation.py), on SQLite and on PostgreSQL."""
import csv
import dataclasses
import io
import random

import kombu
import openpyxl
import pytest
import requests
from openapi_spec_validator import validate as validate_openapi

from rehsos import auth, reference, topology
from rehsos.contracts import routing_key
from rehsos_tools import history
from tests.bad_input import well_formed
from tests.figures_expectation import Expectation, TUNA_SOSIAL, months_between, year_before
from tests.support import PostgresDatabases, Province, wait_until

FIRST, LAST = "2024-01", "2025-12"
SILENT = ("6305", "2024-09")
SHUFFLED = "6372"  # its stream arrives in random order


def publish(province: Province, node: str, events) -> None:
    """As the node's shovel would: logged in as the node, user_id stamped, confirmed."""
    user = province.names.node_user(node)
    with kombu.Connection(province.hub_amqp(user, province.node_password(node)),
                          transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for event in events:
            producer.publish(event.to_json(), exchange=topology.uplink_exchange(node), routing_key=routing_key(event),
                             user_id=user, content_type="application/json", content_encoding="utf-8", retry=False)


@pytest.fixture(scope="module")
def generated():
    return history.generate(seed=2026, first=FIRST, last=LAST, persons_per_month=0.8, silent=SILENT)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub(request, broker, tmp_path_factory, generated):
    """A hub (on the database asked for) with every node's user and uplink (nodes not running),
    once the history is applied; shared by the module's tests, which only read."""
    province = Province(tmp_path_factory.mktemp("figures"), list(reference.NODES), start_nodes=False)
    pg = PostgresDatabases() if request.param == "postgresql" else None
    if pg is not None:
        hub_settings = province.settings["hub"]
        province.settings["hub"] = dataclasses.replace(hub_settings, database_uri=pg.per_service(hub_settings))
    try:
        province.start()
        streams = generated.by_node()
        random.Random(7).shuffle(streams[SHUFFLED])
        for node, events in streams.items():
            publish(province, node, events)
        wait_until(lambda: province.count("hub", "reporting", "inbox") == len(generated.events), timeout=240,
                   interval=0.5, message=f"{len(generated.events)} events applied at the hub")
        yield province
    finally:
        province.close()
        if pg is not None:
            pg.finish()


def get(province, path, **params):
    resp = requests.get(province.url("hub", path), params=params, headers=province.headers("hub", auth.ANALYST),
                        timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_the_figures_of_a_generated_province_equal_those_computed_from_its_events(hub, generated):
    expect = Expectation(generated.events)
    months = months_between(FIRST, LAST)
    assert get(hub, "/api/v1/quarantine") == []

    # Cases: every regency and month, and the province's totals over the regencies with data.
    figures = get(hub, "/api/v1/figures/cases", **{"from": FIRST, "to": LAST})
    assert figures["months"] == months
    cells = expect.figures(FIRST, LAST)
    for row in figures["regencies"]:
        assert row["population"] == reference.POPULATION[row["regency"]]
        for entry in row["months"]:
            code, month = row["regency"], entry["month"]
            assert entry["has_data"] == expect.has_data(code, month), (code, month)
            if not entry["has_data"]:
                continue
            cell = cells[(code, month)]
            for key in ("new", "active", "closed", "reopened", "persons", "new_persons"):
                assert entry[key] == cell[key], (code, month, key)
            assert entry["active_per_10k"] == round(cell["active"] * 10_000 / row["population"], 2)
    for entry in figures["province"]["months"]:
        month = entry["month"]
        with_data = [c for c in reference.REGENCIES if expect.has_data(c, month)]
        assert entry["regencies_with_data"] == with_data
        assert entry["new"] == sum(cells[(c, month)]["new"] for c in with_data)
        assert entry["active"] == sum(cells[(c, month)]["active"] for c in with_data)
        assert entry["persons"] == len(set().union(*(cells[(c, month)]["active_set"] for c in with_data)))
        for stage in figures["by_stage"]:
            active = next(s["active"] for s in stage["months"] if s["month"] == month)
            assert active == sum(cells[(c, month)]["stages"].get(stage["stage"], 0) for c in with_data)
    # Some persons have two cases, some are registered in two regencies: persons are not cases.
    last = figures["province"]["months"][-1]
    assert 0 < last["persons"] < last["active"]

    # Tuna sosial: new and active per regency against the same month a year earlier.
    trend = get(hub, "/api/v1/figures/tuna-sosial", **{"from": "2025-01", "to": LAST})
    tuna = expect.figures(FIRST, LAST, categories=TUNA_SOSIAL)
    assert set(trend["categories"]) == TUNA_SOSIAL
    for row in trend["regencies"]:
        for entry in row["months"]:
            code, month, before = row["regency"], entry["month"], year_before(entry["month"])
            known = expect.has_data(code, month) and expect.has_data(code, before)
            now_cell, before_cell = tuna[(code, month)], tuna[(code, before)]
            if not expect.has_data(code, month):
                assert entry["new"] is None and entry["new_change"] is None
                continue
            assert (entry["new"], entry["active"]) == (now_cell["new"], now_cell["active"]), (code, month)
            assert entry["active_change"] == (now_cell["active"] - before_cell["active"] if known else None)
            if known and before_cell["active"]:
                assert entry["active_change_percent"] == round(
                    100 * (now_cell["active"] - before_cell["active"]) / before_cell["active"], 1)
            else:
                assert entry["active_change_percent"] is None

    # Disability coverage at the end of the last month.
    coverage = get(hub, "/api/v1/figures/disabilities", **{"from": LAST, "to": LAST})
    expected = expect.disabilities(LAST)
    for row in coverage["regencies"]:
        if not expect.has_data(row["regency"], LAST):
            assert {k["registered"] for k in row["months"][0]["types"]} == {None}
            continue
        for kind in row["months"][0]["types"]:
            assert (kind["registered"], kind["with_active_case"]) == expected.get((row["regency"], kind["disability"]),
                                                                                 (0, 0)), (row["regency"], kind)
    for kind in coverage["province"]["months"][0]["types"]:
        assert (kind["registered"], kind["with_active_case"]) == expected[("*", kind["disability"])]
    assert sum(k["registered"] for k in coverage["province"]["months"][0]["types"]) > 0


def test_a_silent_month_shows_no_data_not_zero_in_every_figure(hub, generated):
    regency, month = SILENT
    expect = Expectation(generated.events)
    # Every node sends something every month of the history but the silent one.
    assert [(c, m) for c in reference.REGENCIES for m in months_between(FIRST, LAST)
            if not expect.has_data(c, m)] == [SILENT]
    params = {"from": month, "to": month, "regency": regency}
    [cases] = get(hub, "/api/v1/figures/cases", **params)["regencies"][0]["months"]
    assert cases["has_data"] is False
    assert [cases[k] for k in ("new", "active", "reopened", "persons", "new_per_10k", "active_per_10k")] == [None] * 6
    assert cases["closed"] == {"positive": None, "neutral": None, "negative": None}
    [trend] = get(hub, "/api/v1/figures/tuna-sosial", **params)["regencies"][0]["months"]
    assert trend["has_data"] is False and trend["new"] is None and trend["active_change"] is None
    [coverage] = get(hub, "/api/v1/figures/disabilities", **params)["regencies"][0]["months"]
    assert coverage["has_data"] is False and {t["registered"] for t in coverage["types"]} == {None}
    # The month before, the regency had data, and the province names the silent one.
    [before] = get(hub, "/api/v1/figures/cases", **{**params, "from": "2024-08", "to": "2024-08"})["regencies"][0]["months"]
    assert before["has_data"] is True and before["active"] is not None
    province = get(hub, "/api/v1/figures/cases", **{"from": month, "to": month})["province"]["months"][0]
    assert province["regencies_without_data"] == [regency]
    assert regency not in province["regencies_with_data"]
    # A year later, the change against the silent month is unknown, not a rise from zero.
    [year_after] = get(hub, "/api/v1/figures/tuna-sosial", **{"from": "2025-09", "to": "2025-09",
                                                                "regency": regency})["regencies"][0]["months"]
    assert year_after["has_data"] is True and year_after["active"] is not None
    assert year_after["active_year_before"] is None and year_after["active_change"] is None


@pytest.mark.parametrize("params, field", [
    ({"from": "2025-13"}, "from"), ({"to": "25-01"}, "to"), ({"from": "2025-06", "to": "2025-01"}, "from"),
    ({"from": "2010-01", "to": "2025-01"}, "from"), ({"regency": "6399"}, "regency"), ({"category": "x"}, "category"),
    ({"month": "2025-01"}, "month"), ({"from": "0000-01"}, "from"), ({"to": "0000-02"}, "to"),
])
def test_bad_filters_are_refused_with_a_message_per_field(shared_province, params, field):
    hub = shared_province(["6371"], start_nodes=False)
    for path in ("/api/v1/figures/cases", "/api/v1/figures/tuna-sosial", "/api/v1/figures/disabilities"):
        resp = requests.get(hub.url("hub", path), params=params, headers=hub.headers("hub", auth.ANALYST), timeout=10)
        assert resp.status_code == 422, resp.text
        messages = resp.json()["error"]["fields"]
        assert list(messages) == [field] and well_formed(messages[field]), resp.text


FIGURE_PATHS = ("/api/v1/figures/cases", "/api/v1/figures/tuna-sosial", "/api/v1/figures/disabilities")


def test_the_figures_are_in_the_openapi_document_with_their_filters_and_fields(shared_province):
    hub = shared_province(["6371"], start_nodes=False)
    spec = requests.get(hub.url("hub", "/api/v1/openapi.json"), timeout=5).json()
    validate_openapi(spec)
    for path in FIGURE_PATHS:
        get_op = spec["paths"][path]["get"]
        assert "reporting" in get_op["tags"]
        assert {p["name"] for p in get_op["parameters"] if p["in"] == "query"} >= {"from", "to", "regency", "category"}
        assert {"200", "401", "403", "422"} <= set(get_op["responses"])
    month = spec["components"]["schemas"]["RegencyMonth"]["properties"]
    assert "tidak ada data" in month["has_data"]["description"] and month["active"]["description"]


def test_the_figures_are_for_hub_analysts_and_admins_only(shared_province):
    hub = shared_province(["6371"], start_nodes=False)
    for path in FIGURE_PATHS:
        url = hub.url("hub", path)
        assert requests.get(url, timeout=5).status_code == 401
        assert requests.get(url, headers={"Authorization": f"Bearer {hub.tokens['6371'][auth.ADMIN]}"},
                            timeout=5).status_code == 403
        assert requests.get(url, headers=hub.headers("hub", auth.ADMIN), timeout=5).status_code == 200


# -- laporan bulanan ---------------------------------------------------------------------------------
def report(province, **params):
    return requests.get(province.url("hub", "/api/v1/reports/monthly"), params=params,
                        headers=province.headers("hub", auth.ANALYST), timeout=30)


def report_rows(resp) -> list[dict]:
    """The report's rows by header, from the CSV (csv module) or the XLSX (openpyxl): empty → None."""
    if resp.headers["Content-Type"].startswith("text/csv"):
        lines = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    else:
        book = openpyxl.load_workbook(io.BytesIO(resp.content))
        assert book.sheetnames == ["Data", "Keterangan"]
        lines = [["" if v is None else v for v in row] for row in book["Data"].iter_rows(values_only=True)]
    header, *rows = lines
    return [{h: (None if v == "" else v) for h, v in zip(header, row)} for row in rows]


def as_number(value):
    return None if value is None else float(value)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("regency, month", [(None, "2025-10"), (SILENT[0], SILENT[1]), (None, SILENT[1])])
def test_the_monthly_report_holds_the_same_figures_as_the_api(hub, fmt, regency, month):
    params = {"month": month, "format": fmt, **({"regency": regency} if regency else {})}
    resp = report(hub, **params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="laporan-bulanan-{regency or "63"}-{month}.{fmt}"')
    rows = report_rows(resp)
    figures = get(hub, "/api/v1/figures/cases", **{"from": month, "to": month,
                                                    **({"regency": regency} if regency else {})})
    trend = get(hub, "/api/v1/figures/tuna-sosial", **{"from": month, "to": month,
                                                        **({"regency": regency} if regency else {})})
    assert [r["Kode wilayah"] for r in rows] == [r["regency"] for r in figures["regencies"]]
    for row, regency_figures, regency_trend in zip(rows, figures["regencies"], trend["regencies"]):
        [cell], [tuna] = regency_figures["months"], regency_trend["months"]
        assert row["Bulan"] == month and row["Ada data"] == ("ya" if cell["has_data"] else "tidak")
        shown = {"Kasus baru": cell["new"], "Kasus aktif": cell["active"], "Dibuka kembali": cell["reopened"],
                 "Ditutup, hasil positif": cell["closed"]["positive"], "Orang unik (kasus aktif)": cell["persons"],
                 "Kasus aktif per 10.000": cell["active_per_10k"], "Tuna sosial aktif": tuna["active"],
                 "Perubahan tuna sosial aktif": tuna["active_change"]}
        assert {k: as_number(row[k]) for k in shown} == {k: as_number(v) for k, v in shown.items()}, row
        if not cell["has_data"]:  # an empty cell, never 0
            assert row["Kasus baru"] is None and row["Kasus aktif"] is None
    assert any(r["Ada data"] == "tidak" for r in rows) == (month == SILENT[1])


def test_the_monthly_reports_keterangan_sheet_says_what_each_column_means(hub):
    resp = report(hub, month="2025-10", regency="6371")
    assert resp.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(resp.content))
    lines = [row for row in book["Keterangan"].iter_rows(values_only=True) if row and row[0]]
    split = lines.index(("Kolom", "Keterangan"))
    scope, notes = dict(lines[1:split]), dict(lines[split + 1:])
    headers = list(next(book["Data"].iter_rows(values_only=True)))
    assert list(notes) == headers and all(notes.values())
    assert scope["Bulan"] == "Oktober 2025" and scope["Kabupaten/Kota"] == "Kota Banjarmasin"
    assert "tidak ada data" in scope["Sel kosong"].lower()


@pytest.mark.parametrize("params, field", [
    ({"month": "2025-13"}, "month"), ({"month": "0000-01"}, "month"), ({}, "month"), ({"month": "2025-01", "regency": "6399"}, "regency"),
    ({"month": "2025-01", "format": "pdf"}, "format"),
])
def test_a_bad_monthly_report_request_is_refused_per_field(shared_province, params, field):
    hub = shared_province(["6371"], start_nodes=False)
    resp = report(hub, **params)
    assert resp.status_code == 422, resp.text
    messages = resp.json()["error"]["fields"]
    assert list(messages) == [field] and well_formed(messages[field]), resp.text


def test_the_monthly_report_is_in_the_openapi_document_as_a_file(shared_province):
    hub = shared_province(["6371"], start_nodes=False)
    spec = requests.get(hub.url("hub", "/api/v1/openapi.json"), timeout=5).json()
    validate_openapi(spec)
    op = spec["paths"]["/api/v1/reports/monthly"]["get"]
    assert set(op["responses"]["200"]["content"]) == {"text/csv; charset=utf-8", exports_xlsx()}
    assert {p["name"] for p in op["parameters"] if p["in"] == "query"} == {"month", "regency", "format"}
    assert requests.get(hub.url("hub", "/api/v1/reports/monthly?month=2025-01"), timeout=5).status_code == 401


def exports_xlsx() -> str:
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
