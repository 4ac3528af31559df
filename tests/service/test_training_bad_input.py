"""Bad input on every POST/PUT/PATCH route and every query of training, on a real node (RabbitMQ
vhost + SQLite): 422 with an Indonesian message per field, 400 for unreadable bodies, 404 for ids
that do not exist, and nothing written.

One node serves the whole module: each check compares row counts before and after its own requests."""
import re
import uuid

import pytest
import requests

from rehsos import auth
from tests.bad_input import Endpoint, problems_with, row_counts, well_formed, write_endpoints
from tests.service.training_support import EVENT, NODE, call, move, new_event, ok, person, register
from tests.support import Province

TABLES = ("training_event", "regency_quota", "speaker", "agenda_session", "material", "participant", "attendance",
          "feedback", "certificate", "announced_event", "nomination", "outbox")
DAY = EVENT["start_date"]
# Routes whose body is not JSON: a file (tested in test_training_events), or none at all.
WITHOUT_JSON_BODY = {("POST", "/api/v1/trainings/{event_id}/sessions/{session_id}/materials"),
                     ("POST", "/api/v1/trainings/{event_id}/participants/{participant_id}/cancellation")}
# What marshmallow says when a schema forgot to say it in Indonesian.
ENGLISH = re.compile(r"Length must|Shorter than|Longer than|Must be (one of|greater|less|between)|Not a valid|"
                     r"Missing data|Field may not|Unknown field|Invalid (input|value)")


@pytest.fixture(scope="module")
def node(broker, tmp_path_factory):
    province = Province(tmp_path_factory.mktemp("province"), [NODE], start_hub=False).start()
    yield province
    province.close()


def counts(node) -> dict:
    return row_counts(node, NODE, "training", TABLES)


def english(messages) -> list[str]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in english(value)]
    return [m for m in messages if ENGLISH.search(m)]


# -- the state each route needs -------------------------------------------------------------------------
INVITING = {"regency_quotas": [{"regency": "6371", "quota": 5}, {"regency": "6303", "quota": 5}],
            "target_roles": ["pekerja_sosial", "pendamping_disabilitas"]}


def nothing(node) -> dict:
    return {}


def a_draft(node) -> dict:
    return {"event_id": new_event(node)["id"]}


def an_invitation(node) -> dict:
    """An open event for 6371 and 6303, for social workers and disability companions."""
    return {"event_id": new_event(node, "open", **INVITING)["id"]}


def a_participant(status="open"):
    def prepare(node) -> dict:
        event = new_event(node, "open")
        someone = register(node, event["id"])
        if status == "ongoing":
            move(node, event["id"], "ongoing")
        return {"event_id": event["id"], "participant_id": someone["id"], "code": someone["checkin_code"]}
    return prepare


def a_session_under_way(node) -> dict:
    event = new_event(node)
    session = ok(call(node, "POST", f"/api/v1/trainings/{event['id']}/sessions",
                      {"day": DAY, "starts_at": "08:00", "ends_at": "10:00", "topic": "Asesmen tuna sosial"}), 201)
    move(node, event["id"], "open")
    someone = register(node, event["id"])
    move(node, event["id"], "ongoing")
    return {"event_id": event["id"], "session_id": session["id"], "participant_id": someone["id"]}


def a_certificate(node) -> dict:
    ids = a_participant("ongoing")(node)
    ok(call(node, "POST", f"/api/v1/trainings/{ids['event_id']}/attendance", {"code": ids["code"], "day": DAY}))
    move(node, ids["event_id"], "completed")
    certificate = ok(call(node, "GET", f"/api/v1/trainings/{ids['event_id']}/participants/"
                                       f"{ids['participant_id']}/certificate"))
    return {"number": certificate["number"]}


def a_speaker_and_draft(node) -> dict:
    ids = a_draft(node)
    speaker = ok(call(node, "POST", f"/api/v1/trainings/{ids['event_id']}/speakers",
                      {"name": "Dra. Hj. Rusmini", "institution": "PRSTS Barakat Cangkal Bacari"}), 201)
    return {**ids, "speaker_id": speaker["id"]}


