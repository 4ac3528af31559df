"""Completion and certificates on a real node (RabbitMQ vhost + SQLite): when a two-day event is
completed its rule (share of days attended, minimum post-test score) decides who completed; each
of them gets a real PDF certificate in Indonesian whose number is keyed, not sequential; anyone
can check the number on /verifikasi/<number>, and a forged or revoked one says so."""
import base64
import hashlib
import io
import re

import pypdf
import pytest
import requests

from rehsos import auth
from tests.service.training_support import NODE, RAKOR, call, move, new_event, ok, participants, register
from tests.support import Province
from training.domain.completion import certificate_number

DAY_1, DAY_2 = RAKOR["start_date"], RAKOR["end_date"]
# Who attended which days and what they scored after; whether they complete under each rule.
CAST = {  # name: (days, post-test score, completes at (100 % of days, 70), (50 % of days, 70), (100 %, no minimum))
    "Rahmawati Noor": ((DAY_1, DAY_2), 85, (True, True, True)),
    "Muhammad Ramadhan": ((DAY_1, DAY_2), 70, (True, True, True)),   # exactly the minimum score
    "Siti Aminah": ((DAY_1, DAY_2), 69, (False, False, True)),       # one point short
    "Gusti Fahrurrazi": ((DAY_2,), 95, (False, True, False)),        # half the days
    "Nurul Hidayah": ((DAY_1, DAY_2), None, (False, False, True)),   # no post-test
    "Akhmad Jaiz": ((), 100, (False, False, False)),                 # never came
}
RULES = {"all-days-and-70": (1.0, 70), "half-the-days-and-70": (0.5, 70), "all-days-no-minimum": (1.0, None)}


@pytest.fixture(scope="module")
def node(broker, tmp_path_factory):
    province = Province(tmp_path_factory.mktemp("province"), [NODE], start_hub=False).start()
    yield province
    province.close()


def completed_event(node, min_attendance=1.0, min_post_score=70) -> tuple[dict, dict]:
    """A two-day Rakor with a 7.5-hour agenda, the cast, a cancelled and a waitlisted person, completed."""
    event = new_event(node, body=RAKOR, quota=len(CAST) + 1, min_attendance=min_attendance,
                      min_post_score=min_post_score)
    base = f"/api/v1/trainings/{event['id']}"
    speaker = ok(call(node, "POST", base + "/speakers", {"name": "Dra. Hj. Rusmini", "institution":
                                                         "PRSPDNF Fajar Harapan"}), 201)
    for day, starts, ends in ((DAY_1, "08:00", "12:00"), (DAY_2, "08:00", "11:30")):
        ok(call(node, "POST", base + "/sessions", {"day": day, "starts_at": starts, "ends_at": ends,
                                                   "topic": "Asesmen penyandang disabilitas",
                                                   "speaker_ids": [speaker["id"]]}), 201)
    move(node, event["id"], "open")
    people = {name: register(node, event["id"], name=name) for name in CAST}
    cancelled = register(node, event["id"], name="Hairil Anwar")
    waiting = register(node, event["id"], name="Fitri Handayani")  # the event is full
    ok(call(node, "POST", f"{base}/participants/{cancelled['id']}/cancellation"))
    assert waiting["status"] == "waitlisted"
    people.update({"cancelled": cancelled, "waitlisted": ok(call(node, "GET", f"{base}/participants/{waiting['id']}"))})
    assert people["waitlisted"]["status"] == "registered"  # promoted into the freed place
    move(node, event["id"], "ongoing")
    rows = [{"code": people[name]["checkin_code"], "day": day} for name, (days, _, _) in CAST.items() for day in days]
    ok(call(node, "POST", base + "/attendance/batch", {"rows": rows}))
    for name, (_, score, _) in CAST.items():
        scores = {"pre_score": 50, "post_score": score}
        ok(call(node, "PUT", f"{base}/participants/{people[name]['id']}/scores", scores))
    event = move(node, event["id"], "completed")
    return event, people


