"""The trainer's pages at a node, through HTTP as a browser without script would use them: create
an event, its speakers and agenda, move it on; register, waitlist and cancel participants; check
in by code or from the list, day by day; upload an offline batch; scores, completion and the
certificate; and, at a regency's node, nominate for another node's event. Every form: refused
with the message beside its field and what was typed kept, no CSRF token → 403, wrong role → 403."""
from __future__ import annotations

import json
import re

import pytest
import requests

from rehsos import auth
from tests.page_client import PageClient, csrf_of
from tests.support import wait_until

pytestmark = pytest.mark.timeout(180)

EVENT_FORM = {"kind": "bimtek", "title": "Bimtek Pendampingan Disabilitas", "theme": "Pendampingan disabilitas",
              "venue": "Aula Dinas Sosial Provinsi", "start_date": "2024-12-04", "end_date": "2024-12-05",
              "quota": "2", "min_attendance": "1.0", "min_post_score": "60"}
PERSON = {"position": "Pekerja Sosial Ahli Pertama", "office": "Dinas Sosial", "regency": "6371",
          "role": "pekerja_sosial", "phone": "081234567890"}
EVENT_PATH = re.compile(r"^/pelatihan/([0-9a-f-]{36})\?pesan=dibuat$")


@pytest.fixture
def province(shared_province):
    return shared_province(["63", "6371"])


@pytest.fixture
def trainer(province):
    person = PageClient(province, "63")
    person.sign_in(auth.TRAINER)
    return person


def field(html: str, name: str) -> str:
    """The form field ``name`` with its label, hint, messages and input (one ``div.field``)."""
    fid = "f-" + name.replace(".", "-")
    match = re.search(r'<div class="field[^"]*">((?:(?!</div>).)*?id="' + re.escape(fid) + r'"(?:(?!</div>).)*)</div>',
                      html, re.S)
    assert match, f"no field {name}"
    return match.group(0)


def create_event(trainer, **overrides) -> str:
    resp = trainer.submit("/pelatihan/baru", {**EVENT_FORM, **overrides})
    assert resp.status_code == 303, resp.text
    match = EVENT_PATH.match(resp.headers["Location"])
    assert match, resp.headers["Location"]
    return match.group(1)


def move(trainer, event_id: str, status: str) -> requests.Response:
    resp = trainer.submit(f"/pelatihan/{event_id}/status", {"status": status}, page=f"/pelatihan/{event_id}")
    assert resp.status_code == 303, resp.text
    return resp


def register(trainer, event_id: str, name: str, **overrides) -> requests.Response:
    return trainer.submit(f"/pelatihan/{event_id}/peserta", {**PERSON, "name": name, **overrides})


def participant_ids(trainer, event_id: str) -> dict[str, str]:
    html = trainer.get(f"/pelatihan/{event_id}/presensi").text
    return {name: pid for pid, name in re.findall(r'name="participant_id" value="([^"]+)"><button type="submit" '
                                                   r'aria-label="Tandai hadir: ([^"]+)"', html)}


def codes(trainer, event_id: str) -> dict[str, str]:
    html = trainer.get(f"/pelatihan/{event_id}/peserta").text
    return dict(re.findall(r'<th scope="row">([^<]+)</th>\s*<td>[^<]*</td><td>[^<]*</td><td>[^<]*</td>\s*'
                           r'<td><code>([A-Z0-9]{8})</code>', html))


