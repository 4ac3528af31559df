"""Tokens, page sessions and the access-denial log of a node (rehsos/auth.py), on a migrated SQLite
auth database; the sign-in and sign-out flow (rehsos/api/sessions.py) with werkzeug's test requests."""
import base64
import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
import yaml
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from rehsos import auth, db
from rehsos.api import sessions
from rehsos.api.errors import BadRequest
from rehsos.clock import now
from rehsos_tools import cli

NODE = "6371"
READERS = (auth.OPERATOR,)


@pytest.fixture
def engine(tmp_path):
    uri = f"sqlite:///{tmp_path / 'auth.sqlite'}"
    db.migrate(db.AUTH, uri)
    engine = db.create_engine(uri)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine):
    return auth.TokenStore(engine)


@pytest.fixture
def session_store(engine):
    return auth.SessionStore(engine, idle=timedelta(minutes=30), absolute=timedelta(hours=8))


def bearer(token):
    return f"Bearer {token}"


def set_column(engine, table, column, value, **where):
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(*(table.c[k] == v for k, v in where.items())).values({column: value}))


# -- tokens ------------------------------------------------------------------------------------------
def test_a_token_names_its_user_and_expires_after_its_days(store):
    store.issue(user="siti.aminah", name="Siti Aminah", role=auth.SUPERVISOR, node=NODE, days=7)
    [row] = store.list()
    assert (row["user"], row["name"]) == ("siti.aminah", "Siti Aminah")
    assert abs(row["expires_at"] - (row["created_at"] + timedelta(days=7))) < timedelta(seconds=1)


@pytest.mark.parametrize("user", ["Siti Aminah", "", "siti aminah", "-siti", "x" * 65])
def test_a_user_is_one_lower_case_word_per_person(store, user):
    with pytest.raises(ValueError, match="user"):
        store.issue(user=user, role=auth.OPERATOR, node=NODE)


@pytest.mark.parametrize("days", [0, -1, auth.MAX_TOKEN_DAYS + 1])
def test_a_token_lives_at_least_a_day_and_at_most_a_year(store, days):
    with pytest.raises(ValueError, match="days"):
        store.issue(user="siti", role=auth.OPERATOR, node=NODE, days=days)


def test_an_expired_token_is_refused_with_401_and_says_so_in_indonesian(store, engine):
    token = store.issue(user="siti", role=auth.OPERATOR, node=NODE, days=1)
    assert auth.authorize(store, bearer(token), node=NODE, roles=READERS).user == "siti"
    set_column(engine, auth.tokens, "expires_at", now() - timedelta(minutes=1), user="siti")
    with pytest.raises(auth.Unauthenticated, match="sudah kedaluwarsa sejak") as refused:
        auth.authorize(store, bearer(token), node=NODE, roles=READERS)
    assert refused.value.status == 401
    assert store.lookup(token) is None


def test_a_revoked_token_is_refused_with_401(store):
    token = store.issue(user="siti", role=auth.OPERATOR, node=NODE)
    assert store.revoke(store.list()[0]["id"])
    assert not store.revoke(store.list()[0]["id"])  # once
    with pytest.raises(auth.Unauthenticated, match="sudah dicabut"):
        auth.authorize(store, bearer(token), node=NODE, roles=READERS)


def test_the_actor_names_the_user_so_two_tokens_of_one_person_are_one_person(store):
    first = auth.authorize(store, bearer(store.issue(user="siti", role=auth.SUPERVISOR, node=NODE)),
                           node=NODE, roles=(auth.SUPERVISOR,))
    second = auth.authorize(store, bearer(store.issue(user="siti", role=auth.SUPERVISOR, node=NODE)),
                            node=NODE, roles=(auth.SUPERVISOR,))
    other = auth.authorize(store, bearer(store.issue(user="budi", role=auth.SUPERVISOR, node=NODE)),
                           node=NODE, roles=(auth.SUPERVISOR,))
    assert first.actor != second.actor
    assert auth.user_of(first.actor) == auth.user_of(second.actor) == "siti"
    assert auth.user_of(other.actor) == "budi"