def certificate(node, event_id, participant_id) -> requests.Response:
    return call(node, "GET", f"/api/v1/trainings/{event_id}/participants/{participant_id}/certificate")


def verify(node, number) -> requests.Response:
    return requests.get(node.url(NODE, f"/verifikasi/{number}"), timeout=10)  # no token: a public page


def pdf_text(content: bytes) -> str:
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("rule", RULES, ids=list(RULES))
def test_completion_follows_the_rule_of_the_event(node, rule):
    min_attendance, min_post_score = RULES[rule]
    event, people = completed_event(node, min_attendance, min_post_score)
    assert event["status"] == "completed"
    assert event["completion_rule"] == {"min_attendance": min_attendance, "min_post_score": min_post_score}
    column = list(RULES).index(rule)
    by_id = {p["id"]: p for p in participants(node, event["id"])}
    assert {name: by_id[people[name]["id"]]["completed"] for name in CAST} == {
        name: expected[column] for name, (_, _, expected) in CAST.items()}
    for name, (_, _, expected) in CAST.items():
        resp = certificate(node, event["id"], people[name]["id"])
        assert resp.status_code == (200 if expected[column] else 404), (name, resp.text)
    # The cancelled registration gets nothing; the promoted latecomer never came, so no certificate.
    assert by_id[people["cancelled"]["id"]]["completed"] is None
    assert by_id[people["waitlisted"]["id"]]["completed"] is False
    for who in ("cancelled", "waitlisted"):
        assert certificate(node, event["id"], people[who]["id"]).status_code == 404


@pytest.fixture(scope="module")
def completed(node):
    return completed_event(node)


def test_the_certificate_is_a_pdf_in_indonesian_with_the_number_the_name_and_the_event(node, completed):
    event, people = completed
    person = people["Rahmawati Noor"]
    number = ok(certificate(node, event["id"], person["id"]))["number"]
    resp = call(node, "GET", f"/api/v1/trainings/{event['id']}/participants/{person['id']}/certificate.pdf")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF-")
    text = pdf_text(resp.content)
    for expected in ("SERTIFIKAT", f"Nomor: {number}", "diberikan kepada", "Rahmawati Noor",
                     'Rapat Koordinasi "Rakor Rehabilitasi Sosial Penyandang Disabilitas"',
                     "diselenggarakan oleh Dinas Sosial Provinsi Kalimantan Selatan", "26-27 September 2024",
                     "di Banjarmasin", "selama 7,5 jam", f"/verifikasi/{number}"):
        assert expected in text, f"{expected!r} not in the certificate: {text}"
    # No certificate for someone who did not complete.
    short = people["Siti Aminah"]
    assert call(node, "GET", f"/api/v1/trainings/{event['id']}/participants/{short['id']}/certificate.pdf"
                ).status_code == 404


