"""A node's front door: sign-in with a session, the menu each role sees, sign-out, and forms that
need the session's CSRF token."""
import pytest
import requests

from rehsos import auth
from tests.page_client import PageClient, csrf_of


@pytest.fixture
def province(shared_province):
    return shared_province(["6371"], start_hub=False)


def test_a_node_asks_for_sign_in_and_then_shows_the_menu_of_the_persons_role(province):
    anonymous = requests.get(province.url("6371", "/"), allow_redirects=False, timeout=5)
    assert anonymous.status_code == 303 and anonymous.headers["Location"] == "/masuk"
    menus = {}
    for role in (auth.OPERATOR, auth.FACILITY_MANAGER, auth.TRAINER):
        person = PageClient(province, "6371")
        person.sign_in(role)
        home = person.get("/")
        assert home.status_code == 200 and '<html lang="id">' in home.text
        assert "Kota Banjarmasin" in home.text and f"uji.{role}" in home.text
        assert "script" not in home.headers["Content-Security-Policy"]
        menus[role] = home.text
    assert 'href="/kasus/baru"' in menus[auth.OPERATOR] and 'href="/panti"' not in menus[auth.OPERATOR]
    assert 'href="/panti"' in menus[auth.FACILITY_MANAGER] and 'href="/kasus/baru"' not in menus[auth.FACILITY_MANAGER]
    assert 'href="/pelatihan"' in menus[auth.TRAINER] and 'href="/kasus"' not in menus[auth.TRAINER]


def test_a_wrong_token_is_told_in_indonesian_and_sign_out_ends_the_session(province):
    person = PageClient(province, "6371")
    form = person.get("/masuk")
    refused = person.http.post(person.url("/masuk"), data={"csrf": csrf_of(form.text), "token": "salah"}, timeout=5)
    assert refused.status_code == 401 and "Token akses tidak valid" in refused.text
    person.sign_in(auth.OPERATOR)
    session_id = person.http.cookies["rehsos_session"]
    out = person.submit("/keluar", {}, page="/")
    assert out.status_code == 303 and out.headers["Location"] == "/masuk"
    replayed = requests.get(person.url("/"), cookies={"rehsos_session": session_id}, allow_redirects=False, timeout=5)
    assert replayed.status_code == 303


def test_a_hub_token_does_not_open_a_nodes_pages(province):
    person = PageClient(province, "6371")
    form = person.get("/masuk")
    other = province.tokens["6371"][auth.OPERATOR].replace("6371", "6303", 1)
    refused = person.http.post(person.url("/masuk"), data={"csrf": csrf_of(form.text), "token": other}, timeout=5)
    assert refused.status_code in (401, 403) and "rehsos_session" not in person.http.cookies


def test_a_page_a_role_may_not_open_is_refused_with_a_page_in_indonesian(province):
    trainer = PageClient(province, "6371")
    trainer.sign_in(auth.TRAINER)
    refused = trainer.get("/panti")
    assert refused.status_code == 403 and refused.headers["Content-Type"].startswith("text/html")
    assert '<html lang="id">' in refused.text and "Tidak diizinkan" in refused.text
    assert 'href="/"' in refused.text
