"""Training across the province: the province opens a Bimtek, a regency nominates at its own
node, the nomination reaches the organiser only, and the answer comes back; nothing is lost while
the regency's link is down; the hub gets counts, never a participant's name or contact."""
import eventlet
import kombu
import pytest
import requests

from rehsos import auth
from tests.support import wait_until

BIMTEK = {"kind": "bimtek", "title": "Bimtek Pelayanan Tuna Sosial", "theme": "Pelayanan tuna sosial",
          "venue": "Banjarmasin", "start_date": "2024-12-04", "end_date": "2024-12-04", "quota": 3,
          "regency_quotas": [{"regency": "6371", "quota": 2}, {"regency": "6303", "quota": 1}],
          "target_roles": ["pekerja_sosial", "pendamping_disabilitas"], "min_attendance": 1.0, "min_post_score": 60}
NOMINEE = {"name": "Rahmawati Nor", "position": "Pekerja Sosial Ahli Pertama", "office": "Dinas Sosial Kota Banjarmasin",
           "regency": "6371", "role": "pekerja_sosial", "phone": "081234567890", "email": "rahmawati@example.org"}


@pytest.fixture
def province(make_province):
    return make_province(["63", "6371", "6303"])


def call(province, node, method, path, role=auth.TRAINER, **kwargs):
    return requests.request(method, province.url(node, path), headers=province.headers(node, role), timeout=10,
                            **kwargs)


def open_event(province, body=BIMTEK):
    event = call(province, "63", "POST", "/api/v1/trainings", json=body).json()
    resp = call(province, "63", "POST", f"/api/v1/trainings/{event['id']}/status", json={"status": "open"})
    assert resp.status_code == 200, resp.text
    return event


def invitation(province, node, event_id):
    for row in call(province, node, "GET", "/api/v1/trainings/invitations", role=auth.OPERATOR).json():
        if row["event_id"] == event_id:
            return row
    return None


def nominations(province, node):
    return call(province, node, "GET", "/api/v1/trainings/nominations", role=auth.OPERATOR).json()


def test_a_regency_nominates_at_its_own_node_and_the_answer_comes_back(province):
    event = open_event(province)
    seen = wait_until(lambda: invitation(province, "6371", event["id"]), message="invitation at 6371")
    assert seen["quota_for_this_node"] == 2 and seen["invited"] and seen["status"] == "open"

    resp = call(province, "6371", "POST", f"/api/v1/trainings/{event['id']}/nominations", role=auth.OPERATOR,
                json=NOMINEE)
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "sent"
    answered = wait_until(lambda: [n for n in nominations(province, "6371") if n["status"] != "sent"],
                          message="answer at 6371")
    assert answered[0]["status"] == "registered" and len(answered[0]["checkin_code"]) == 8
    registered = call(province, "63", "GET", f"/api/v1/trainings/{event['id']}/participants").json()
    assert [(p["name"], p["nominating_node"], p["status"]) for p in registered] == [
        ("Rahmawati Nor", "6371", "registered")]
    assert registered[0]["checkin_code"] == answered[0]["checkin_code"]

    # Beyond the regency's quota of 2, the next nominee is waitlisted, and hears so.
    for name in ("Budi Santoso", "Siti Aminah"):
        call(province, "6371", "POST", f"/api/v1/trainings/{event['id']}/nominations", role=auth.OPERATOR,
             json={**NOMINEE, "name": name}).raise_for_status()
    statuses = wait_until(lambda: (lambda s: s if "sent" not in s.values() else None)(
        {n["name"]: n["status"] for n in nominations(province, "6371")}), message="three answers")
    assert statuses == {"Rahmawati Nor": "registered", "Budi Santoso": "registered", "Siti Aminah": "waitlisted"}

    # Nominating the same person twice is refused at the organiser, with the reason sent back.
    call(province, "6371", "POST", f"/api/v1/trainings/{event['id']}/nominations", role=auth.OPERATOR,
         json=NOMINEE).raise_for_status()
    rejected = wait_until(lambda: [n for n in nominations(province, "6371") if n["status"] == "rejected"],
                          message="rejection")
    assert "sudah terdaftar" in rejected[0]["reason"]

    # A cancellation at the organiser promotes the waitlisted nominee, and 6371 hears it.
    budi = next(p for p in call(province, "63", "GET", f"/api/v1/trainings/{event['id']}/participants").json()
                if p["name"] == "Budi Santoso")
    call(province, "63", "POST", f"/api/v1/trainings/{event['id']}/participants/{budi['id']}/cancellation"
         ).raise_for_status()
    final = wait_until(lambda: (lambda s: s if s.get("Siti Aminah") == "registered" else None)(
        {n["name"]: n["status"] for n in nominations(province, "6371")}), message="promotion heard at 6371")
    assert final["Budi Santoso"] == "cancelled"