PERSON = person("6371")
SESSION = {"day": DAY, "starts_at": "08:00", "ends_at": "10:00", "topic": "Pendekatan awal", "speaker_ids": []}
BAD_PERSON = [
    ("missing required fields", {}, {"name", "position", "office", "regency", "role"}),
    ("wrong types", {**PERSON, "name": 42, "position": ["Peksos"], "phone": 81234567890, "email": True},
     {"name", "position", "phone", "email"}),
    ("unknown field", {**PERSON, "nik": "6371051203850001"}, {"nik"}),
    ("invalid enum values", {**PERSON, "regency": "9999", "role": "camat"}, {"regency", "role"}),
    ("bad phone and e-mail", {**PERSON, "phone": "0812-abc", "email": "bukan-email"}, {"phone", "email"}),
    ("e-mail too long", {**PERSON, "email": "a" * 195 + "@example.org"}, {"email"}),
    ("name too short", {**PERSON, "name": "A", "office": ""}, {"name", "office"}),
    ("a regency not invited", {**PERSON, "regency": "6372"}, {"regency"}),
    ("a role the event is not for", {**PERSON, "role": "tksk"}, {"role"}),
]

ENDPOINTS = [
    Endpoint("create event", "POST", "/api/v1/trainings", nothing, EVENT, [
        ("missing required fields", {}, {"kind", "title", "theme", "venue", "start_date", "end_date", "quota"}),
        ("wrong types", {**EVENT, "quota": "10", "title": 5, "regency_quotas": {"6371": 2}, "target_roles": "tksk",
                         "demo": "ya"}, {"quota", "title", "regency_quotas", "target_roles", "demo"}),
        ("unknown field", {**EVENT, "status": "open"}, {"status"}),
        ("invalid enum values", {**EVENT, "kind": "seminar", "target_roles": ["camat"],
                                 "regency_quotas": [{"regency": "9999", "quota": 1}]},
         {"kind", "target_roles", "regency_quotas"}),
        ("not dates", {**EVENT, "start_date": "4 Desember 2024", "end_date": "2024-13-01"},
         {"start_date", "end_date"}),
        ("out of range", {**EVENT, "quota": 0, "min_attendance": 1.5, "min_post_score": 101},
         {"quota", "min_attendance", "min_post_score"}),
        ("not a number", {**EVENT, "min_attendance": "NaN"}, {"min_attendance"}),
        ("ends before it starts", {**EVENT, "start_date": "2024-12-05", "end_date": "2024-12-04"}, {"end_date"}),
        ("longer than a month", {**EVENT, "start_date": "2024-12-01", "end_date": "2025-01-15"}, {"end_date"}),
        ("a regency twice", {**EVENT, "regency_quotas": [{"regency": "6371", "quota": 2}] * 2}, {"regency_quotas"}),
        ("a regency above the whole", {**EVENT, "regency_quotas": [{"regency": "6371", "quota": 11}]},
         {"regency_quotas"}),
        ("too many regencies", {**EVENT, "regency_quotas": [{"regency": "6371", "quota": 1}] * 15},
         {"regency_quotas"}),
        ("a target role twice over", {**EVENT, "target_roles": ["tksk"] * 6}, {"target_roles"}),
    ], role=auth.TRAINER),
    Endpoint("change event", "PATCH", "/api/v1/trainings/{event_id}", a_draft, {"venue": "Banjarbaru"}, [
        ("nothing to change", {}, {"_body"}),
        ("wrong types", {"quota": 10.5, "venue": None, "min_post_score": "70"}, {"quota", "venue", "min_post_score"}),
        ("unknown field", {"status": "open", "demo": True}, {"status", "demo"}),
        ("invalid enum values", {"kind": "seminar", "target_roles": ["camat"]}, {"kind", "target_roles"}),
        ("ends before it starts", {"end_date": "2024-12-01"}, {"end_date"}),
        ("a regency above the whole", {"quota": 2, "regency_quotas": [{"regency": "6371", "quota": 3}]},
         {"regency_quotas"}),
    ], role=auth.TRAINER),
    Endpoint("change status", "POST", "/api/v1/trainings/{event_id}/status", a_draft, {"status": "open"}, [
        ("missing required fields", {}, {"status"}),
        ("wrong types", {"status": 1, "reason": 5}, {"status", "reason"}),
        ("unknown field", {"status": "open", "by": "Kabid"}, {"by"}),
        ("invalid enum values", {"status": "draft"}, {"status"}),
        ("cancelled without a reason", {"status": "cancelled"}, {"reason"}),
        ("reason too short", {"status": "cancelled", "reason": "x"}, {"reason"}),
    ], role=auth.TRAINER),
    Endpoint("add speaker", "POST", "/api/v1/trainings/{event_id}/speakers", a_draft,
             {"name": "Dra. Hj. Rusmini", "institution": "HIMPSI Kalsel"}, [
        ("missing required fields", {}, {"name", "institution"}),
        ("wrong types", {"name": ["Rusmini"], "institution": 5}, {"name", "institution"}),
        ("unknown field", {"name": "Rusmini", "institution": "HIMPSI Kalsel", "fee": 500000}, {"fee"}),
        ("too short", {"name": "R", "institution": "H"}, {"name", "institution"}),
    ], role=auth.TRAINER),
    Endpoint("add session", "POST", "/api/v1/trainings/{event_id}/sessions", a_speaker_and_draft, SESSION, [
        ("missing required fields", {}, {"day", "starts_at", "ends_at", "topic"}),
        ("wrong types", {**SESSION, "speaker_ids": ["1"], "topic": 5}, {"speaker_ids", "topic"}),
        ("unknown field", {**SESSION, "room": "Aula"}, {"room"}),
        ("not a date or a time", {**SESSION, "day": "besok", "starts_at": "8 pagi", "ends_at": "25:00"},
         {"day", "starts_at", "ends_at"}),
        ("a day outside the event", {**SESSION, "day": "2024-12-05"}, {"day"}),
        ("ends before it starts", {**SESSION, "starts_at": "10:00", "ends_at": "09:00"}, {"ends_at"}),
        ("a speaker of no one", {**SESSION, "speaker_ids": [999999]}, {"speaker_ids"}),
        ("too many speakers", {**SESSION, "speaker_ids": list(range(21))}, {"speaker_ids"}),
    ], role=auth.TRAINER),
    Endpoint("register participant", "POST", "/api/v1/trainings/{event_id}/participants", an_invitation,
             lambda: person("6371"), BAD_PERSON, role=auth.TRAINER),
    Endpoint("nominate", "POST", "/api/v1/trainings/{event_id}/nominations", an_invitation,
             lambda: person("6303"), BAD_PERSON, role=auth.OPERATOR),
    Endpoint("set scores", "PUT", "/api/v1/trainings/{event_id}/participants/{participant_id}/scores",
             a_participant(), {"pre_score": 40, "post_score": 75}, [
        ("nothing to change", {}, {"_body"}),
        ("wrong types", {"pre_score": "40", "post_score": 75.5}, {"pre_score", "post_score"}),
        ("unknown field", {"pre_score": 40, "gain": 35}, {"gain"}),
        ("out of range", {"pre_score": -1, "post_score": 101}, {"pre_score", "post_score"}),
    ], role=auth.TRAINER),
    Endpoint("check in", "POST", "/api/v1/trainings/{event_id}/attendance", a_participant("ongoing"),
             {"code": "{code}", "day": DAY}, [
        ("neither code nor participant", {"day": DAY}, {"code"}),
        ("wrong types", {"code": 12345678, "day": 20241204}, {"code", "day"}),
        ("unknown field", {"code": "ABCD2345", "day": DAY, "name": "Budi"}, {"name"}),
        ("not a date", {"code": "ABCD2345", "day": "hari ini"}, {"day"}),
        ("a code too long", {"code": "A" * 17, "day": DAY}, {"code"}),
        ("not a participant id", {"participant_id": "42", "day": DAY}, {"participant_id"}),
        ("empty code", {"code": "", "day": DAY}, {"code"}),
    ], role=auth.TRAINER),
    Endpoint("upload attendance", "POST", "/api/v1/trainings/{event_id}/attendance/batch", a_participant("ongoing"),
             {"rows": [{"code": "{code}", "day": DAY}]}, [
        ("missing required fields", {}, {"rows"}),
        ("wrong types", {"rows": {"code": "ABCD2345", "day": DAY}}, {"rows"}),
        ("unknown field", {"rows": [{"code": "ABCD2345", "day": DAY}], "device": "HP panitia"}, {"device"}),
        ("no rows", {"rows": []}, {"rows"}),
        ("a row without its day", {"rows": [{"code": "ABCD2345"}]}, {"rows"}),
        ("a row with both code and participant", {"rows": [{"code": "ABCD2345", "day": DAY,
                                                            "participant_id": str(uuid.uuid4())}]}, {"rows"}),
        ("a time without a zone", {"rows": [{"code": "ABCD2345", "day": DAY,
                                             "checked_in_at": "2024-12-04T08:00:00"}]}, {"rows"}),
    ], role=auth.TRAINER),
    Endpoint("give feedback", "POST", "/api/v1/trainings/{event_id}/sessions/{session_id}/feedback",
             a_session_under_way, {"participant_id": "{participant_id}", "score": 4}, [
        ("missing required fields", {}, {"participant_id", "score"}),
        ("wrong types", {"participant_id": 5, "score": "4"}, {"participant_id", "score"}),
        ("unknown field", {"participant_id": str(uuid.uuid4()), "score": 4, "comment": "Bagus"}, {"comment"}),
        ("out of range", {"participant_id": str(uuid.uuid4()), "score": 6}, {"score"}),
        ("not a participant id", {"participant_id": "42", "score": 4}, {"participant_id"}),
    ], role=auth.TRAINER),
    Endpoint("revoke certificate", "POST", "/api/v1/certificates/{number}/revocation", a_certificate,
             {"reason": "Diterbitkan karena salah input"}, [
        ("missing required fields", {}, {"reason"}),
        ("wrong types", {"reason": ["salah"]}, {"reason"}),
        ("unknown field", {"reason": "Salah input", "by": "Kabid"}, {"by"}),
        ("reason too short", {"reason": "x"}, {"reason"}),
    ], role=auth.ADMIN),
]


