"""Pages for people in a browser: short server-side sessions, sign-in and sign-out forms with
CSRF protection, and the security headers every answer carries.

A person signs in once with their user name and password (or their API token); the browser then
holds only a random session id (HttpOnly, SameSite=Strict, Secure when served over HTTPS) whose
session lives in the node's auth database (:class:`rehsos.auth.SessionStore`) and ends when idle, at its absolute limit, at
sign-out, or with its token. The sign-in form carries a CSRF token that must match a cookie set
with the form (double submit: there is no session yet); every form of a signed-in page carries
the session's own CSRF token (:attr:`rehsos.auth.WebSession.csrf`), checked with
:func:`require_csrf`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Callable

from markupsafe import escape
from nameko.extensions import DependencyProvider
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from rehsos import auth
from rehsos.api.errors import BadRequest
from rehsos.api.tokens import TokenStoreExtension

LOGIN_PATH = "/masuk"
LOGOUT_PATH = "/keluar"
SESSION_COOKIE = "rehsos_session"
SIGN_IN_COOKIE = "rehsos_masuk"  # the sign-in form's CSRF token, the other half of the double submit
CSRF_FIELD = "csrf"
FORM_MAX_BYTES = 4096  # a user name and password, or a token, and a CSRF token; nothing bigger is a sign-in

# Answers that are not pages load nothing and may be framed by nobody.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

# (csrf token, error message or None, status, user=what was typed as the user name,
#  by_token=whether the attempt was with a token) -> the page with the sign-in forms
SignInPage = Callable[..., Response]


def content_security_policy(styles: tuple[str, ...] = ()) -> str:
    """A page's policy: no script at all, its own inline ``styles`` by hash, forms only to this node."""
    hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"
                     for css in styles)
    return (f"default-src 'none'; style-src 'self'{hashes}; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")


def html_page(body: str, status: int = 200, *, styles: tuple[str, ...] = ()) -> Response:
    """A page whose policy admits exactly the inline ``styles`` it carries; never cached, since
    what a signed-in person sees is for them only."""
    return Response(body, status=status, mimetype="text/html", headers={
        "Content-Security-Policy": content_security_policy(styles), "Cache-Control": "no-store"})


_ERROR_STYLE = ("body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}"
                "main{padding:1.5rem;max-width:44rem}.errors{background:#fff;border:2px solid #a12222;padding:.6rem 1rem}"
                "a{color:#0b4f8a}")
_ERROR_TITLES = {400: "Permintaan tidak dapat dibaca", 401: "Silakan masuk", 403: "Tidak diizinkan",
                 404: "Tidak ditemukan", 409: "Tidak dapat dilakukan", 410: "Sudah dihapus",
                 413: "Terlalu besar", 422: "Isian tidak valid", 500: "Terjadi kesalahan"}


def error_page(status: int, message: str) -> Response:
    """What a person in a browser sees when a page refuses them: the message in words, a way back."""
    title = _ERROR_TITLES.get(status, "Tidak dapat dilakukan")
    body = (f'<!doctype html><html lang="id"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title} · Rehsos Kalsel</title>'
            f"<style>{_ERROR_STYLE}</style></head><body><main><h1>{title}</h1>"
            f'<div class="errors" role="alert"><p>{escape(message)}</p></div>'
            f'<p><a href="/">Kembali ke beranda</a> · <a href="{LOGIN_PATH}">Masuk dengan akun lain</a></p></main></body></html>')
    return html_page(body, status, styles=(_ERROR_STYLE,))