# -- the event ----------------------------------------------------------------------------------------
def test_an_event_form_refused_keeps_what_was_typed_with_each_message_beside_its_field(trainer):
    typed = {**EVENT_FORM, "title": "Bi", "end_date": "2024-12-01", "regency_quotas.6371": "5",
             "target_roles": "pekerja_sosial"}
    resp = trainer.submit("/pelatihan/baru", typed)
    assert resp.status_code == 422
    assert "Periksa kembali isian berikut" in resp.text
    assert 'value="Bi"' in field(resp.text, "title") and 'class="error"' in field(resp.text, "title")
    # The schema passed the dates; the domain's rule refused them, beside the end date.
    resp = trainer.submit("/pelatihan/baru", {**typed, "title": "Bimtek yang cukup panjang"})
    assert resp.status_code == 422
    end = field(resp.text, "end_date")
    assert "tidak boleh sebelum tanggal mulai" in end and 'value="2024-12-01"' in end
    # A regency's quota above the event's: said beside that regency's own field.
    resp = trainer.submit("/pelatihan/baru", {**typed, "title": "Bimtek yang cukup panjang", "end_date": "2024-12-05"})
    assert resp.status_code == 422
    quota = field(resp.text, "regency_quotas.6371")
    assert "melebihi kuota keseluruhan (2)" in quota and 'value="5"' in quota
    assert 'value="pekerja_sosial" checked' in resp.text
    resp = trainer.submit("/pelatihan/baru", {**EVENT_FORM, "quota": "dua"})
    assert resp.status_code == 422 and "Harus berupa bilangan bulat." in field(resp.text, "quota")


def test_an_event_is_created_given_speakers_and_agenda_and_moved_through_its_statuses(trainer):
    event_id = create_event(trainer, **{"regency_quotas.6371": "1", "regency_quotas.63": "1"})
    page = trainer.get(f"/pelatihan/{event_id}?pesan=dibuat")
    assert page.status_code == 200 and "Kegiatan dibuat sebagai draf" in page.text
    assert '<dd id="status-kegiatan">Draf' in page.text and "Kota Banjarmasin" in page.text
    assert trainer.submit(f"/pelatihan/{event_id}/narasumber", {"name": "Dr. Siti Rahmah",
                                                                "institution": "HIMPSI Kalsel"},
                          page=f"/pelatihan/{event_id}").status_code == 303
    refused = trainer.submit(f"/pelatihan/{event_id}/narasumber", {"name": "Dr. Siti Rahmah"},
                             page=f"/pelatihan/{event_id}")
    assert refused.status_code == 422 and "Wajib diisi." in field(refused.text, "institution")
    assert 'value="Dr. Siti Rahmah"' in field(refused.text, "name")
    speaker = re.search(r'name="speaker_ids" value="(\d+)"', trainer.get(f"/pelatihan/{event_id}").text).group(1)
    outside = trainer.submit(f"/pelatihan/{event_id}/agenda", {"day": "2024-12-09", "starts_at": "08:00",
                                                               "ends_at": "10:00", "topic": "Asesmen"},
                             page=f"/pelatihan/{event_id}")
    assert outside.status_code == 422
    assert "Hari harus di antara" in outside.text and 'value="Asesmen"' in field(outside.text, "topic")
    added = trainer.submit(f"/pelatihan/{event_id}/agenda", [("day", "2024-12-04"), ("starts_at", "08:00"),
                                                             ("ends_at", "10:30"), ("topic", "Asesmen ATENSI"),
                                                             ("speaker_ids", speaker)], page=f"/pelatihan/{event_id}")
    assert added.status_code == 303
    page = trainer.get(f"/pelatihan/{event_id}").text
    assert "Asesmen ATENSI" in page and "08.00–10.30" in page and "Dr. Siti Rahmah" in page
    # Completing a draft is refused (409) with the domain's reason; nothing changed.
    refused = trainer.submit(f"/pelatihan/{event_id}/status", {"status": "completed"}, page=f"/pelatihan/{event_id}")
    assert refused.status_code == 409 and "tidak dapat menjadi selesai" in refused.text
    cancel = trainer.submit(f"/pelatihan/{event_id}/status", {"status": "cancelled"}, page=f"/pelatihan/{event_id}")
    assert cancel.status_code == 422 and "Sebutkan alasan pembatalan." in field(cancel.text, "reason")
    for status, shown in (("open", "Pendaftaran dibuka"), ("ongoing", "Berlangsung")):
        move(trainer, event_id, status)
        assert f'<dd id="status-kegiatan">{shown}' in trainer.get(f"/pelatihan/{event_id}").text
    listed = trainer.get("/pelatihan").text
    assert f'href="/pelatihan/{event_id}"' in listed and "Berlangsung" in listed


