"""Passwords of a node's accounts (rehsos/auth.py): the scrypt hash, the rules a password must
meet, signing in with a user name and password, one password per person and node, the throttle
on guessing (with the store's clock moved on), the sign-in form, the CLI and the migration."""
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
import yaml
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from rehsos import auth, db
from rehsos.api import sessions
from rehsos.clock import now
from rehsos_tools import cli

NODE = "6371"
PASSWORD = "kopi-pagi-banjar"


class Clock:
    def __init__(self):
        self.at = now()

    def __call__(self):
        return self.at

    def advance(self, **delta):
        self.at += timedelta(**delta)


@pytest.fixture
def engine(tmp_path):
    uri = f"sqlite:///{tmp_path / 'auth.sqlite'}"
    db.migrate(db.AUTH, uri)
    engine = db.create_engine(uri)
    yield engine
    engine.dispose()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(engine, clock):
    return auth.TokenStore(engine, clock=clock)


@pytest.fixture
def session_store(engine):
    return auth.SessionStore(engine, idle=timedelta(minutes=30), absolute=timedelta(hours=8))


def account(store, user="siti.aminah", role=auth.OPERATOR, password=PASSWORD, days=90) -> int:
    token_id = store.lookup(store.issue(user=user, role=role, node=NODE, days=days)).token_id
    if password:
        store.set_password(token_id, password)
    return token_id


def refused(store, user, password, node=NODE) -> str:
    with pytest.raises(auth.Unauthenticated) as raised:
        store.authenticate_password(user, password, node)
    assert raised.value.status == 401
    return str(raised.value)


# -- the hash ---------------------------------------------------------------------------------------
def test_a_password_is_kept_as_salted_scrypt_with_its_parameters():
    first, second = auth.hash_password(PASSWORD), auth.hash_password(PASSWORD)
    assert re.fullmatch(r"scrypt\$16384\$8\$1\$[0-9a-f]{32}\$[0-9a-f]{64}", first)
    assert first != second  # a salt of its own: equal passwords do not show as equal hashes
    assert auth.check_password(PASSWORD, first) and auth.check_password(PASSWORD, second)
    assert not auth.check_password(PASSWORD + "x", first) and not auth.check_password("", first)


def test_the_parameters_in_the_hash_are_the_ones_checked_so_they_can_grow_later():
    cheaper = auth.hash_password(PASSWORD, n=2 ** 10, r=4, p=1)
    assert cheaper.startswith("scrypt$1024$4$1$") and auth.check_password(PASSWORD, cheaper)
    # What the stored parameters say is used; changing them gives another hash, so no match.
    assert not auth.check_password(PASSWORD, cheaper.replace("$1024$", "$2048$", 1))


@pytest.mark.parametrize("stored", ["", "bcrypt$x", "scrypt$16384$8$1$zz$00", "scrypt$a$b$c$d$e", "scrypt$1$8$1$00$00"])
def test_a_malformed_hash_never_matches(stored):
    assert not auth.check_password(PASSWORD, stored)


# -- the rules ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("password, message", [
    ("pendek", "minimal 10 karakter"),
    ("1234567890123", "tidak boleh hanya berisi angka"),
    ("siti.aminah", "tidak boleh sama dengan nama pengguna"),
    ("SITI.AMINAH", "tidak boleh sama dengan nama pengguna"),
    ("x" * (auth.MAX_PASSWORD + 1), "paling banyak"),
])
def test_a_password_the_rules_refuse_is_not_set_and_says_why_in_indonesian(store, engine, password, message):
    token_id = account(store, password=None)
    with pytest.raises(auth.PasswordRejected, match=message):
        store.set_password(token_id, password)
    with engine.connect() as conn:
        assert conn.execute(sa.select(auth.tokens.c.password_hash)).scalar_one() is None


