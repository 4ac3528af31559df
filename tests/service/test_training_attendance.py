"""Attendance on a real node (RabbitMQ vhost + SQLite): a check-in is idempotent and says so; an
offline batch (JSON or CSV) uploaded twice counts once; rows that cannot apply come back one by
one with their reason while the others still apply; desks scanning at once on PostgreSQL record
each person once."""
from datetime import datetime, timezone

import eventlet
import pytest

from rehsos import auth
from tests.service.training_support import NODE, RAKOR, call, move, new_event, ok, register
from tests.support import Province
from training.domain import attendance as attendance_domain

DAY_1, DAY_2 = RAKOR["start_date"], RAKOR["end_date"]


@pytest.fixture(scope="module")
def node(broker, tmp_path_factory):
    province = Province(tmp_path_factory.mktemp("province"), [NODE], start_hub=False).start()
    yield province
    province.close()


@pytest.fixture
def rakor(node):
    """A two-day Rakor under way: three registered, one cancelled, one on the waitlist."""
    event = new_event(node, "open", body=RAKOR, quota=3)
    first, second, leaving = (register(node, event["id"]) for _ in range(3))
    ok(call(node, "POST", f"/api/v1/trainings/{event['id']}/participants/{leaving['id']}/cancellation"))
    third = register(node, event["id"])
    waiting = register(node, event["id"])
    assert [p["status"] for p in (first, second, third, waiting)] == ["registered"] * 3 + ["waitlisted"]
    move(node, event["id"], "ongoing")
    return {"event": event, "registered": [first, second, third], "cancelled": leaving, "waitlisted": waiting}


def upload(node, event_id, rows=None, csv=None):
    path = f"/api/v1/trainings/{event_id}/attendance/batch"
    if csv is not None:
        return call(node, "POST", path, data=csv.encode(), headers={"Content-Type": "text/csv"})
    return call(node, "POST", path, {"rows": rows})


def attendance(node, event_id) -> list[tuple[str, str, str]]:
    return sorted((a["participant_id"], a["day"], a["source"])
                  for a in ok(call(node, "GET", f"/api/v1/trainings/{event_id}/attendance")))


def outbox(node) -> int:
    return node.count(NODE, "training", "outbox")


def test_a_check_in_twice_on_one_day_counts_once_and_says_so(node, rakor):
    event_id, person = rakor["event"]["id"], rakor["registered"][0]
    path = f"/api/v1/trainings/{event_id}/attendance"
    first = ok(call(node, "POST", path, {"code": person["checkin_code"].lower(), "day": DAY_1}))
    assert (first["status"], first["participant_id"], first["name"], first["day"]) == (
        "checked_in", person["id"], person["name"], DAY_1)
    before = outbox(node)
    again = ok(call(node, "POST", path, {"code": person["checkin_code"], "day": DAY_1}))
    assert again["status"] == "already_checked_in" and "tidak ada yang berubah" in again["message"]
    from_list = ok(call(node, "POST", path, {"participant_id": person["id"], "day": DAY_1}))
    assert from_list["status"] == "already_checked_in"
    assert outbox(node) == before  # a repeat announces nothing either
    # The second day is a day of its own; from the list this time.
    assert ok(call(node, "POST", path, {"participant_id": person["id"], "day": DAY_2}))["status"] == "checked_in"
    assert attendance(node, event_id) == [(person["id"], DAY_1, "code"), (person["id"], DAY_2, "list")]
    assert ok(call(node, "GET", f"/api/v1/trainings/{event_id}/participants/{person['id']}"))["days_attended"] == [
        DAY_1, DAY_2]


@pytest.mark.parametrize("who,day,reason", [
    ("cancelled", DAY_1, "cancelled"), ("waitlisted", DAY_1, "not_registered"), ("unknown", DAY_1,
                                                                                  "unknown_participant"),
    ("registered", "2024-09-28", "day_outside_event")])
def test_a_single_check_in_that_cannot_apply_is_409_with_the_reason(node, rakor, who, day, reason):
    code = "ZZZZ2345" if who == "unknown" else (
        rakor["registered"][0] if who == "registered" else rakor[who])["checkin_code"]
    resp = call(node, "POST", f"/api/v1/trainings/{rakor['event']['id']}/attendance", {"code": code, "day": day})
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == reason and resp.json()["error"]["message"]
    assert attendance(node, rakor["event"]["id"]) == []


