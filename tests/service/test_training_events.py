"""An event's life on a real node (RabbitMQ vhost + SQLite): the status moves only along
``draft → open → ongoing → completed`` (or to ``cancelled``, with a reason), every other move is
409 with the reason and changes nothing; materials are typed by their content, limited in size and
come back byte for byte; and who may do what."""
import hashlib
import io
import zipfile

import pytest
import requests
import sqlalchemy as sa
from fpdf import FPDF

from rehsos import auth
from rehsos.db import create_engine
from tests.service.training_support import EVENT, NODE, call, move, new_event, ok, person, register
from tests.support import Province
from training.domain.events import TRANSITIONS

STATUSES = ("draft", "open", "ongoing", "completed", "cancelled")
TARGETS = ("open", "ongoing", "completed", "cancelled")


@pytest.fixture(scope="module")
def node(broker, tmp_path_factory):
    province = Province(tmp_path_factory.mktemp("province"), [NODE], start_hub=False).start()
    yield province
    province.close()


def event_in(node, status: str) -> dict:
    event = new_event(node, status if status in ("draft", "open", "ongoing") else "ongoing")
    if status == "completed":
        event = move(node, event["id"], "completed")
    elif status == "cancelled":
        event = move(node, event["id"], "cancelled", reason="Narasumber berhalangan hadir")
    assert event["status"] == status
    return event


def status_of(node, event_id) -> dict:
    return ok(call(node, "GET", f"/api/v1/trainings/{event_id}"))


def outbox(node) -> int:
    return node.count(NODE, "training", "outbox")


# -- status ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("start,target", [(s, t) for s in STATUSES for t in TARGETS if t not in TRANSITIONS[s]])
def test_every_move_off_the_path_is_409_with_the_reason_and_changes_nothing(node, start, target):
    event = event_in(node, start)
    before = outbox(node)
    resp = call(node, "POST", f"/api/v1/trainings/{event['id']}/status",
                {"status": target, "reason": "Alasan yang cukup panjang"})
    assert resp.status_code == 409, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid_transition" and error["fields"] == {"status": [error["fields"]["status"][0]]}
    assert "tidak dapat menjadi" in error["message"] and "langkah berikutnya" in error["message"]
    assert status_of(node, event["id"])["status"] == start and outbox(node) == before


def test_the_path_itself_is_allowed_and_each_move_is_announced(node):
    before = outbox(node)
    event = new_event(node)
    assert outbox(node) == before  # a draft is not announced
    for step in ("open", "ongoing", "completed"):
        assert move(node, event["id"], step)["status"] == step
    # Each move: the news to every node and the counts to the hub.
    assert outbox(node) - before == 6


@pytest.mark.parametrize("start", ["draft", "open", "ongoing"])
def test_cancelling_needs_a_reason(node, start):
    event = event_in(node, start)
    path = f"/api/v1/trainings/{event['id']}/status"
    for body in ({"status": "cancelled"}, {"status": "cancelled", "reason": None}):
        resp = call(node, "POST", path, body)
        assert resp.status_code == 422, resp.text
        assert list(resp.json()["error"]["fields"]) == ["reason"]
    resp = call(node, "POST", path, {"status": "cancelled", "reason": "x"})
    assert resp.status_code == 422 and list(resp.json()["error"]["fields"]) == ["reason"]
    assert status_of(node, event["id"])["status"] == start
    cancelled = move(node, event["id"], "cancelled", reason="Anggaran belum tersedia")
    assert (cancelled["status"], cancelled["status_reason"]) == ("cancelled", "Anggaran belum tersedia")


@pytest.mark.parametrize("status", ["draft", "completed", "cancelled"])
def test_registration_is_refused_when_the_event_is_not_open(node, status):
    event = event_in(node, status)
    resp = call(node, "POST", f"/api/v1/trainings/{event['id']}/participants", person())
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "not_open", resp.text
    assert status_of(node, event["id"])["registered"] == 0


