"""Quotas and the waitlist on a real node with PostgreSQL: forty registrations at once for ten
places never go over the overall quota nor any regency's; the rest wait in order; a cancellation
promotes exactly one, the first waiting person who fits."""
import eventlet
import pytest

from tests.service.training_support import NODE, call, new_event, ok, participants, person, register

# Four regencies whose own quotas add up to more than the ten places: both limits bind.
REGENCY_QUOTAS = {"6371": 4, "6303": 3, "6372": 3, "6304": 2}


@pytest.fixture
def node(shared_province):
    """One node for the module: every test opens its own event and reads back only its people."""
    return shared_province([NODE], start_hub=False, database="postgresql")


def waitlist(node, event_id) -> list[dict]:
    waiting = participants(node, event_id, status="waitlisted")
    assert [p["waitlist_position"] for p in waiting] == list(range(1, len(waiting) + 1))
    return waiting


def first_who_fits(waiting: list[dict], registered: list[dict], quota: int) -> dict | None:
    if len(registered) >= quota:
        return None
    for candidate in waiting:
        taken = sum(p["regency"] == candidate["regency"] for p in registered)
        if taken < REGENCY_QUOTAS[candidate["regency"]]:
            return candidate
    return None


def test_forty_concurrent_registrations_for_ten_places_keep_every_quota(node):
    event = new_event(node, "open", quota=10,
                      regency_quotas=[{"regency": r, "quota": q} for r, q in REGENCY_QUOTAS.items()])
    bodies = [person(regency) for regency in REGENCY_QUOTAS for _ in range(10)]

    def apply(body):
        resp = call(node, "POST", f"/api/v1/trainings/{event['id']}/participants", body)
        return resp.status_code, resp.json()

    answers = list(eventlet.GreenPool(40).imap(apply, bodies))
    assert {status for status, _ in answers} == {201}, [a for a in answers if a[0] != 201][:3]
    statuses = [answer["status"] for _, answer in answers]
    assert statuses.count("registered") == 10 and statuses.count("waitlisted") == 30

    registered = participants(node, event["id"], status="registered")
    assert len(registered) == 10
    for regency, quota in REGENCY_QUOTAS.items():
        taken = sum(p["regency"] == regency for p in registered)
        assert taken <= quota, f"{regency}: {taken} registered for a quota of {quota}"
    waiting = waitlist(node, event["id"])
    assert len(waiting) == 30
    view = ok(call(node, "GET", f"/api/v1/trainings/{event['id']}"))
    assert (view["registered"], view["waitlisted"]) == (10, 30)
    assert {r["regency"]: (r["registered"], r["waitlisted"]) for r in view["regencies"]} == {
        r: (sum(p["regency"] == r for p in registered), sum(p["regency"] == r for p in waiting))
        for r in REGENCY_QUOTAS}

    # Cancelling a registration promotes exactly one: the first on the waitlist who fits.
    cancelled = registered[0]
    remaining = [p for p in registered if p["id"] != cancelled["id"]]
    expected = first_who_fits(waiting, remaining, 10)
    assert expected is not None
    ok(call(node, "POST", f"/api/v1/trainings/{event['id']}/participants/{cancelled['id']}/cancellation"))
    now_registered = participants(node, event["id"], status="registered")
    assert {p["id"] for p in now_registered} == {p["id"] for p in remaining} | {expected["id"]}
    still_waiting = waitlist(node, event["id"])
    assert [p["id"] for p in still_waiting] == [p["id"] for p in waiting if p["id"] != expected["id"]]
    assert participants(node, event["id"], status="cancelled")[0]["id"] == cancelled["id"]


def test_concurrent_cancellations_and_registrations_never_go_over_the_quota(node):
    event = new_event(node, "open", quota=5,
                      regency_quotas=[{"regency": r, "quota": q} for r, q in REGENCY_QUOTAS.items()])
    first = [register(node, event["id"], regency=r) for r in ("6371", "6371", "6303", "6372", "6304")]
    assert [p["status"] for p in first] == ["registered"] * 5

    def act(job):
        kind, arg = job
        if kind == "cancel":
            path = f"/api/v1/trainings/{event['id']}/participants/{arg}/cancellation"
            return call(node, "POST", path).status_code
        return call(node, "POST", f"/api/v1/trainings/{event['id']}/participants", person(arg)).status_code

    jobs = [("cancel", p["id"]) for p in first[:3]] + [("register", r) for r in REGENCY_QUOTAS for _ in range(5)]
    assert set(eventlet.GreenPool(len(jobs)).imap(act, jobs)) <= {200, 201}
    registered = participants(node, event["id"], status="registered")
    assert len(registered) == 5
    for regency, quota in REGENCY_QUOTAS.items():
        assert sum(p["regency"] == regency for p in registered) <= quota
    # Five places, all taken again: nobody waits who would fit.
    assert first_who_fits(waitlist(node, event["id"]), registered, 5) is None