def test_token_create_takes_the_user_and_the_days(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'auth.sqlite'}"
    db.migrate(db.AUTH, uri)
    config = tmp_path / "node.yaml"
    config.write_text(yaml.safe_dump({"node": NODE, "broker_uri": "amqp://x", "hub_broker_uri": "amqp://y",
                                      "database_uri": f"sqlite:///{tmp_path}/{{service}}.sqlite",
                                      "auth_database_uri": uri}))
    assert cli.main(["token", "create", "--config", str(config), "--role", "supervisor", "--user", "siti.aminah",
                     "--name", "Siti Aminah", "--days", "3"]) == 0
    token = capsys.readouterr().out.strip()
    engine = db.create_engine(uri)
    store = auth.TokenStore(engine)
    principal = store.lookup(token)
    assert (principal.user, principal.name, principal.role, principal.node) == (
        "siti.aminah", "Siti Aminah", auth.SUPERVISOR, NODE)
    [row] = store.list()
    assert timedelta(days=3) - timedelta(minutes=1) < row["expires_at"] - now() <= timedelta(days=3)
    assert cli.main(["token", "revoke", "--config", str(config), "--id", str(row["id"])]) == 0
    assert store.lookup(token) is None
    engine.dispose()


# -- the access-denial log -----------------------------------------------------------------------------
def test_a_flood_of_refusals_is_recorded_up_to_the_limit_then_only_counted(store):
    for i in range(auth.DENIALS_PER_MINUTE * 3):
        store.log_denial(principal=None, token_node="6303", method="GET", path=f"/api/v1/cases/{i}",
                         reason="Token node 6303 tidak berlaku di node 6371.")
    insider = auth.authorize(store, bearer(store.issue(user="budi", role=auth.OPERATOR, node=NODE)),
                             node=NODE, roles=READERS)
    store.log_denial(principal=insider, token_node=None, method="GET", path="/api/v1/audit", reason="Peran")
    rows = store.denials(limit=1000)
    # The minute may turn during the loop: then each minute has its own rows, within the same bound.
    anonymous = [r for r in rows if r["token_id"] is None]
    assert len(anonymous) <= 2 * (auth.DENIALS_PER_MINUTE + 1)
    assert sum(r["count"] for r in anonymous) == auth.DENIALS_PER_MINUTE * 3
    summaries = [r for r in anonymous if r["method"] == "*"]
    assert summaries and all(r["count"] >= 1 and "hanya dihitung" in r["reason"] for r in summaries)
    # Someone signed in has their own allowance: a flood of strangers does not hide them.
    assert [(r["token_id"], r["path"], r["count"]) for r in rows if r["token_id"]] == [
        (insider.token_id, "/api/v1/audit", 1)]


# -- sessions ------------------------------------------------------------------------------------------
def principal_of(store, user="siti", role=auth.OPERATOR, days=90):
    return auth.authorize(store, bearer(store.issue(user=user, role=role, node=NODE, days=days)), node=NODE,
                          roles=(role,))


def test_a_session_holds_the_principal_and_a_csrf_token_and_only_its_hash_is_stored(store, session_store, engine):
    principal = principal_of(store)
    session_id = session_store.open(principal)
    session = session_store.find(session_id)
    assert session.principal == principal and len(session.csrf) >= 32
    with engine.connect() as conn:
        stored = conn.execute(sa.select(auth.web_sessions)).one()
    assert stored.id_hash == auth.hash_token(session_id) and session_id not in stored
    assert session_store.find("not-a-session") is None


def test_a_session_ends_when_idle_at_its_absolute_limit_at_sign_out_and_with_its_token(store, session_store, engine):
    principal = principal_of(store)
    idle, absolute, closed, revoked = (session_store.open(principal) for _ in range(4))
    set_column(engine, auth.web_sessions, "last_seen_at", now() - timedelta(minutes=31),
               id_hash=auth.hash_token(idle))
    set_column(engine, auth.web_sessions, "expires_at", now() - timedelta(seconds=1),
               id_hash=auth.hash_token(absolute))
    session_store.close(closed)
    assert [session_store.find(s) is None for s in (idle, absolute, closed, revoked)] == [True, True, True, False]
    store.revoke(principal.token_id)
    assert session_store.find(revoked) is None