@pytest.mark.parametrize("status", ["ongoing", "completed", "cancelled"])
def test_details_agenda_and_speakers_are_fixed_once_the_event_starts(node, status):
    event = event_in(node, status)
    base = f"/api/v1/trainings/{event['id']}"
    for method, path, body in (("PATCH", base, {"venue": "Banjarbaru"}),
                               ("POST", base + "/speakers", {"name": "Rusmini", "institution": "HIMPSI Kalsel"}),
                               ("POST", base + "/sessions", {"day": EVENT["start_date"], "starts_at": "08:00",
                                                             "ends_at": "09:00", "topic": "Pembukaan"})):
        resp = call(node, method, path, body)
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "wrong_status", resp.text
    assert status_of(node, event["id"])["venue"] == EVENT["venue"]


def test_after_completion_scores_and_cancellations_are_refused(node):
    event = new_event(node, "open")
    someone = register(node, event["id"])
    move(node, event["id"], "ongoing")
    move(node, event["id"], "completed")
    base = f"/api/v1/trainings/{event['id']}/participants/{someone['id']}"
    for method, path, body in (("PUT", base + "/scores", {"post_score": 90}), ("POST", base + "/cancellation", None)):
        resp = call(node, method, path, body)
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "wrong_status", resp.text
    again = call(node, "POST", f"/api/v1/trainings/{event['id']}/participants", person())
    assert again.status_code == 409


def test_a_quota_cannot_fall_below_those_registered(node):
    event = new_event(node, "open", quota=3, regency_quotas=[{"regency": "6371", "quota": 2},
                                                             {"regency": "6303", "quota": 1}])
    for regency in ("6371", "6371", "6303"):
        register(node, event["id"], regency=regency)
    base = f"/api/v1/trainings/{event['id']}"
    for body in ({"quota": 2}, {"regency_quotas": [{"regency": "6371", "quota": 1}, {"regency": "6303", "quota": 1}]}):
        resp = call(node, "PATCH", base, body)
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "quota_below_registered", resp.text
    # A regency quota above the overall one is not a conflict but bad input.
    resp = call(node, "PATCH", base, {"regency_quotas": [{"regency": "6371", "quota": 4}]})
    assert resp.status_code == 422 and list(resp.json()["error"]["fields"]) == ["regency_quotas"], resp.text
    view = status_of(node, event["id"])
    assert view["quota"] == 3 and [(r["regency"], r["quota"]) for r in view["regencies"]] == [("6303", 1), ("6371", 2)]
    assert ok(call(node, "PATCH", base, {"quota": 4}))["quota"] == 4


# -- materials --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def agenda(node):
    event = new_event(node)
    session = ok(call(node, "POST", f"/api/v1/trainings/{event['id']}/sessions", {
        "day": EVENT["start_date"], "starts_at": "08:00", "ends_at": "10:00", "topic": "Asesmen tuna sosial"}), 201)
    return f"/api/v1/trainings/{event['id']}/sessions/{session['id']}/materials"


def a_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Materi Bimtek: asesmen tuna sosial")
    return bytes(pdf.output())


def a_docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def a_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("catatan.txt", "bukan dokumen office")
    return buffer.getvalue()


def upload(node, path, filename, content, form=True, role=auth.TRAINER):
    if form:
        return call(node, "POST", path, role=role, files={"file": (filename, content)})
    return call(node, "POST", path, role=role, params={"filename": filename}, data=content,
                headers={"Content-Type": "application/octet-stream"})


def material_count(node) -> int:
    return node.count(NODE, "training", "material")


@pytest.mark.parametrize("form", [True, False], ids=["form", "raw-body"])
def test_a_material_is_typed_by_its_content_and_comes_back_byte_for_byte(node, agenda, form):
    content = a_pdf()
    stored = ok(upload(node, agenda, "Materi Asesmen.docx", content, form=form), 201)
    assert (stored["media_type"], stored["filename"], stored["size"], stored["sha256"]) == (
        "application/pdf", "Materi Asesmen.pdf", len(content), hashlib.sha256(content).hexdigest())
    assert stored in ok(call(node, "GET", agenda))
    download = call(node, "GET", f"{agenda}/{stored['id']}", role=auth.OPERATOR)
    assert download.status_code == 200 and download.content == content
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["X-Content-SHA256"] == hashlib.sha256(download.content).hexdigest() == stored["sha256"]
    assert 'filename="Materi Asesmen.pdf"' in download.headers["Content-Disposition"]


