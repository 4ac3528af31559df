"""Signing in to a running node's and the hub's pages with a user name and password (and, still,
with a token): the 401 page, the throttle on guessing, and a revoked account."""
import uuid

import pytest
import requests

from rehsos import auth
from rehsos.db import create_engine
from tests.page_client import PageClient, csrf_of


@pytest.fixture
def province(shared_province):
    return shared_province(["6371"])


def new_account(province, name: str, role: str) -> tuple[int, str, str, str]:
    """A fresh account at ``name`` (each test its own user, so throttles do not meet): id, user,
    password, token."""
    user, password = f"uji.{uuid.uuid4().hex[:8]}", f"sandi-{uuid.uuid4().hex[:8]}"
    store = auth.TokenStore(create_engine(province.settings[name].auth_database_uri))
    try:
        token = store.issue(user=user, role=role, node=province.settings[name].node)
        token_id = store.lookup(token).token_id
        store.set_password(token_id, password)
    finally:
        store.engine.dispose()
    return token_id, user, password, token


def post_sign_in(person: PageClient, fields: dict) -> requests.Response:
    form = person.get("/masuk")
    assert form.status_code == 200
    return person.http.post(person.url("/masuk"), data={"csrf": csrf_of(form.text), **fields},
                            allow_redirects=False, timeout=10)


@pytest.mark.parametrize("name, role", [("6371", auth.OPERATOR), ("hub", auth.ANALYST)])
def test_a_person_signs_in_with_user_name_and_password_and_still_may_with_a_token(province, name, role):
    _, user, password, token = new_account(province, name, role)
    form = PageClient(province, name).get("/masuk").text
    assert 'autocomplete="username"' in form and 'autocomplete="current-password"' in form
    assert "<details" in form and "Masuk dengan token akses" in form
    person = PageClient(province, name)
    signed_in = post_sign_in(person, {"user": user, "password": password})
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/"
    home = person.get("/")
    assert home.status_code == 200 and 'action="/keluar"' in home.text  # signed in by a session
    assert name == "hub" or user in home.text
    by_token = PageClient(province, name)
    assert post_sign_in(by_token, {"token": token}).status_code == 303
    assert by_token.get("/").status_code == 200


@pytest.mark.parametrize("name, role", [("6371", auth.OPERATOR), ("hub", auth.ANALYST)])
def test_a_wrong_password_gets_the_form_again_with_401_the_name_kept_and_the_sixth_try_is_held(province, name,
                                                                                               role):
    _, user, password, _ = new_account(province, name, role)
    person = PageClient(province, name)
    for _ in range(auth.MAX_FAILURES):
        wrong = post_sign_in(person, {"user": user, "password": "bukan-sandinya"})
        assert wrong.status_code == 401 and wrong.headers["Content-Type"].startswith("text/html")
        assert auth.WRONG_PASSWORD in wrong.text and "coba lagi nanti" not in wrong.text
        assert f'value="{user}"' in wrong.text and "bukan-sandinya" not in wrong.text
        assert "rehsos_session" not in person.http.cookies
    held = post_sign_in(person, {"user": user, "password": password})  # the right one, too late
    assert held.status_code == 401 and "coba lagi nanti" in held.text and "rehsos_session" not in person.http.cookies
    # Another person is not held back by it.
    _, other, other_password, _ = new_account(province, name, role)
    assert post_sign_in(PageClient(province, name), {"user": other, "password": other_password}).status_code == 303


def test_a_revoked_account_signs_in_no_more_and_its_sessions_end(province):
    token_id, user, password, _ = new_account(province, "6371", auth.OPERATOR)
    person = PageClient(province, "6371")
    assert post_sign_in(person, {"user": user, "password": password}).status_code == 303
    assert person.get("/").status_code == 200
    store = auth.TokenStore(create_engine(province.settings["6371"].auth_database_uri))
    try:
        assert store.revoke(token_id)
    finally:
        store.engine.dispose()
    ended = person.get("/")
    assert ended.status_code == 303 and ended.headers["Location"] == "/masuk"
    again = post_sign_in(PageClient(province, "6371"), {"user": user, "password": password})
    assert again.status_code == 401 and auth.WRONG_PASSWORD in again.text