def test_a_session_ends_no_later_than_its_token(store, session_store, engine):
    session_id = session_store.open(principal_of(store, days=1))
    with engine.connect() as conn:
        session_expires = conn.execute(sa.select(auth.web_sessions.c.expires_at)).scalar_one()
    assert session_expires - now() <= timedelta(hours=8)
    set_column(engine, auth.tokens, "expires_at", now() - timedelta(seconds=1), user="siti")
    assert session_store.find(session_id) is None


def test_use_keeps_a_session_alive_within_its_absolute_limit(store, session_store, engine):
    session_id = session_store.open(principal_of(store))
    set_column(engine, auth.web_sessions, "last_seen_at", now() - timedelta(minutes=29),
               id_hash=auth.hash_token(session_id))
    assert session_store.find(session_id) is not None
    with engine.connect() as conn:
        last_seen = conn.execute(sa.select(auth.web_sessions.c.last_seen_at)).scalar_one()
    assert now() - last_seen < timedelta(minutes=1)


# -- sign-in and sign-out ------------------------------------------------------------------------------
def request(method="GET", path=sessions.LOGIN_PATH, form=None, cookies=None):
    headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())} if cookies else {}
    return Request(EnvironBuilder(method=method, path=path, data=form, headers=headers).get_environ())


def page(csrf, error, status, *, user="", by_token=False):
    return Response(f"<form>{csrf}|{error}|{user}|{by_token}</form>", status=status, mimetype="text/html")


