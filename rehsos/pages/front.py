"""The node's front door: sign-in, sign-out and the home page with the person's menu.

One service on every node hosts it (intake, the one every office runs) by inheriting
:class:`FrontDoor`; the pages of every node service share the session it opens, since they share
the node's web server and its auth database.
"""
from __future__ import annotations

from rehsos import auth
from rehsos.api import LOGIN_PATH, LOGOUT_PATH, PageSessions, api
from rehsos.pages import Viewer, environment, render

ROLE_NAMES = {auth.OPERATOR: "operator", auth.SUPERVISOR: "supervisor", auth.FACILITY_MANAGER: "pengelola panti",
              auth.TRAINER: "pelatih", auth.ANALYST: "analis", auth.ADMIN: "admin kantor"}
_ENV = environment("rehsos.pages")


class FrontDoor:
    """Mixed into the hosting service class: nameko finds inherited entrypoints."""
    sign_in = PageSessions()

    def _sign_in_page(self, csrf: str, error: str | None, status: int, *, user: str = "", by_token: bool = False):
        return render(_ENV, "kit/login.html", viewer=None, path=LOGIN_PATH, title="Masuk", status=status,
                      form_csrf=csrf, error=error, user=user, by_token=by_token)

    @api("GET", LOGIN_PATH, public=True, html=True, tags=("pages",))
    def login_form(self, request):
        """Sign-in page of the node."""
        return self.sign_in.form(self._sign_in_page)

    @api("POST", LOGIN_PATH, public=True, html=True, tags=("pages",))
    def login(self, request):
        """Sign in with the account's user name and password (or its token): a short session starts,
        held by the browser as a random id."""
        return self.sign_in.sign_in(request, roles=auth.NODE_ROLES, render=self._sign_in_page)

    @api("POST", LOGOUT_PATH, public=True, html=True, tags=("pages",))
    def logout(self, request):
        """Sign out: the session ends on the server."""
        return self.sign_in.sign_out(request)

    @api("GET", "/", roles=auth.NODE_ROLES, html=True, tags=("pages",))
    def home(self, request):
        """The node's home page: what the person signed in may do here."""
        viewer = Viewer.of(request, self.config.node)
        return render(_ENV, "kit/home.html", viewer=viewer, path="/", title="Beranda",
                      role_name=ROLE_NAMES.get(viewer.role, viewer.role))