def secure_headers(response: Response) -> Response:
    """What every answer of the node's web server carries, unless it set its own policy."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Content-Security-Policy", API_POLICY)
    return response


def read_form(request: Request) -> dict:
    """A small urlencoded form; anything larger than a sign-in is refused before it is read."""
    request.max_content_length = FORM_MAX_BYTES
    request.max_form_memory_size = FORM_MAX_BYTES
    try:
        return request.form
    except RequestEntityTooLarge:
        raise BadRequest(f"Formulir melebihi batas {FORM_MAX_BYTES} byte.", code="payload_too_large") from None


def _same(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(given.encode(), expected.encode())


def require_csrf(form, session: auth.WebSession) -> None:
    """A signed-in page's form came from one of our pages: it carries the session's token."""
    if not _same(form.get(CSRF_FIELD), session.csrf):
        raise auth.Forbidden("Formulir tidak sah atau sudah kedaluwarsa; muat ulang halaman.", principal=session.principal)


def current_session(sessions: auth.SessionStore, request: Request) -> auth.WebSession | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    return sessions.find(session_id) if session_id else None


def _redirect(location: str) -> Response:
    return Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


class SignIn:
    """Signing in and out of a node's pages (what :class:`PageSessions` hands a worker)."""

    def __init__(self, tokens: auth.TokenStore, sessions: auth.SessionStore, *, node: str, secure: bool):
        self.tokens = tokens
        self.sessions = sessions
        self.node = node
        self.secure = secure

    def form(self, render: SignInPage, error: str | None = None, status: int = 200, *, user: str = "",
             by_token: bool = False) -> Response:
        """The sign-in form with a fresh CSRF token, in the page and in a cookie; after a refusal,
        the user name typed is kept (the password never is)."""
        csrf = secrets.token_urlsafe(32)
        response = render(csrf, error, status, user=user, by_token=by_token)
        response.set_cookie(SIGN_IN_COOKIE, csrf, max_age=3600, path=LOGIN_PATH, httponly=True, samesite="Strict",
                            secure=self.secure)
        return response

    def sign_in(self, request: Request, *, roles: tuple[str, ...], render: SignInPage, landing: str = "/") -> Response:
        """Check the form's CSRF token, then the user name and password (or the API token, when the
        form sent one) typed in; open a session for the person."""
        form = read_form(request)
        by_token = "token" in form
        user = "" if by_token else (form.get("user") or "").strip()[:64]
        if not _same(form.get(CSRF_FIELD), request.cookies.get(SIGN_IN_COOKIE)):
            return self.form(render, "Formulir masuk tidak sah atau sudah kedaluwarsa; silakan coba lagi.", 403,
                             user=user, by_token=by_token)
        try:
            if by_token:
                principal = auth.authorize(self.tokens, f"Bearer {form.get('token', '').strip()}", node=self.node,
                                           roles=roles)
            else:
                principal = auth.check_scope(
                    self.tokens.authenticate_password(user, form.get("password") or "", self.node, path=LOGIN_PATH),
                    node=self.node, roles=roles)
        except auth.AuthError as exc:
            return self.form(render, str(exc), exc.status, user=user, by_token=by_token)
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:  # a new id at every sign-in: no session fixation
            self.sessions.close(previous)
        response = _redirect(landing)
        response.set_cookie(SESSION_COOKIE, self.sessions.open(principal), path="/", httponly=True,
                            samesite="Strict", secure=self.secure)
        response.delete_cookie(SIGN_IN_COOKIE, path=LOGIN_PATH, httponly=True, samesite="Strict", secure=self.secure)
        return response

    def sign_out(self, request: Request) -> Response:
        """End the session (the form must carry its CSRF token) and forget the cookie."""
        form = read_form(request)
        session_id = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.find(session_id) if session_id else None
        if session is not None:
            require_csrf(form, session)
            self.sessions.close(session_id)
        response = _redirect(LOGIN_PATH)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=self.secure)
        return response


class PageSessions(DependencyProvider):
    """For the sign-in and sign-out handlers of a service's pages."""
    tokens = TokenStoreExtension()

    def get_dependency(self, worker_ctx) -> SignIn:
        settings = self.container.config["REHSOS"]
        return SignIn(self.tokens.store, self.tokens.sessions, node=settings.node, secure=settings.over_https)