def test_the_public_page_verifies_a_number_and_refuses_a_forged_one(node, completed):
    event, people = completed
    number = ok(certificate(node, event["id"], people["Muhammad Ramadhan"]["id"]))["number"]
    page = verify(node, number)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Sertifikat sah" in page.text and "Muhammad Ramadhan" in page.text
    # The page's style is the one its policy admits (a browser would drop any other inline style).
    style = re.search(r"<style>(.*?)</style>", page.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in page.headers["Content-Security-Policy"]
    assert "Rakor Rehabilitasi Sosial Penyandang Disabilitas" in page.text and "26–27 September 2024" in page.text
    assert "Sertifikat sah" in verify(node, f" {number.lower()}").text  # as typed from the paper

    forged = number[:-1] + ("A" if number[-1] != "A" else "B")
    for fake in (forged, "RK-AAAA-AAAA-AAAA", "x" * 40):
        page = verify(node, fake)
        assert page.status_code == 404 and "Sertifikat tidak dikenal" in page.text and "tidak sah" in page.text
        assert "Sertifikat sah" not in page.text
    page = verify(node, "<i>RK-AAAA")
    assert page.status_code == 404 and "<i>RK" not in page.text and "&lt;i&gt;RK-AAAA" in page.text


def test_a_revoked_certificate_says_so_on_the_public_page(node):
    event, people = completed_event(node)
    number = ok(certificate(node, event["id"], people["Rahmawati Noor"]["id"]))["number"]
    path = f"/api/v1/certificates/{number}/revocation"
    assert call(node, "POST", path, {"reason": "Diterbitkan karena salah input"}).status_code == 403  # trainer
    assert "Sertifikat sah" in verify(node, number).text
    revoked = ok(call(node, "POST", path, {"reason": "Diterbitkan karena salah input"}, role=auth.ADMIN))
    assert revoked["number"] == number and revoked["revoked_at"] and revoked["revoked_reason"]
    page = verify(node, number)
    assert page.status_code == 410
    assert "dicabut" in page.text and "Sertifikat sah" not in page.text and "salah input" in page.text
    assert ok(certificate(node, event["id"], people["Rahmawati Noor"]["id"]))["revoked_at"] == revoked["revoked_at"]
    pdf = call(node, "GET", f"/api/v1/trainings/{event['id']}/participants/{people['Rahmawati Noor']['id']}"
                            "/certificate.pdf")
    assert pdf.status_code == 409 and pdf.json()["error"]["code"] == "revoked"  # no PDF of a revoked one
    # Typed from paper: lower case, spaces, and 0/1 for O/I still find it.
    typed = number.lower().replace("o", "0").replace("i", "1").replace("-", " - ", 1)
    assert "dicabut" in verify(node, typed).text
    again = call(node, "POST", path, {"reason": "Sekali lagi"}, role=auth.ADMIN)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_revoked"
    assert call(node, "POST", "/api/v1/certificates/RK-AAAA-AAAA-AAAA/revocation", {"reason": "Palsu"},
                role=auth.ADMIN).status_code == 404
    # The other certificate of the event is untouched.
    other = ok(certificate(node, event["id"], people["Muhammad Ramadhan"]["id"]))["number"]
    assert "Sertifikat sah" in verify(node, other).text


def test_certificate_numbers_are_keyed_not_sequential(node, completed):
    event, people = completed
    holders = [people[name] for name, (_, _, expected) in CAST.items() if expected[0]]
    numbers = [ok(certificate(node, event["id"], p["id"]))["number"] for p in holders]
    assert len(numbers) == len(set(numbers)) == 2
    codes = [n.replace("RK-", "").replace("-", "") for n in numbers]
    assert all(re.fullmatch(r"[A-Z2-7]{12}", c) for c in codes), numbers
    assert sum(a == b for a, b in zip(*codes)) <= 4, numbers  # no shared prefix, counter or pattern
    # The number is an HMAC of the participant under the node's secret: another secret, another number.
    secret = node.settings[NODE].person_key_secret
    for holder, number in zip(holders, numbers):
        assert certificate_number(secret, holder["id"]) == number
        assert certificate_number(secret + "x", holder["id"]) != number
        assert certificate_number("another-node-secret-entirely", holder["id"]) != number


def test_before_completion_there_is_no_certificate(node):
    event = new_event(node, "ongoing", body=RAKOR, min_post_score=None)
    person = register(node, event["id"])  # a walk-in on the first day
    base = f"/api/v1/trainings/{event['id']}"
    ok(call(node, "POST", base + "/attendance/batch", {"rows": [{"code": person["checkin_code"], "day": d}
                                                                  for d in (DAY_1, DAY_2)]}))
    assert certificate(node, event["id"], person["id"]).status_code == 404
    assert ok(call(node, "GET", f"{base}/participants/{person['id']}"))["completed"] is None
    assert verify(node, certificate_number(node.settings[NODE].person_key_secret, person["id"])).status_code == 404
    # Completed, it has one, under the number the key gives.
    move(node, event["id"], "completed")
    assert ok(certificate(node, event["id"], person["id"]))["number"] == certificate_number(
        node.settings[NODE].person_key_secret, person["id"])