def test_the_table_covers_every_post_put_and_patch_route_of_training(node):
    spec = ok(requests.get(node.url(NODE, "/api/v1/openapi.json"), timeout=10))
    declared = write_endpoints(spec, "training")
    assert len(declared) >= 14
    assert declared == {(e.method, e.path) for e in ENDPOINTS} | WITHOUT_JSON_BODY


def filled(body, ids):
    """A valid body naming what the preparation made: ``"{code}"`` becomes that participant's code."""
    if isinstance(body, dict):
        return {k: filled(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [filled(v, ids) for v in body]
    return body.format(**ids) if isinstance(body, str) and body.startswith("{") else body


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_bad_input_gets_per_field_messages_in_indonesian_and_writes_nothing(node, endpoint):
    ids = endpoint.prepare(node)
    path = endpoint.path.format(**ids)
    problems = problems_with(endpoint, node.url(NODE, path), node.headers(NODE, endpoint.role), lambda: counts(node))
    assert not problems, "\n".join(problems)
    for label, body, _ in endpoint.bad:
        fields = call(node, endpoint.method, path, body, role=endpoint.role).json()["error"]["fields"]
        assert not english(fields), f"{label}: {english(fields)}"
    # The same request with a valid body goes through: the refusals above were about the input.
    valid = endpoint.valid() if callable(endpoint.valid) else endpoint.valid
    resp = call(node, endpoint.method, path, filled(valid, ids), role=endpoint.role)
    assert resp.status_code in (200, 201), resp.text


def test_an_unreadable_csv_batch_is_400_and_writes_nothing(node):
    ids = a_participant("ongoing")(node)
    path = f"/api/v1/trainings/{ids['event_id']}/attendance/batch"
    before = counts(node)
    for data in (b"code,day\n\xff\xfe,2024-12-04\n", b'code,day\n"ABCD2345,2024-12-04\n'):
        resp = call(node, "POST", path, data=data, headers={"Content-Type": "text/csv"})
        error = resp.json()["error"]
        if resp.status_code == 400:
            assert error["code"] == "invalid_csv" and well_formed(error["fields"]["_body"])
        else:  # an unclosed quote reads as one long cell: its row is refused, by field
            assert resp.status_code == 422 and set(error["fields"]) == {"rows"}, resp.text
    assert counts(node) == before


@pytest.mark.parametrize("path,params,expected", [
    ("/api/v1/trainings", {"status": "selesai", "kind": "seminar"}, {"status", "kind"}),
    ("/api/v1/trainings/invitations", {"status": "x"}, {"status"}),
    ("/api/v1/trainings/nominations", {"event_id": "42"}, {"event_id"}),
    ("/api/v1/trainings", {"page": "2"}, {"page"}),
], ids=["events", "invitations", "nominations", "unknown-parameter"])
def test_bad_query_parameters_are_422_naming_each_parameter(node, path, params, expected):
    resp = call(node, "GET", path, params=params)
    assert resp.status_code == 422, resp.text
    fields = resp.json()["error"]["fields"]
    assert set(fields) == expected and all(well_formed(m) for m in fields.values()), fields
    assert not english(fields), fields


def test_bad_participant_filters_are_422(node):
    event_id = a_draft(node)["event_id"]
    resp = call(node, "GET", f"/api/v1/trainings/{event_id}/participants",
                params={"status": "hadir", "regency": "9999", "role": "camat"})
    assert resp.status_code == 422 and set(resp.json()["error"]["fields"]) == {"status", "regency", "role"}


UNKNOWN = str(uuid.uuid4())


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/v1/trainings/{unknown}", None),
    ("PATCH", "/api/v1/trainings/{unknown}", {"venue": "Banjarbaru"}),
    ("POST", "/api/v1/trainings/{unknown}/status", {"status": "open"}),
    ("POST", "/api/v1/trainings/{unknown}/speakers", {"name": "Rusmini", "institution": "HIMPSI Kalsel"}),
    ("POST", "/api/v1/trainings/{unknown}/sessions", SESSION),
    ("POST", "/api/v1/trainings/{unknown}/participants", PERSON),
    ("GET", "/api/v1/trainings/{unknown}/participants", None),
    ("POST", "/api/v1/trainings/{unknown}/nominations", PERSON),
    ("POST", "/api/v1/trainings/{unknown}/attendance", {"code": "ABCD2345", "day": DAY}),
    ("POST", "/api/v1/trainings/{unknown}/attendance/batch", {"rows": [{"code": "ABCD2345", "day": DAY}]}),
    ("GET", "/api/v1/trainings/{unknown}/attendance", None),
    ("GET", "/api/v1/trainings/{unknown}/learning", None),
    ("GET", "/api/v1/trainings/{event}/participants/{unknown}", None),
    ("POST", "/api/v1/trainings/{event}/participants/{unknown}/cancellation", None),
    ("PUT", "/api/v1/trainings/{event}/participants/{unknown}/scores", {"pre_score": 40}),
    ("GET", "/api/v1/trainings/{event}/participants/{unknown}/certificate", None),
    ("GET", "/api/v1/trainings/{event}/participants/{unknown}/certificate.pdf", None),
    ("GET", "/api/v1/trainings/{event}/participants/{unknown}/qr.svg", None),
    ("GET", "/api/v1/trainings/{event}/participants/{other}", None),  # a participant of another event
    ("POST", "/api/v1/trainings/{event}/sessions/999999/feedback", {"participant_id": UNKNOWN, "score": 4}),
    ("GET", "/api/v1/trainings/{event}/sessions/999999/materials", None),
    ("POST", "/api/v1/trainings/{event}/sessions/999999/materials", None),
    ("POST", "/api/v1/trainings/{event}/sessions/{session}/feedback", {"participant_id": UNKNOWN, "score": 4}),
    ("POST", "/api/v1/certificates/RK-AAAA-AAAA-AAAA/revocation", {"reason": "Salah terbit"}),
    ("GET", "/api/v1/trainings/bukan-id", None),
])
def test_what_does_not_exist_is_404_and_writes_nothing(node, method, path, body):
    ids = a_session_under_way(node)
    other = a_participant()(node)
    before = counts(node)
    role = auth.ADMIN if "certificates" in path else auth.TRAINER
    kwargs = {"files": {"file": ("materi.pdf", b"%PDF-1.7\n")}} if path.endswith("materials") and body is None \
        and method == "POST" else {}
    resp = call(node, method, path.format(unknown=UNKNOWN, event=ids["event_id"], session=ids["session_id"],
                                          other=other["participant_id"]), body, role=role, **kwargs)
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["message"] and counts(node) == before