def test_forms_need_the_sessions_csrf_token_and_the_right_role(province, trainer):
    event_id = create_event(trainer)
    no_token = trainer.http.post(trainer.url("/pelatihan/baru"), data=EVENT_FORM, allow_redirects=False, timeout=10)
    assert no_token.status_code == 403
    wrong = trainer.http.post(trainer.url(f"/pelatihan/{event_id}/status"), data={"status": "open", "csrf": "x" * 43},
                              allow_redirects=False, timeout=10)
    assert wrong.status_code == 403
    operator = PageClient(province, "63")
    operator.sign_in(auth.OPERATOR)
    assert operator.get("/pelatihan").status_code == 200  # operators nominate
    assert operator.get("/pelatihan/baru").status_code == 403
    assert operator.get(f"/pelatihan/{event_id}/peserta").status_code == 403
    token = csrf_of(operator.get("/pelatihan").text)
    refused = operator.http.post(operator.url("/pelatihan/baru"), data={**EVENT_FORM, "csrf": token},
                                 allow_redirects=False, timeout=10)
    assert refused.status_code == 403
    assert "Berlangsung" not in trainer.get(f"/pelatihan/{event_id}").text  # nothing moved
    anonymous = requests.get(province.url("63", f"/pelatihan/{event_id}"), allow_redirects=False, timeout=10)
    assert anonymous.status_code == 303 and anonymous.headers["Location"] == "/masuk"
    assert trainer.get("/pelatihan/" + "0" * 36).status_code == 404


# -- participants, check-in, batch, scores, certificates ----------------------------------------------------------
def test_participants_are_registered_waitlisted_and_cancelled(trainer):
    event_id = create_event(trainer)
    move(trainer, event_id, "open")
    refused = register(trainer, event_id, "")
    assert refused.status_code == 422 and "Wajib diisi." in field(refused.text, "name")
    assert 'value="Dinas Sosial"' in field(refused.text, "office")
    for name in ("Rahmawati Nor", "Budi Santoso"):
        assert register(trainer, event_id, name).headers["Location"].endswith("pesan=terdaftar")
    again = register(trainer, event_id, "rahmawati  nor")
    assert again.status_code == 409 and "Sudah terdaftar." in field(again.text, "name")
    assert register(trainer, event_id, "Siti Aminah").headers["Location"].endswith("pesan=tunggu")
    page = trainer.get(f"/pelatihan/{event_id}/peserta").text
    assert "Terdaftar (2)" in page and "Daftar tunggu (1)" in page
    move(trainer, event_id, "ongoing")
    ids = participant_ids(trainer, event_id)  # the check-in list: registered only
    assert set(ids) == {"Rahmawati Nor", "Budi Santoso"}
    cancelled = trainer.submit(f"/pelatihan/{event_id}/peserta/{ids['Budi Santoso']}/batal", {},
                               page=f"/pelatihan/{event_id}/peserta")
    assert cancelled.status_code == 303
    page = trainer.get(f"/pelatihan/{event_id}/peserta").text
    assert "Dibatalkan (1)" in page and "Daftar tunggu (0)" in page  # Siti took the place
    assert set(participant_ids(trainer, event_id)) == {"Rahmawati Nor", "Siti Aminah"}
    again = trainer.submit(f"/pelatihan/{event_id}/peserta/{ids['Budi Santoso']}/batal", {},
                           page=f"/pelatihan/{event_id}/peserta")
    assert again.status_code == 409 and "sudah dibatalkan" in again.text