def test_check_in_only_while_the_event_is_under_way(node):
    event = new_event(node, "open", body=RAKOR)
    person = register(node, event["id"])
    path = f"/api/v1/trainings/{event['id']}/attendance"
    for body, batch in (({"code": person["checkin_code"], "day": DAY_1}, False),
                        ({"rows": [{"code": person["checkin_code"], "day": DAY_1}]}, True)):
        resp = call(node, "POST", path + ("/batch" if batch else ""), body)
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "wrong_status", resp.text
    assert attendance(node, event["id"]) == []


def test_an_offline_json_batch_uploaded_twice_counts_once(node, rakor):
    event_id = rakor["event"]["id"]
    first, second, third = rakor["registered"]
    rows = [{"code": first["checkin_code"], "day": DAY_1, "checked_in_at": "2024-09-26T08:05:00+08:00"},
            {"code": second["checkin_code"], "day": DAY_1},
            {"participant_id": third["id"], "day": DAY_2},
            {"code": first["checkin_code"], "day": DAY_2}]
    report = ok(upload(node, event_id, rows))
    assert (report["applied"], report["already"], report["conflicts"]) == (4, 0, 0)
    assert [(r["row"], r["status"], r["participant_id"], r["name"]) for r in report["rows"]] == [
        (1, "checked_in", first["id"], first["name"]), (2, "checked_in", second["id"], second["name"]),
        (3, "checked_in", third["id"], third["name"]), (4, "checked_in", first["id"], first["name"])]
    recorded = attendance(node, event_id)
    before = outbox(node)

    again = ok(upload(node, event_id, rows))
    assert (again["applied"], again["already"], again["conflicts"]) == (0, 4, 0)
    assert [r["status"] for r in again["rows"]] == ["already_checked_in"] * 4
    assert attendance(node, event_id) == recorded and len(recorded) == 4
    assert outbox(node) == before
    entries = ok(call(node, "GET", f"/api/v1/trainings/{event_id}/attendance"))
    assert {(e["participant_id"], e["day"]): e["source"] for e in entries}[(first["id"], DAY_1)] == "offline"
    assert [e["checked_in_at"] for e in entries if (e["participant_id"], e["day"]) == (first["id"], DAY_1)] == [
        "2024-09-26T00:05:00+00:00"]  # the time the venue recorded, not the upload's


def test_an_offline_csv_batch_uploaded_twice_counts_once(node, rakor):
    event_id = rakor["event"]["id"]
    first, second, third = rakor["registered"]
    # As a spreadsheet saves it: a byte-order mark, CRLF, a lowercase code typed by hand, a blank line.
    csv = "\ufeffcode,day\r\n" + "".join(f"{code},{day}\r\n" for code, day in (
        (first["checkin_code"], DAY_1), (second["checkin_code"].lower(), DAY_1), (third["checkin_code"], DAY_2),
        (first["checkin_code"], DAY_1))) + "\r\n"
    report = ok(upload(node, event_id, csv=csv))
    assert (report["applied"], report["already"], report["conflicts"]) == (3, 1, 0), report
    assert [r["status"] for r in report["rows"]] == ["checked_in", "checked_in", "checked_in", "already_checked_in"]
    again = ok(upload(node, event_id, csv=csv))
    assert [r["status"] for r in again["rows"]] == ["already_checked_in"] * 4
    assert (again["applied"], again["already"]) == (0, 4)
    assert attendance(node, event_id) == sorted([(first["id"], DAY_1, "offline"), (second["id"], DAY_1, "offline"),
                                                 (third["id"], DAY_2, "offline")])


