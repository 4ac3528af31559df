"""Intake's pages at a node: the caseload searched and paged, a person registered with their
duplicates shown first, a case moved through its forms, referral from the directory of free beds
(read from the node's facilities service over RPC), each form refused with its message beside
the field and what was typed kept, CSRF and roles enforced, and every personal read audit-logged."""
import re
import uuid
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from rehsos import auth
from rehsos.clock import now
from tests.page_client import PageClient, csrf_of
from tests.support import case_body

NODE = "6371"


@pytest.fixture
def province(shared_province):
    return shared_province([NODE], start_hub=False)


def signed_in(province, role=auth.OPERATOR) -> PageClient:
    person = PageClient(province, NODE)
    person.sign_in(role)
    return person


def unique_name(first: str) -> str:
    """A name no other test of the module registers: letters only (the search folds digits away)."""
    letters = "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])
    return f"{first} {letters.capitalize()}"


def register_by_api(province, **overrides) -> dict:
    body = case_body(nik=None, **overrides)
    resp = province.register(NODE, body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def field_error(html: str, field: str) -> str:
    """The message shown beside a field (the kit's ``<p class="error" id="f-<field>-error">``)."""
    match = re.search(rf'id="f-{re.escape(field)}-error">([^<]*)<', html)
    assert match, f"no message beside {field}"
    return match.group(1)


def audit(province, **where) -> list:
    engine = province.engine(NODE, "intake")
    with engine.connect() as conn:
        table = sa.Table("audit_log", sa.MetaData(), autoload_with=conn)
        return conn.execute(sa.select(table).where(*[table.c[k] == v for k, v in where.items()])).all()


REGISTRATION = {"name": "", "sex": "female", "estimated_age": "34", "kecamatan": "637103", "category": "gelandangan",
                "desa": "Pekapuran Raya"}


# -- the caseload -----------------------------------------------------------------------------------
def test_the_caseload_is_searched_by_name_and_filtered_and_paged(province):
    name = unique_name("Siti")
    first = register_by_api(province, name=name)
    register_by_api(province, name=name + " Kedua", kecamatan="637101")
    person = signed_in(province)
    page = person.get(f"/kasus?q={name}")
    assert page.status_code == 200 and "2 kasus ditemukan" in page.text
    assert f'href="/kasus/{first["id"]}"' in page.text
    only_there = person.get(f"/kasus?q={name}&kecamatan=637101")
    assert "1 kasus ditemukan" in only_there.text and f'href="/kasus/{first["id"]}"' not in only_there.text
    paged = person.get(f"/kasus?q={name}&per_page=1")
    assert "halaman 1 dari 2" in paged.text and "Berikutnya" in paged.text
    second = person.get(re.search(r'href="(/kasus\?[^"]*page=2)"', paged.text).group(1).replace("&amp;", "&"))
    assert "halaman 2 dari 2" in second.text and "Sebelumnya" in second.text
    searches = audit(province, action="case.search", purpose="halaman kasus")
    assert searches and all(row.actor.endswith(":uji.operator") for row in searches)


def test_a_search_that_counted_up_to_the_limit_says_more_were_found_and_still_pages(province, monkeypatch):
    from intake.domain import search

    name = unique_name("Siti")
    for suffix in ("", " Dua", " Tiga"):
        register_by_api(province, name=name + suffix)
    monkeypatch.setattr(search, "COUNT_LIMIT", 1)  # the node runs in this process
    person = signed_in(province)
    page = person.get(f"/kasus?q={name}&per_page=2")
    assert "Lebih dari 1 kasus ditemukan; halaman 1." in page.text and "Berikutnya" in page.text
    last = person.get(f"/kasus?q={name}&per_page=2&page=2")
    assert "Lebih dari 1 kasus ditemukan; halaman 2." in last.text and "Berikutnya" not in last.text


def test_a_search_refused_says_why_beside_the_field_and_keeps_what_was_typed(province):
    page = signed_in(province).get("/kasus?q=7&stage=asesmen")
    assert page.status_code == 422
    assert "huruf" in field_error(page.text, "q") or "2 sampai 100" in field_error(page.text, "q")
    assert 'value="7"' in page.text and '<option value="asesmen" selected>' in page.text


# -- registration -----------------------------------------------------------------------------------
def test_a_person_without_nik_or_birth_date_is_registered_with_a_case(province):
    person = signed_in(province)
    name = unique_name("Rahmawati")
    done = person.submit("/kasus/baru", {**REGISTRATION, "name": name, "guardian_name": "Bu Ijah",
                                         "guardian_relationship": "ibu"})
    assert done.status_code == 303, done.text
    case_page = person.get(done.headers["Location"])
    assert case_page.status_code == 200 and name in case_page.text
    assert "Orang dan kasusnya sudah terdaftar." in case_page.text and "belum ada" in case_page.text
    assert "(perkiraan)" in case_page.text and "Bu Ijah (ibu)" in case_page.text


def test_a_registration_refused_shows_each_message_beside_its_field_and_keeps_what_was_typed(province):
    person = signed_in(province)
    refused = person.submit("/kasus/baru", {**REGISTRATION, "name": "Budi Santoso", "estimated_age": "dua puluh",
                                            "kecamatan": "630301", "nik": "123"})
    assert refused.status_code == 422
    assert "bilangan bulat" in field_error(refused.text, "estimated_age")
    assert "16 digit" in field_error(refused.text, "nik")
    assert 'value="Budi Santoso"' in refused.text and 'value="dua puluh"' in refused.text
    assert 'value="female" checked' in refused.text and '<option value="gelandangan" selected>' in refused.text
    # A kecamatan of another regency passes the schema (a known code) and is refused by the domain.
    elsewhere = person.submit("/kasus/baru", {**REGISTRATION, "name": unique_name("Budi"), "kecamatan": "630301"})
    assert elsewhere.status_code == 422 and "tidak berada di" in field_error(elsewhere.text, "kecamatan")
    both = person.submit("/kasus/baru", {**REGISTRATION, "name": unique_name("Budi"), "birth_date": "1990-01-01"})
    assert both.status_code == 422 and "salah satu" in field_error(both.text, "estimated_age")


def test_likely_duplicates_are_shown_before_saving_and_the_operator_decides(province):
    name = unique_name("Aisyah")
    existing = register_by_api(province, name=name, sex="female", birth_date="1990-05-01")
    person = signed_in(province)
    typed = {**REGISTRATION, "name": name, "estimated_age": str(now().year - 1990)}
    shown = person.submit("/kasus/baru", typed)
    assert shown.status_code == 200 and "Mungkin sudah terdaftar" in shown.text
    assert existing["person"]["registration_no"] in shown.text and "nama mirip" in shown.text
    assert f'value="{name}"' in shown.text  # the form is still filled in
    seen = audit(province, action="person.duplicates", record_id=existing["person"]["id"])
    assert seen and seen[-1].purpose == "cek duplikat"
    # The same person: a new case for them, no new person.
    token = csrf_of(shown.text)
    picked = person.http.post(person.url("/kasus/baru"), allow_redirects=False, timeout=10,
                              data={"csrf": token, **typed, "category": "pengemis", "pilih": existing["person"]["id"]})
    assert picked.status_code == 303, picked.text
    new_case = requests.get(province.url(NODE, picked.headers["Location"].replace("/kasus/", "/api/v1/cases/")
                                         .split("?")[0]), headers=province.headers(NODE, auth.OPERATOR), timeout=5).json()
    assert new_case["person"]["id"] == existing["person"]["id"] and new_case["category"] == "pengemis"
    # Not the same person: saved as a new one.
    again = person.submit("/kasus/baru", typed)
    confirmed = person.http.post(person.url("/kasus/baru"), allow_redirects=False, timeout=10,
                                 data={"csrf": csrf_of(again.text), **typed, "keputusan": "baru"})
    assert confirmed.status_code == 303
    other = requests.get(province.url(NODE, confirmed.headers["Location"].replace("/kasus/", "/api/v1/cases/")
                                      .split("?")[0]), headers=province.headers(NODE, auth.OPERATOR), timeout=5).json()
    assert other["person"]["id"] != existing["person"]["id"] and other["person"]["name"] == name


def test_forms_need_the_sessions_csrf_token_and_a_case_workers_role(province):
    person = signed_in(province)
    forged = person.http.post(person.url("/kasus/baru"), data={**REGISTRATION, "name": "Tanpa Token"},
                              allow_redirects=False, timeout=10)
    assert forged.status_code == 403
    manager = signed_in(province, auth.FACILITY_MANAGER)
    assert manager.get("/kasus").status_code == 403 and manager.get("/kasus/baru").status_code == 403
    anonymous = requests.get(province.url(NODE, "/kasus"), allow_redirects=False, timeout=5)
    assert anonymous.status_code == 303 and anonymous.headers["Location"] == "/masuk"
    found = requests.get(province.url(NODE, "/api/v1/cases?q=Tanpa Token"), timeout=5,
                         headers=province.headers(NODE, auth.OPERATOR)).json()
    assert found["total"] == 0  # nothing of the forged post was written


# -- a case and its forms ---------------------------------------------------------------------------
def test_a_case_moves_through_its_forms_and_the_timeline_tells_it(province):
    case = register_by_api(province, name=unique_name("Andi"), birth_date=f"{now().year - 12}-02-01", sex="male")
    path = f"/kasus/{case['id']}"
    op = signed_in(province)
    page = op.get(path)
    assert page.status_code == 200 and "Riwayat kasus" in page.text and "Kasus dibuka" in page.text
    reads = audit(province, action="case.read", record_id=case["id"], purpose="halaman kasus")
    assert reads
    # A child: consent comes from a guardian, recorded first.
    by_child = op.submit(f"{path}/persetujuan", {"purpose": "referral", "legal_basis": "consent", "given_by": "person"},
                         page=path)
    assert by_child.status_code == 422 and "wali" in field_error(by_child.text, "given_by")
    assert '<option value="referral" selected>' in by_child.text
    no_guardian = op.submit(f"{path}/persetujuan", {"purpose": "referral", "legal_basis": "consent",
                                                    "given_by": "guardian"}, page=path)
    assert no_guardian.status_code == 422 and "Wali belum tercatat" in no_guardian.text
    assert op.submit(f"{path}/wali", {"guardian_name": "Pak Udin", "guardian_relationship": "ayah"},
                     page=path).status_code == 303
    assert op.submit(f"{path}/persetujuan", {"purpose": "assessment", "legal_basis": "consent",
                                             "given_by": "guardian"}, page=path).status_code == 303
    # Stages: only allowed moves are offered; the assessment form appears at asesmen.
    wrong = op.submit(f"{path}/tahap", {"stage": "intervensi"}, page=path)
    assert wrong.status_code == 409 and "tidak diizinkan" in wrong.text
    assert op.submit(f"{path}/tahap", {"stage": "asesmen"}, page=path).status_code == 303
    empty = op.submit(f"{path}/asesmen", {"risk_level": "high", "recommendation": "Rujuk ke panti"}, page=path)
    assert empty.status_code == 422 and "sedikitnya satu komponen" in empty.text
    assert 'value="high" checked' in empty.text and "Rujuk ke panti" in empty.text
    assert op.submit(f"{path}/asesmen", {"needs.terapi": "Pendampingan trauma", "risk_level": "high",
                                         "recommendation": "Rujuk ke panti"}, page=path).status_code == 303
    assert op.submit(f"{path}/tahap", {"stage": "rencana_intervensi"}, page=path).status_code == 303
    refused_plan = op.submit(f"{path}/rencana", [("components", "terapi"),
                                                 ("target.dukungan_keluarga", "2030-01-01"),
                                                 ("responsible_worker", "Bu Sari")], page=path)
    assert refused_plan.status_code == 422 and "tidak direncanakan" in refused_plan.text
    assert op.submit(f"{path}/rencana", [("components", "terapi"), ("responsible_worker", "Bu Sari")],
                     page=path).status_code == 303
    # Closure: asked by the operator, decided by a supervisor (the form only on their page).
    assert op.submit(f"{path}/penutupan", {"reason": "Kembali ke keluarga", "outcome": "positive"},
                     page=path).status_code == 303
    assert "Keputusan penutupan" not in op.get(path).text
    assert op.http.post(op.url(f"{path}/penutupan/keputusan"), data={"csrf": csrf_of(op.get(path).text),
                                                                      "approve": "ya"}, timeout=10).status_code == 403
    supervisor = signed_in(province, auth.SUPERVISOR)
    assert "Keputusan penutupan" in supervisor.get(path).text
    assert supervisor.submit(f"{path}/penutupan/keputusan", {"approve": "ya"}, page=path).status_code == 303
    closed = op.get(path)
    assert "Ditutup" in closed.text and "Buka kembali kasus" in closed.text
    short = op.submit(f"{path}/buka-kembali", {"reason": "x"}, page=path)
    assert short.status_code == 422 and field_error(short.text, "reason")
    assert op.submit(f"{path}/buka-kembali", {"reason": "Kambuh lagi"}, page=path).status_code == 303
    timeline = op.get(path).text
    for words in ("Asesmen dicatat: risiko Tinggi", "Rencana intervensi", "Penutupan diajukan",
                  "Kasus ditutup", "Kasus dibuka kembali: Kambuh lagi"):
        assert words in timeline, words


def test_an_unknown_case_is_a_page_saying_so(province):
    page = signed_in(province).get(f"/kasus/{uuid.uuid4()}")
    assert page.status_code == 404 and "Kasus tidak ditemukan" in page.text and "<html" in page.text


# -- referral from the directory --------------------------------------------------------------------
def directory_entry(province, facility_id: str, *, node: str, age: timedelta, free: int = 2):
    engine = province.engine(NODE, "facilities")
    with engine.begin() as conn:
        table = sa.Table("capacity_directory", sa.MetaData(), autoload_with=conn)
        conn.execute(sa.insert(table).values(
            facility_id=facility_id, node=node, name=f"Panti {facility_id}", kind="panti", regency="6372",
            categories=["gelandangan"], disability_types=[], status="operational",
            units=[{"name": "Wisma Laki-laki", "sex": "male", "capacity": 5, "free": free}],
            as_of=now() - age, received_at=now()))


def test_a_case_is_referred_from_the_directory_of_free_beds_and_its_status_shown(province):
    fresh, old = f"panti-segar-{uuid.uuid4().hex[:6]}", f"panti-lama-{uuid.uuid4().hex[:6]}"
    directory_entry(province, fresh, node="63", age=timedelta(minutes=5), free=3)
    directory_entry(province, old, node="6303", age=timedelta(days=9))
    case = register_by_api(province, name=unique_name("Rizky"))
    path = f"/kasus/{case['id']}"
    op = signed_in(province)
    page = op.get(f"{path}/rujuk?fasilitas={fresh}")
    assert page.status_code == 200, page.text
    rows = {r: page.text.split(f"Panti {r}")[1].split("</tr>")[0] for r in (fresh, old)}
    assert "5 menit" in rows[fresh] and "data lama" not in rows[fresh]
    assert "9 hari" in rows[old] and "data lama" in rows[old]
    assert f'value="63/{fresh}" checked' in page.text  # chosen on the directory page
    nothing = op.submit(f"{path}/rujuk", {}, page=f"{path}/rujuk")
    assert nothing.status_code == 422 and field_error(nothing.text, "facility")
    no_consent = op.submit(f"{path}/rujuk", {"facility": f"63/{fresh}"}, page=f"{path}/rujuk")
    assert no_consent.status_code == 409 and "persetujuan" in no_consent.text
    assert f'value="63/{fresh}" checked' in no_consent.text
    assert op.submit(f"{path}/persetujuan", {"purpose": "referral", "legal_basis": "consent", "given_by": "person"},
                     page=path).status_code == 303
    sent = op.submit(f"{path}/rujuk", {"facility": f"63/{fresh}"}, page=f"{path}/rujuk")
    assert sent.status_code == 303
    shown = op.get(sent.headers["Location"])
    assert "Menunggu jawaban panti" in shown.text and fresh in shown.text
    assert audit(province, action="case.referral", record_id=case["id"], purpose="rujukan")


def test_a_facility_code_typed_instead_is_refused_beside_its_fields(province):
    """The form the page shows when the directory does not answer: code and node typed."""
    case = register_by_api(province, name=unique_name("Yusuf"))
    op = signed_in(province)
    refused = op.submit(f"/kasus/{case['id']}/rujuk", {"cara": "kode", "facility_node": "99"},
                        page=f"/kasus/{case['id']}/rujuk")
    assert refused.status_code == 422
    assert field_error(refused.text, "facility_id") and field_error(refused.text, "facility_node")