def test_only_an_active_account_gets_a_password(store):
    revoked = account(store, user="budi", password=None)
    store.revoke(revoked)
    expired = account(store, user="rina", password=None, days=1)
    store.clock.advance(days=2)
    for token_id in (revoked, expired, 999):
        with pytest.raises(auth.PasswordRejected, match="Tidak ada akun aktif"):
            store.set_password(token_id, PASSWORD)


# -- signing in -----------------------------------------------------------------------------------------
def test_the_right_password_gives_the_accounts_principal_whatever_the_case_of_the_name(store):
    token_id = account(store, role=auth.SUPERVISOR)
    principal = store.authenticate_password(" Siti.Aminah ", PASSWORD, NODE)
    assert (principal.token_id, principal.user, principal.role, principal.node) == (
        token_id, "siti.aminah", auth.SUPERVISOR, NODE)
    assert store.list()[0]["password"] is True and PASSWORD not in str(store.list())


def test_every_failure_gets_one_message_and_is_logged_with_the_user_name_only(store, engine):
    account(store)
    account(store, user="tanpa.sandi", password=None)  # an account with a token only
    account(store, user="lama", days=1)
    store.clock.advance(days=2)  # lama's row has expired: its password with it
    messages = {refused(store, "siti.aminah", "bukan-kata-sandinya"), refused(store, "tidak.ada", PASSWORD),
                refused(store, "tanpa.sandi", PASSWORD), refused(store, "lama", PASSWORD),
                refused(store, "Bukan Nama!", PASSWORD), refused(store, "siti.aminah", ""),
                refused(store, "siti.aminah", PASSWORD, node="6303")}
    assert messages == {auth.WRONG_PASSWORD} == {"Nama pengguna atau kata sandi salah."}
    denials = store.denials()
    assert len(denials) == 7 and all(d["path"] == "/masuk" and d["method"] == "POST" for d in denials)
    reasons = " ".join(d["reason"] for d in denials)
    assert "pengguna siti.aminah" in reasons and "pengguna lama" in reasons
    # A name that is no account here may be a password typed in the wrong field: not kept.
    assert "tidak.ada" not in reasons and "pengguna tidak dikenal" in reasons
    assert PASSWORD not in reasons and "bukan-kata-sandinya" not in reasons


def test_a_person_has_one_password_at_a_node_and_a_reset_ends_the_sessions_of_the_old_one(store, session_store,
                                                                                           engine):
    first = account(store)
    opened = session_store.open(store.authenticate_password("siti.aminah", PASSWORD, NODE))
    second = account(store, password="sandi-baru-siti")
    assert session_store.find(opened) is None  # whoever knew the old password is out
    assert refused(store, "siti.aminah", PASSWORD) == auth.WRONG_PASSWORD
    assert store.authenticate_password("siti.aminah", "sandi-baru-siti", NODE).token_id == second
    assert {r["id"]: r["password"] for r in store.list()} == {first: False, second: True}
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # the database holds to it too
        conn.execute(sa.update(auth.tokens).where(auth.tokens.c.id == first).values(password_hash="scrypt$x"))
    # Another person, or the same name at another node, is not touched.
    other = account(store, user="budi")
    assert store.authenticate_password("budi", PASSWORD, NODE).token_id == other


def test_a_revoked_account_no_longer_signs_in_and_its_sessions_end(store, session_store):
    token_id = account(store)
    session_id = session_store.open(store.authenticate_password("siti.aminah", PASSWORD, NODE))
    assert store.revoke(token_id)
    assert refused(store, "siti.aminah", PASSWORD) == auth.WRONG_PASSWORD
    assert session_store.find(session_id) is None
    assert store.list()[0]["password"] is False  # the hash went with the account