def test_conflicting_rows_come_back_one_by_one_and_the_others_still_apply(node, rakor):
    event_id = rakor["event"]["id"]
    first, second, _ = rakor["registered"]
    csv = "code,day\n" + "\n".join([
        f"{first['checkin_code']},{DAY_1}",
        f"ZZZZ2345,{DAY_1}",                               # unknown code
        f"{second['checkin_code']},2024-09-25",            # the day before the event
        f"{rakor['cancelled']['checkin_code']},{DAY_1}",   # cancelled registration
        f"{rakor['waitlisted']['checkin_code']},{DAY_2}",  # still on the waitlist
        f"{second['checkin_code']},{DAY_2}"]) + "\n"
    report = ok(upload(node, event_id, csv=csv))
    assert (report["applied"], report["already"], report["conflicts"]) == (2, 0, 4)
    assert [(r["row"], r["status"], r.get("reason")) for r in report["rows"]] == [
        (1, "checked_in", None), (2, "conflict", "unknown_participant"), (3, "conflict", "day_outside_event"),
        (4, "conflict", "cancelled"), (5, "conflict", "not_registered"), (6, "checked_in", None)]
    assert report["rows"][1]["code"] == "ZZZZ2345" and report["rows"][2]["day"] == "2024-09-25"
    assert all(r["message"] for r in report["rows"] if r["status"] == "conflict")
    assert attendance(node, event_id) == sorted([(first["id"], DAY_1, "offline"), (second["id"], DAY_2, "offline")])

    # Uploaded again: the applied rows are already there, the conflicts are still conflicts.
    again = ok(upload(node, event_id, csv=csv))
    assert [r["status"] for r in again["rows"]] == ["already_checked_in"] + ["conflict"] * 4 + ["already_checked_in"]
    assert len(attendance(node, event_id)) == 2


@pytest.mark.parametrize("csv,fields", [
    ("code,day\nABCD2345,kemarin\n", {"rows"}),
    ("nama,day\nBudi,2024-09-26\n", {"rows"}),
    ("code,day\n", {"rows"}),
    ("code\nABCD2345\n", {"rows"}),
], ids=["bad date", "unknown column", "no rows", "no day"])
def test_an_unreadable_csv_is_422_and_applies_nothing(node, rakor, csv, fields):
    resp = upload(node, rakor["event"]["id"], csv=csv)
    assert resp.status_code == 422, resp.text
    assert set(resp.json()["error"]["fields"]) == fields
    assert attendance(node, rakor["event"]["id"]) == []


def test_attendance_is_for_trainers_and_admins(node, rakor):
    body = {"code": rakor["registered"][0]["checkin_code"], "day": DAY_1}
    resp = call(node, "POST", f"/api/v1/trainings/{rakor['event']['id']}/attendance", body, role=auth.OPERATOR)
    assert resp.status_code == 403
    assert ok(call(node, "POST", f"/api/v1/trainings/{rakor['event']['id']}/attendance", body,
                   role=auth.ADMIN))["status"] == "checked_in"


def test_a_check_in_without_a_day_is_for_the_day_at_the_venue(node, rakor, monkeypatch):
    """07:30 in Banjarmasin (WITA, UTC+8) on the first day is still the day before in UTC."""
    monkeypatch.setattr(attendance_domain, "now", lambda: datetime(2024, 9, 25, 23, 30, tzinfo=timezone.utc))
    person = rakor["registered"][0]
    path = f"/api/v1/trainings/{rakor['event']['id']}/attendance"
    answer = ok(call(node, "POST", path, {"code": person["checkin_code"]}))
    assert (answer["status"], answer["day"]) == ("checked_in", DAY_1)
    assert ok(call(node, "POST", path, {"participant_id": person["id"]}))["status"] == "already_checked_in"
    assert attendance(node, rakor["event"]["id"]) == [(person["id"], DAY_1, "code")]


def test_two_scanners_at_the_door_at_once_record_one_check_in(make_province):
    """On PostgreSQL, the same code scanned at several desks at the same moment, and an offline batch
    arriving meanwhile: one check-in, every other answer says it was already recorded."""
    desks = make_province([NODE], start_hub=False, database="postgresql")
    event = new_event(desks, "open", body=RAKOR)
    people = [register(desks, event["id"]) for _ in range(3)]
    move(desks, event["id"], "ongoing")
    path = f"/api/v1/trainings/{event['id']}/attendance"
    batch = {"rows": [{"code": p["checkin_code"], "day": DAY_1} for p in people]}

    def scan(i):
        if i % 5 == 4:
            return call(desks, "POST", path + "/batch", batch)
        return call(desks, "POST", path, {"code": people[i % 3]["checkin_code"], "day": DAY_1})

    answers = list(eventlet.GreenPool(20).imap(scan, range(20)))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers if a.status_code != 200][:2]
    statuses = [a.json()["status"] for a in answers if "status" in a.json()]
    statuses += [r["status"] for a in answers if "rows" in a.json() for r in a.json()["rows"]]
    assert statuses.count("checked_in") == 3 and set(statuses) == {"checked_in", "already_checked_in"}
    assert len(attendance(desks, event["id"])) == 3