def test_with_the_regency_link_down_nothing_is_lost_and_the_answer_arrives_after_reconnection(province):
    province.stop_runner("6303")
    event = open_event(province)
    # 6303 was away when the event opened: the invitation waits for it in its downlink.
    province.start_runner("6303")
    wait_until(lambda: invitation(province, "6303", event["id"]), message="invitation caught up at 6303")

    province.block_hub()
    try:
        resp = call(province, "6303", "POST", f"/api/v1/trainings/{event['id']}/nominations", role=auth.OPERATOR,
                    json={**NOMINEE, "regency": "6303", "office": "Dinas Sosial Kabupaten Banjar"})
        assert resp.status_code == 201, resp.text  # the regency keeps working
        eventlet.sleep(2)
        assert call(province, "63", "GET", f"/api/v1/trainings/{event['id']}/participants").json() == []
        assert [n["status"] for n in nominations(province, "6303")] == ["sent"]
    finally:
        province.unblock_hub()
    answered = wait_until(lambda: [n for n in nominations(province, "6303") if n["status"] == "registered"],
                          timeout=40, message="answer after reconnection")
    assert len(answered) == 1
    assert len(call(province, "63", "GET", f"/api/v1/trainings/{event['id']}/participants").json()) == 1


def test_no_participant_name_or_contact_reaches_the_hub(province):
    """Every message the hub's consumers could receive is read from a queue bound to everything."""
    hub = province.hub_amqp()
    with kombu.Connection(hub) as conn:
        channel = conn.channel()
        tap = kombu.Queue("privacy-tap", exchange=kombu.Exchange("hub.events", type="topic", no_declare=True),
                          routing_key="#", channel=channel, auto_delete=False, durable=False)
        tap.declare()
        event = open_event(province)
        wait_until(lambda: invitation(province, "6371", event["id"]), message="invitation at 6371")
        call(province, "6371", "POST", f"/api/v1/trainings/{event['id']}/nominations", role=auth.OPERATOR,
             json=NOMINEE).raise_for_status()
        wait_until(lambda: [n for n in nominations(province, "6371") if n["status"] == "registered"],
                   message="answer")
        participant = call(province, "63", "GET", f"/api/v1/trainings/{event['id']}/participants").json()[0]
        call(province, "63", "POST", f"/api/v1/trainings/{event['id']}/status",
             json={"status": "ongoing"}).raise_for_status()
        call(province, "63", "POST", f"/api/v1/trainings/{event['id']}/attendance",
             json={"code": participant["checkin_code"], "day": "2024-12-04"}).raise_for_status()
        summary = wait_until(lambda: [r for r in requests.get(province.url("hub", "/api/v1/training"), timeout=5,
                                      headers=province.headers("hub", auth.ANALYST)).json()["events"]
                                      if r["event_id"] == event["id"] and r["attended"] == 1],
                             message="hub counts the attendance")
        assert summary[0]["registered"] == 1
        bodies = []
        while (message := tap.get(no_ack=True)) is not None:
            bodies.append(message.body if isinstance(message.body, str) else message.body.decode())
        tap.delete()
    assert any('"training.summary"' in b for b in bodies)  # the tap saw the training traffic
    for secret in (NOMINEE["name"], "Rahmawati", NOMINEE["phone"], NOMINEE["email"], participant["checkin_code"]):
        assert not [b for b in bodies if secret in b], f"{secret!r} reached the hub"