def test_a_freed_place_goes_to_the_first_waiting_person_who_fits_not_simply_the_first(node):
    event = new_event(node, "open", quota=3,
                      regency_quotas=[{"regency": "6371", "quota": 1}, {"regency": "6303", "quota": 2}])
    assert register(node, event["id"], regency="6371")["status"] == "registered"
    first_waiting = register(node, event["id"], regency="6371")  # 6371's one place is taken
    assert (first_waiting["status"], first_waiting["waitlist_position"]) == ("waitlisted", 1)
    leaving = register(node, event["id"], regency="6303")
    assert register(node, event["id"], regency="6303")["status"] == "registered"
    second_waiting = register(node, event["id"], regency="6371")
    third_waiting = register(node, event["id"], regency="6303")  # the event is full
    assert (third_waiting["status"], third_waiting["waitlist_position"]) == ("waitlisted", 3)

    ok(call(node, "POST", f"/api/v1/trainings/{event['id']}/participants/{leaving['id']}/cancellation"))
    by_id = {p["id"]: p for p in participants(node, event["id"])}
    assert by_id[third_waiting["id"]]["status"] == "registered"  # 6303 had room, 6371 had none
    assert [(by_id[p["id"]]["status"], by_id[p["id"]]["waitlist_position"]) for p in (first_waiting, second_waiting)
            ] == [("waitlisted", 1), ("waitlisted", 2)]
    assert by_id[leaving["id"]]["status"] == "cancelled"

    # A waitlisted person who leaves frees no place: nobody is promoted.
    ok(call(node, "POST", f"/api/v1/trainings/{event['id']}/participants/{first_waiting['id']}/cancellation"))
    assert [p["id"] for p in participants(node, event["id"], status="waitlisted")] == [second_waiting["id"]]
    assert len(participants(node, event["id"], status="registered")) == 3

    # One person cannot take two places: a second registration of the same name and regency is 409.
    twice = call(node, "POST", f"/api/v1/trainings/{event['id']}/participants",
                 person("6303", name=third_waiting["name"].upper()))
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_registered"


def test_places_added_to_an_event_go_to_the_waitlist_first(node):
    event = new_event(node, "open", quota=2, regency_quotas=[{"regency": "6371", "quota": 2},
                                                             {"regency": "6303", "quota": 1}])
    for regency in ("6371", "6371"):
        register(node, event["id"], regency=regency)
    waiting = [register(node, event["id"], regency=r) for r in ("6371", "6303", "6303")]
    assert [p["status"] for p in waiting] == ["waitlisted"] * 3
    # Two more places overall: 6371 is still at its own quota and 6303 has one place, so one moves up.
    view = ok(call(node, "PATCH", f"/api/v1/trainings/{event['id']}", {"quota": 4}))
    assert (view["registered"], view["waitlisted"]) == (3, 2)
    by_id = {p["id"]: p for p in participants(node, event["id"])}
    assert [by_id[p["id"]]["status"] for p in waiting] == ["waitlisted", "registered", "waitlisted"]
    # A newcomer from a regency with room does not jump the queue of those who fit.
    ok(call(node, "PATCH", f"/api/v1/trainings/{event['id']}", {"regency_quotas": [
        {"regency": "6371", "quota": 3}, {"regency": "6303", "quota": 1}]}))
    by_id = {p["id"]: p for p in participants(node, event["id"])}
    assert [by_id[p["id"]]["status"] for p in waiting] == ["registered", "registered", "waitlisted"]
    assert register(node, event["id"], regency="6371")["status"] == "waitlisted"  # the event is full again


def test_the_participant_list_reads_registered_then_the_waitlist_in_order_then_cancelled(node):
    event = new_event(node, "open", quota=2)
    people = [register(node, event["id"]) for _ in range(5)]
    ok(call(node, "POST", f"/api/v1/trainings/{event['id']}/participants/{people[0]['id']}/cancellation"))
    listed = participants(node, event["id"])
    assert [(p["id"], p["status"], p["waitlist_position"]) for p in listed] == [
        (people[1]["id"], "registered", None), (people[2]["id"], "registered", None),
        (people[3]["id"], "waitlisted", 1), (people[4]["id"], "waitlisted", 2), (people[0]["id"], "cancelled", None)]


def test_a_regency_with_registered_participants_cannot_be_dropped_from_the_quotas(node):
    event = new_event(node, "open", quota=4, regency_quotas=[{"regency": "6371", "quota": 2},
                                                             {"regency": "6303", "quota": 2}])
    register(node, event["id"], regency="6303")
    resp = call(node, "PATCH", f"/api/v1/trainings/{event['id']}", {"regency_quotas": [{"regency": "6371", "quota": 4}]})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "quota_below_registered", resp.text
    assert "Banjar" in resp.json()["error"]["message"]
    regencies = {r["regency"]: r["quota"] for r in ok(call(node, "GET", f"/api/v1/trainings/{event['id']}"))["regencies"]}
    assert regencies == {"6371": 2, "6303": 2}  # nothing changed