def cookies_of(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


@pytest.fixture
def sign_in(store, session_store):
    return sessions.SignIn(store, session_store, node=NODE, secure=False)


def signed_in(sign_in, store):
    form = sign_in.form(page)
    csrf = form.get_data(as_text=True).split("<form>")[1].split("|")[0]
    token = store.issue(user="siti", role=auth.OPERATOR, node=NODE)
    response = sign_in.sign_in(request("POST", form={"csrf": csrf, "token": token},
                                       cookies={sessions.SIGN_IN_COOKIE: csrf}), roles=READERS, render=page)
    session_id = cookies_of(response)[sessions.SESSION_COOKIE].split(";")[0].split("=", 1)[1]
    return response, session_id, token


def test_sign_in_needs_the_forms_csrf_token_matching_its_cookie(sign_in, store):
    token = store.issue(user="siti", role=auth.OPERATOR, node=NODE)
    form = sign_in.form(page)
    csrf_cookie = cookies_of(form)[sessions.SIGN_IN_COOKIE]
    assert "HttpOnly" in csrf_cookie and "SameSite=Strict" in csrf_cookie
    for cookies, fields in [({}, {"token": token}), ({sessions.SIGN_IN_COOKIE: "a" * 43}, {"token": token}),
                            ({sessions.SIGN_IN_COOKIE: "a" * 43}, {"token": token, "csrf": "b" * 43})]:
        refused = sign_in.sign_in(request("POST", form=fields, cookies=cookies), roles=READERS, render=page)
        assert refused.status_code == 403 and "Formulir masuk tidak sah" in refused.get_data(as_text=True)
        assert sessions.SESSION_COOKIE not in cookies_of(refused)


def test_a_wrong_token_gets_the_form_again_with_401(sign_in):
    refused = sign_in.sign_in(request("POST", form={"csrf": "c" * 43, "token": "salah"},
                                      cookies={sessions.SIGN_IN_COOKIE: "c" * 43}), roles=READERS, render=page)
    assert refused.status_code == 401 and "Token akses tidak valid" in refused.get_data(as_text=True)


def test_sign_in_sets_a_random_session_id_not_the_token_in_a_strict_http_only_cookie(sign_in, store):
    response, session_id, token = signed_in(sign_in, store)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = cookies_of(response)[sessions.SESSION_COOKIE]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert token not in "".join(response.headers.getlist("Set-Cookie")) and session_id != token


def test_over_https_the_cookies_are_secure(store, session_store):
    sign_in = sessions.SignIn(store, session_store, node=NODE, secure=True)
    assert "Secure" in cookies_of(sign_in.form(page))[sessions.SIGN_IN_COOKIE]
    response, _, _ = signed_in(sign_in, store)
    assert "Secure" in cookies_of(response)[sessions.SESSION_COOKIE]


def test_sign_out_needs_the_sessions_csrf_token_and_ends_the_session_on_the_server(sign_in, store, session_store):
    _, session_id, _ = signed_in(sign_in, store)
    cookies = {sessions.SESSION_COOKIE: session_id}
    with pytest.raises(auth.Forbidden, match="Formulir tidak sah"):
        sign_in.sign_out(request("POST", sessions.LOGOUT_PATH, form={"csrf": "forged"}, cookies=cookies))
    session = session_store.find(session_id)
    assert session is not None
    response = sign_in.sign_out(request("POST", sessions.LOGOUT_PATH, form={"csrf": session.csrf}, cookies=cookies))
    assert response.status_code == 303 and response.headers["Location"] == sessions.LOGIN_PATH
    assert "Max-Age=0" in cookies_of(response)[sessions.SESSION_COOKIE]
    assert session_store.find(session_id) is None  # the cookie replayed later opens nothing


def test_a_new_sign_in_replaces_the_session_it_arrives_with(sign_in, store, session_store):
    _, before, _ = signed_in(sign_in, store)
    form = sign_in.form(page)
    csrf = form.get_data(as_text=True).split("<form>")[1].split("|")[0]
    token = store.issue(user="budi", role=auth.OPERATOR, node=NODE)
    sign_in.sign_in(request("POST", form={"csrf": csrf, "token": token},
                            cookies={sessions.SIGN_IN_COOKIE: csrf, sessions.SESSION_COOKIE: before}),
                    roles=READERS, render=page)
    assert session_store.find(before) is None


def test_a_sign_in_form_larger_than_a_sign_in_is_refused_unread(sign_in):
    with pytest.raises(BadRequest, match="melebihi batas"):
        sign_in.sign_in(request("POST", form={"token": "x" * (sessions.FORM_MAX_BYTES + 1)}), roles=READERS,
                        render=page)


def test_a_pages_policy_admits_its_own_style_by_hash_and_no_script():
    response = sessions.html_page("<p>hai</p>", styles=("body{margin:0}",))
    policy = response.headers["Content-Security-Policy"]
    digest = base64.b64encode(hashlib.sha256(b"body{margin:0}").digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}';" in policy and "unsafe-inline" not in policy and "script-src" not in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    headers = sessions.secure_headers(response).headers
    assert headers["Content-Security-Policy"] == policy
    assert (headers["X-Content-Type-Options"], headers["X-Frame-Options"]) == ("nosniff", "DENY")


# -- the migration ---------------------------------------------------------------------------------------
def _migrate_a_token_from_before_users(uri):
    db.migrate(db.AUTH, uri, "auth_0002")
    engine = db.create_engine(uri)
    legacy = "rk_6371_issued-before-tokens-named-a-user"
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO api_token (token_hash, name, role, node, created_at) "
                             "VALUES (:h, 'supervisor lama', 'supervisor', '6371', :at)"),
                     {"h": auth.hash_token(legacy), "at": now() - timedelta(days=400)})
    db.migrate(db.AUTH, uri)
    store = auth.TokenStore(engine)
    principal = store.lookup(legacy)
    # Its holder name is its user, and it now expires: in 90 days, not at once, not never.
    assert (principal.user, principal.name) == ("supervisor lama", "supervisor lama")
    [row] = store.list()
    assert timedelta(days=89) < row["expires_at"] - now() <= timedelta(days=90)
    sessions_store = auth.SessionStore(engine, idle=timedelta(minutes=30), absolute=timedelta(hours=8))
    assert sessions_store.find(sessions_store.open(principal)).principal == principal
    for _ in range(auth.DENIALS_PER_MINUTE + 2):
        store.log_denial(principal=principal, token_node=None, method="GET", path="/", reason="Peran")
    assert sum(r["count"] for r in store.denials()) == auth.DENIALS_PER_MINUTE + 2
    engine.dispose()


def test_the_migration_names_existing_tokens_users_and_gives_them_an_expiry_on_sqlite(tmp_path):
    _migrate_a_token_from_before_users(f"sqlite:///{tmp_path / 'auth.sqlite'}")


def test_the_migration_names_existing_tokens_users_and_gives_them_an_expiry_on_postgresql(pg):
    _migrate_a_token_from_before_users(pg.create())