# -- the throttle -------------------------------------------------------------------------------------------
def test_five_failures_within_15_minutes_lock_the_user_name_for_15_minutes(store):
    account(store)
    for _ in range(auth.MAX_FAILURES):
        store.clock.advance(minutes=2)
        assert refused(store, "siti.aminah", "tebakan-yang-salah") == auth.WRONG_PASSWORD
    # The sixth attempt is refused unchecked, even with the right password, and says to wait.
    assert refused(store, "siti.aminah", PASSWORD) == auth.THROTTLED
    assert auth.THROTTLED.startswith(auth.WRONG_PASSWORD) and "coba lagi nanti" in auth.THROTTLED
    assert refused(store, "budi", PASSWORD) == auth.WRONG_PASSWORD  # other names are not held
    store.clock.advance(minutes=14)
    assert refused(store, "siti.aminah", PASSWORD) == auth.THROTTLED
    store.clock.advance(minutes=1, seconds=1)
    assert store.authenticate_password("siti.aminah", PASSWORD, NODE).user == "siti.aminah"
    reasons = [d["reason"] for d in store.denials(limit=1000)]
    assert sum("ditahan sementara" in r for r in reasons) == 2


def test_failures_older_than_the_window_do_not_count_and_a_sign_in_clears_them(store):
    account(store)
    for _ in range(auth.MAX_FAILURES - 1):
        refused(store, "siti.aminah", "tebakan-yang-salah")
    store.clock.advance(minutes=15, seconds=1)
    for _ in range(auth.MAX_FAILURES - 1):
        refused(store, "siti.aminah", "tebakan-yang-salah")
    assert store.authenticate_password("siti.aminah", PASSWORD, NODE)
    for _ in range(auth.MAX_FAILURES - 1):
        refused(store, "siti.aminah", "tebakan-yang-salah")
    assert store.authenticate_password("siti.aminah", PASSWORD, NODE)


def test_a_name_that_is_no_account_is_held_like_one_so_holding_does_not_tell_who_exists(store, engine):
    for _ in range(auth.MAX_FAILURES):
        refused(store, "tidak.ada", PASSWORD)
    assert refused(store, "tidak.ada", PASSWORD) == auth.THROTTLED
    store.clock.advance(minutes=31)
    refused(store, "orang.lain", PASSWORD)  # a later failure drops rows whose window and lock are over
    with engine.connect() as conn:
        assert conn.execute(sa.select(auth.sign_in_throttle.c.user)).scalars().all() == ["orang.lain"]


# -- the sign-in form -----------------------------------------------------------------------------------------
def page(csrf, error, status, *, user="", by_token=False):
    return Response(f"<form>{csrf}|{error}|{user}|{by_token}</form>", status=status, mimetype="text/html")


def post(sign_in, fields, roles=(auth.OPERATOR,)):
    csrf = sign_in.form(page).get_data(as_text=True).split("<form>")[1].split("|")[0]
    request = Request(EnvironBuilder(method="POST", path=sessions.LOGIN_PATH, data={"csrf": csrf, **fields},
                                     headers={"Cookie": f"{sessions.SIGN_IN_COOKIE}={csrf}"}).get_environ())
    return sign_in.sign_in(request, roles=roles, render=page)


def test_the_form_signs_in_with_user_and_password_and_keeps_only_the_name_on_failure(store, session_store):
    account(store)
    sign_in = sessions.SignIn(store, session_store, node=NODE, secure=False)
    wrong = post(sign_in, {"user": "siti.aminah", "password": "bukan-kata-sandinya"})
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 401 and auth.WRONG_PASSWORD in body
    assert body.endswith("|siti.aminah|False</form>") and "bukan-kata-sandinya" not in body
    ok = post(sign_in, {"user": "siti.aminah", "password": PASSWORD})
    assert ok.status_code == 303 and sessions.SESSION_COOKIE in ok.headers["Set-Cookie"]
    session_id = ok.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert session_store.find(session_id).principal.user == "siti.aminah"
    # A role the pages are not for: refused (403), no session.
    other = post(sign_in, {"user": "siti.aminah", "password": PASSWORD}, roles=(auth.SUPERVISOR,))
    assert other.status_code == 403 and "tidak berwenang" in other.get_data(as_text=True)
    assert not any(c.startswith(sessions.SESSION_COOKIE) for c in other.headers.getlist("Set-Cookie"))