def test_an_office_document_is_recognised_from_its_parts(node, agenda):
    stored = ok(upload(node, agenda, "notulen.pdf", a_docx()), 201)
    assert stored["media_type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert stored["filename"] == "notulen.docx"


@pytest.mark.parametrize("filename,content", [
    ("materi.pdf", "Ini hanya teks biasa, bukan PDF.".encode()),
    ("materi.docx", a_zip()),
    ("materi.pdf", b"PK\x03\x04 bukan zip yang utuh"),
    ("materi.pdf", b""),
    ("materi.exe", b"MZ\x90\x00\x03"),
], ids=["text-renamed-pdf", "plain-zip-renamed-docx", "broken-zip", "empty", "program"])
def test_a_file_that_is_not_an_accepted_kind_is_422_naming_file(node, agenda, filename, content):
    before = material_count(node)
    resp = upload(node, agenda, filename, content)
    assert resp.status_code == 422, resp.text
    assert list(resp.json()["error"]["fields"]) == ["file"] and resp.json()["error"]["fields"]["file"][0]
    assert material_count(node) == before


def test_a_form_without_a_file_is_422_naming_file(node, agenda):
    resp = call(node, "POST", agenda, files={"berkas": ("materi.pdf", a_pdf())})
    assert resp.status_code == 422 and list(resp.json()["error"]["fields"]) == ["file"], resp.text


@pytest.mark.parametrize("form", [True, False], ids=["form", "raw-body"])
def test_a_file_over_the_size_limit_is_refused(node, agenda, form):
    limit = node.settings[NODE].http["max_upload_bytes"]
    before = material_count(node)
    resp = upload(node, agenda, "besar.pdf", b"%PDF-1.7\n" + b"0" * limit, form=form)
    assert resp.status_code in (400, 413), resp.text
    assert resp.json()["error"]["code"] == "payload_too_large" and str(limit) in resp.json()["error"]["message"]
    assert material_count(node) == before


def test_a_material_is_found_only_under_its_own_event_and_session(node, agenda):
    stored = ok(upload(node, agenda, "materi.pdf", a_pdf()), 201)
    other = new_event(node)
    other_session = ok(call(node, "POST", f"/api/v1/trainings/{other['id']}/sessions", {
        "day": EVENT["start_date"], "starts_at": "08:00", "ends_at": "09:00", "topic": "Sesi lain"}), 201)
    base = agenda.rsplit("/sessions/", 1)[0]
    for path in (f"/api/v1/trainings/{other['id']}/sessions/{other_session['id']}/materials/{stored['id']}",
                 f"{base}/sessions/{other_session['id']}/materials/{stored['id']}",
                 f"{agenda}/999999", f"{base}/sessions/999999/materials"):
        assert call(node, "GET", path).status_code == 404, path


# -- roles --------------------------------------------------------------------------------------------
def test_an_operator_may_nominate_but_not_manage(node, agenda):
    event = new_event(node, "open")
    base = f"/api/v1/trainings/{event['id']}"
    nominated = ok(call(node, "POST", base + "/nominations", person("6371"), role=auth.OPERATOR), 201)
    assert nominated["status"] == "registered" and nominated["organiser_node"] == NODE
    someone = nominated["id"]
    refused = [
        ("POST", "/api/v1/trainings", EVENT), ("PATCH", base, {"venue": "Banjarbaru"}),
        ("POST", base + "/status", {"status": "ongoing"}), ("POST", base + "/participants", person()),
        ("POST", base + "/speakers", {"name": "Narasumber", "institution": "HIMPSI Kalsel"}),
        ("POST", base + "/sessions", {"day": EVENT["start_date"], "starts_at": "08:00", "ends_at": "09:00",
                                      "topic": "Pembukaan"}),
        ("POST", f"{base}/participants/{someone}/cancellation", None),
        ("PUT", f"{base}/participants/{someone}/scores", {"pre_score": 40}),
        ("POST", base + "/attendance", {"participant_id": someone, "day": EVENT["start_date"]}),
        ("POST", base + "/attendance/batch", {"rows": [{"participant_id": someone, "day": EVENT["start_date"]}]}),
        ("GET", base + "/participants", None), ("GET", f"{base}/participants/{someone}/certificate.pdf", None),
        ("POST", "/api/v1/certificates/RK-AAAA-AAAA-AAAA/revocation", {"reason": "Salah terbit"}),
    ]
    before = node.count(NODE, "training", "participant"), node.count(NODE, "training", "training_event")
    for method, path, body in refused:
        resp = call(node, method, path, body, role=auth.OPERATOR)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json()["error"]["code"] == "forbidden"
    assert upload(node, agenda, "materi.pdf", a_pdf(), role=auth.OPERATOR).status_code == 403
    assert (node.count(NODE, "training", "participant"), node.count(NODE, "training", "training_event")) == before
    # Reading the events and the invitations is open to an operator.
    assert call(node, "GET", base, role=auth.OPERATOR).status_code == 200
    assert call(node, "GET", "/api/v1/trainings/nominations", role=auth.OPERATOR).status_code == 200


@pytest.fixture(scope="module")
def foreign_tokens(node):
    """A trainer and an admin of 6371 as this node's store would know them, and a 6371 token it does not know."""
    store = auth.TokenStore(create_engine(node.settings[NODE].auth_database_uri))
    tokens = [store.issue(user=f"pelatih.{role}", role=role, node="6371") for role in (auth.TRAINER, auth.ADMIN)]
    store.engine.dispose()
    return tokens + ["rk_6371_" + "A" * 43]


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/api/v1/trainings", EVENT), ("GET", "/api/v1/trainings", None),
    ("POST", "/api/v1/trainings/{event}/participants", person()),
    ("POST", "/api/v1/trainings/{event}/nominations", person("6371")),
    ("POST", "/api/v1/trainings/{event}/status", {"status": "ongoing"}),
    ("POST", "/api/v1/certificates/RK-AAAA-AAAA-AAAA/revocation", {"reason": "Salah terbit"}),
], ids=["create", "list", "register", "nominate", "status", "revoke"])
def test_a_token_of_another_node_is_403(node, foreign_tokens, method, path, body):
    event = new_event(node, "open")
    for token in foreign_tokens:
        resp = call(node, method, path.format(event=event["id"]), body, token=token)
        assert resp.status_code == 403, resp.text
        assert "6371" in resp.json()["error"]["message"]
    assert status_of(node, event["id"])["registered"] == 0 and status_of(node, event["id"])["status"] == "open"