def test_check_in_by_code_and_from_the_list_day_by_day_an_offline_batch_scores_and_certificates(province, trainer):
    event_id = create_event(trainer, quota="3")
    move(trainer, event_id, "open")
    for name in ("Ahmad Fauzi", "Dewi Lestari", "Hendra Wijaya"):
        register(trainer, event_id, name)
    move(trainer, event_id, "ongoing")
    code = codes(trainer, event_id)
    ids = participant_ids(trainer, event_id)
    day1 = f"/pelatihan/{event_id}/presensi?hari=2024-12-04"

    # Day 1: a code typed in lower case, then the same again: "sudah hadir", nothing changes.
    first = trainer.submit(f"/pelatihan/{event_id}/presensi", {"code": code["Ahmad Fauzi"].lower(),
                                                               "day": "2024-12-04"}, page=day1)
    assert first.status_code == 303
    shown = trainer.get(first.headers["Location"]).text
    assert "Presensi Ahmad Fauzi tercatat untuk 4 Desember 2024." in shown
    repeat = trainer.submit(f"/pelatihan/{event_id}/presensi", {"code": code["Ahmad Fauzi"], "day": "2024-12-04"},
                            page=day1)
    assert "Ahmad Fauzi sudah hadir pada 4 Desember 2024" in trainer.get(repeat.headers["Location"]).text
    ticked = trainer.submit(f"/pelatihan/{event_id}/presensi", {"participant_id": ids["Dewi Lestari"],
                                                                "day": "2024-12-04"}, page=day1)
    assert ticked.status_code == 303
    unknown = trainer.submit(f"/pelatihan/{event_id}/presensi", {"code": "ZZZZ9999", "day": "2024-12-04"}, page=day1)
    assert unknown.status_code == 409
    assert "tidak dikenal" in field(unknown.text, "code") and 'value="ZZZZ9999"' in field(unknown.text, "code")
    page = trainer.get(day1).text
    assert "<strong>2</strong> dari 3 peserta" in page

    # Day 2 from an offline batch: CSV, with a repeat and an unknown code reported per row.
    csv = f"code,day\n{code['Ahmad Fauzi']},2024-12-05\n{code['Dewi Lestari']},2024-12-05\n" \
          f"{code['Ahmad Fauzi']},2024-12-05\nZZZZ9999,2024-12-05\n"
    token = csrf_of(trainer.get(f"/pelatihan/{event_id}/presensi/unggah").text)
    report = trainer.http.post(trainer.url(f"/pelatihan/{event_id}/presensi/unggah"), data={"csrf": token},
                               files={"file": ("presensi.csv", csv.encode(), "text/csv")}, timeout=20)
    assert report.status_code == 200, report.text
    assert "2 presensi dicatat, 1 sudah tercatat sebelumnya, 1 bermasalah." in report.text
    bad = trainer.http.post(trainer.url(f"/pelatihan/{event_id}/presensi/unggah"), data={"csrf": token},
                            files={"file": ("presensi.json", json.dumps({"rows": [{"code": "X", "day": "kemarin"}]})
                                            .encode(), "application/json")}, timeout=20)
    assert bad.status_code == 422 and "Baris 1, kolom day" in bad.text and "Tidak ada presensi yang dicatat" in bad.text
    empty = trainer.http.post(trainer.url(f"/pelatihan/{event_id}/presensi/unggah"), data={"csrf": token},
                              files={"file": ("", b"", "application/octet-stream")}, timeout=20)
    assert empty.status_code == 422 and "Pilih berkas JSON atau CSV" in empty.text
    no_token = trainer.http.post(trainer.url(f"/pelatihan/{event_id}/presensi/unggah"),
                                 files={"file": ("presensi.csv", csv.encode(), "text/csv")}, timeout=20)
    assert no_token.status_code == 403
    day2 = trainer.get(f"/pelatihan/{event_id}/presensi?hari=2024-12-05").text
    assert "<strong>2</strong> dari 3 peserta" in day2

    # Scores: a refused one keeps what was typed beside it; nothing saved until all are right.
    scores = f"/pelatihan/{event_id}/nilai"
    typed = {f"pre_score.{ids['Ahmad Fauzi']}": "40", f"post_score.{ids['Ahmad Fauzi']}": "85",
             f"pre_score.{ids['Dewi Lestari']}": "50", f"post_score.{ids['Dewi Lestari']}": "101"}
    refused = trainer.submit(scores, typed)
    assert refused.status_code == 422 and "0 sampai 100." in refused.text
    assert f'name="post_score.{ids["Dewi Lestari"]}" value="101"' in refused.text
    assert 'value="40"' in refused.text and "Rata-rata" not in refused.text
    saved = trainer.submit(scores, {**typed, f"post_score.{ids['Dewi Lestari']}": "55"})
    assert saved.status_code == 303
    assert "Rata-rata pre-test 45,0, post-test 70,0, kenaikan 25,0" in trainer.get(scores).text

    # Completion: Ahmad (two days, 85) passes; Dewi (55 < 60) and Hendra (absent) do not.
    move(trainer, event_id, "completed")
    page = trainer.get(f"/pelatihan/{event_id}/peserta").text
    numbers = re.findall(r'<span class="nomor-sertifikat">([A-Z0-9-]+)</span>', page)
    assert len(numbers) == 1 and page.count("Tidak lulus") == 2
    pdf = trainer.get(f"/pelatihan/{event_id}/peserta/{ids['Ahmad Fauzi']}/sertifikat.pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert trainer.get(f"/pelatihan/{event_id}/peserta/{ids['Dewi Lestari']}/sertifikat.pdf").status_code == 404
    verified = requests.get(province.url("63", f"/verifikasi/{numbers[0]}"), timeout=10)
    assert verified.status_code == 200 and "Sertifikat sah" in verified.text and "Ahmad Fauzi" in verified.text


# -- invitations: nominating at a regency's node ----------------------------------------------------------------
def test_a_regency_nominates_from_its_page_and_sees_the_answer(province, trainer):
    event_id = create_event(trainer, title="Bimtek Undangan Kota", **{"regency_quotas.6371": "2"})
    move(trainer, event_id, "open")
    operator = PageClient(province, "6371")
    operator.sign_in(auth.OPERATOR)
    wait_until(lambda: f"/pelatihan/undangan/{event_id}" in operator.get("/pelatihan").text, timeout=30,
               message="the invitation at 6371")
    invitation = f"/pelatihan/undangan/{event_id}"
    page = operator.get(invitation).text
    assert "Kuota kantor ini</dt><dd>2 orang" in page and "Provinsi Kalimantan Selatan" in page
    refused = operator.submit(invitation, {**PERSON, "name": "Nurul Hidayah", "role": "", "email": "bukan-surel"})
    assert refused.status_code == 422
    assert "Wajib diisi." in field(refused.text, "role") and 'value="Nurul Hidayah"' in field(refused.text, "name")
    assert "bukan-surel" in field(refused.text, "email")
    other = operator.submit(invitation, {**PERSON, "name": "Nurul Hidayah", "regency": "6303"})
    assert other.status_code == 422 and "hanya mendaftarkan" in field(other.text, "regency")
    sent = operator.submit(invitation, {**PERSON, "name": "Nurul Hidayah"})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("pesan=diusulkan")
    answered = wait_until(lambda: (lambda html: html if "<code>" in html else None)(operator.get(invitation).text),
                          timeout=30, message="the organiser's answer at 6371")
    assert "Terdaftar" in answered
    code = re.search(r"<code>([A-Z0-9]{8})</code>", answered).group(1)
    at_organiser = trainer.get(f"/pelatihan/{event_id}/peserta").text
    assert "Nurul Hidayah" in at_organiser and "usulan Kota Banjarmasin" in at_organiser and code in at_organiser
    facility = PageClient(province, "6371")
    facility.sign_in(auth.FACILITY_MANAGER)
    assert facility.get(invitation).status_code == 403
    assert operator.get("/pelatihan/undangan/" + "0" * 36).status_code == 404