def test_the_token_way_still_signs_in_and_its_refusal_opens_the_token_form(store, session_store):
    token = store.issue(user="budi", role=auth.OPERATOR, node=NODE)
    sign_in = sessions.SignIn(store, session_store, node=NODE, secure=False)
    wrong = post(sign_in, {"token": "salah"})
    assert wrong.status_code == 401 and wrong.get_data(as_text=True).endswith("|Token akses tidak valid.||True</form>")
    assert post(sign_in, {"token": token}).status_code == 303


# -- the command line ---------------------------------------------------------------------------------------------
@pytest.fixture
def config_file(tmp_path, engine):
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump({"node": NODE, "broker_uri": "amqp://x", "hub_broker_uri": "amqp://y",
                                    "database_uri": f"sqlite:///{tmp_path}/{{service}}.sqlite",
                                    "auth_database_uri": str(engine.url)}))
    return str(path)


def test_token_create_with_a_password_from_stdin_and_token_password_to_reset_it(config_file, store, monkeypatch,
                                                                                  capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["token", "create", "--config", config_file, "--role", "operator", "--user", "siti.aminah",
                     "--password-stdin"]) == 0
    token = capsys.readouterr().out.strip()
    principal = store.authenticate_password("siti.aminah", PASSWORD, NODE)
    assert store.lookup(token) == principal  # the token works as before
    monkeypatch.setattr("sys.stdin", io.StringIO("sandi-kedua-siti\n"))
    assert cli.main(["token", "password", "--config", config_file, "--id", str(principal.token_id),
                     "--password-stdin"]) == 0
    assert store.authenticate_password("siti.aminah", "sandi-kedua-siti", NODE) == principal
    refused(store, "siti.aminah", PASSWORD)


def test_token_create_asks_twice_and_a_refused_password_creates_no_account(config_file, store, monkeypatch):
    typed = iter([PASSWORD, PASSWORD + "?"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    with pytest.raises(SystemExit, match="kedua kata sandi tidak sama"):
        cli.main(["token", "create", "--config", config_file, "--role", "operator", "--user", "siti.aminah",
                  "--password"])
    monkeypatch.setattr("sys.stdin", io.StringIO("12345678901\n"))
    with pytest.raises(SystemExit, match="hanya berisi angka"):
        cli.main(["token", "create", "--config", config_file, "--role", "operator", "--user", "siti.aminah",
                  "--password-stdin"])
    assert store.list() == []
    with pytest.raises(SystemExit, match="no active token with id 7"):
        cli.main(["token", "password", "--config", config_file, "--id", "7", "--password-stdin"])


# -- the migration --------------------------------------------------------------------------------------------------
def _migrate_a_token_from_before_passwords(uri):
    db.migrate(db.AUTH, uri, "auth_0003")
    engine = db.create_engine(uri)
    legacy = auth.TokenStore(engine)
    with engine.begin() as conn:
        conn.execute(sa.text('INSERT INTO api_token (token_hash, name, "user", role, node, created_at, expires_at) '
                             "VALUES (:h, 'Siti', 'siti', 'operator', '6371', :at, :until)"),
                     {"h": auth.hash_token("rk_6371_lama"), "at": now(), "until": now() + timedelta(days=30)})
    db.migrate(db.AUTH, uri)
    principal = legacy.lookup("rk_6371_lama")
    assert principal.user == "siti" and legacy.list()[0]["password"] is False  # the token works, no password yet
    legacy.set_password(principal.token_id, PASSWORD)
    assert legacy.authenticate_password("siti", PASSWORD, NODE) == principal
    engine.dispose()


def test_the_migration_keeps_tokens_and_adds_passwords_on_sqlite(tmp_path):
    _migrate_a_token_from_before_passwords(f"sqlite:///{tmp_path / 'auth.sqlite'}")


def test_the_migration_keeps_tokens_and_adds_passwords_on_postgresql(pg):
    _migrate_a_token_from_before_passwords(pg.create())