def test_without_a_token_it_is_401_but_the_verification_page_is_public(node):
    resp = requests.post(node.url(NODE, "/api/v1/trainings"), json=EVENT, timeout=10)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.get(node.url(NODE, "/verifikasi/RK-AAAA-AAAA-AAAA"), timeout=10).status_code == 404


def test_refusals_are_logged_as_denials(node):
    engine = create_engine(node.settings[NODE].auth_database_uri)
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM access_denial")).scalar_one()
    assert call(node, "POST", "/api/v1/trainings", EVENT, role=auth.OPERATOR).status_code == 403
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT role, method, path FROM access_denial ORDER BY id")).all()
    engine.dispose()
    assert len(rows) == before + 1 and tuple(rows[-1]) == ("operator", "POST", "/api/v1/trainings")


def test_an_agenda_stops_at_the_number_of_topics_an_announcement_can_carry(node, monkeypatch):
    from training.domain import events

    monkeypatch.setattr(events, "MAX_SESSIONS", 2)  # the services run in this process
    event = new_event(node)
    session = {"day": EVENT["start_date"], "starts_at": "08:00", "ends_at": "09:00", "topic": "Topik"}
    for i in range(2):
        ok(call(node, "POST", f"/api/v1/trainings/{event['id']}/sessions", {**session, "topic": f"Topik {i}"}))
    full = call(node, "POST", f"/api/v1/trainings/{event['id']}/sessions", session)
    assert full.status_code == 409 and full.json()["error"]["code"] == "agenda_full", full.text
    assert len(ok(call(node, "GET", f"/api/v1/trainings/{event['id']}"))["sessions"]) == 2
    assert move(node, event["id"], "open")["status"] == "open"  # and it is announced as a whole
