"""The HTTP side of ``@api``: one web server per node process, the auth check, bodies and
answers through their schemas, errors as JSON bodies.

Why our own web server: nameko shares a ``WebServer`` per *container*, and eventlet listens
with ``SO_REUSEPORT``, so several services in one process each bind the same port and the kernel
hands every connection to one of them at random (a request for ``/api/v1/cases`` may land on the
facilities container and get a 404). :class:`NodeWebServer` is shared per bind address across
all containers of the process, builds its routing table from every registered entrypoint, and
refuses to share a port with anything else.
"""
from __future__ import annotations

import hmac
import logging
import re
import time
from functools import partial

import eventlet
from marshmallow import Schema
from nameko.constants import WEB_SERVER_CONFIG_KEY
from nameko.extensions import Extension
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound as WerkzeugNotFound, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, Map, UnicodeConverter
from werkzeug.wrappers import Request, Response

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rehsos import auth, metrics, registry
from rehsos.api.openapi import DENIALS_PATH, HEALTH_PATH, OPENAPI_PATH, build as build_openapi
from rehsos.api.bodies import (answer, json_response, load_body, load_data, load_query, read_csv_rows, read_upload,
                               schema_of, too_large)
from rehsos.api.errors import ApiError, BadRequest, error_body, error_body_of
from rehsos.api.sessions import LOGIN_PATH, current_session, error_page, secure_headers
from rehsos.api.tokens import TokenStoreExtension
from rehsos.contracts.fields import INT_MAX
from rehsos.providers import Database

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# Answered by the web server itself, for GET (and HEAD, as every GET route) only.
_OWN_METHODS = ("GET", "HEAD")
METRICS_PATH = "/metrics"  # where Prometheus looks by default; not under /api/v1: not part of the API


def error_response(exc: Exception) -> Response:
    body = error_body_of(exc)
    status = body["error"]["status"]
    headers = {"WWW-Authenticate": 'Bearer realm="rehsos"'} if status == 401 else None
    return json_response(body, status, headers)


def method_not_allowed(valid_methods) -> Response:
    return json_response(error_body(405, "method_not_allowed", "Metode HTTP tidak diizinkan."), 405,
                         {"Allow": ", ".join(valid_methods)})


class AccessLog:
    """eventlet's access log without query strings: a search (``?q=`` a person's name) or a
    filter must not put what someone typed into the node's logs."""

    _QUERY = re.compile(r"\?[^\s\"]*")

    def __init__(self, logger: logging.Logger):
        self.logger = logger

    def _line(self, msg, args) -> str:
        return self._QUERY.sub("?…", (msg % args) if args else msg).rstrip("\n")

    def write(self, msg, *args):
        self.logger.info(self._line(msg, args))

    info = write

    def error(self, msg, *args, **kwargs):  # a broken connection, not an access: kept as an error
        self.logger.error(self._line(msg, args))

    def debug(self, msg, *args, **kwargs):
        pass


class PathText(UnicodeConverter):
    """A path segment (``<id>``, ``<string(length=36):id>``) without NUL: PostgreSQL cannot compare
    a value holding one, so the lookup would be a 500 instead of a 404."""

    def __init__(self, map, minlength=1, maxlength=None, length=None):
        super().__init__(map, minlength, maxlength, length)
        self.regex = self.regex.replace("[^/]", "[^/\\x00]", 1)


class PathInt(IntegerConverter):
    """``<int:id>`` no larger than an INTEGER column holds: beyond, a lookup overflows (a 500)."""

    regex = r"\d{1,10}"  # more digits cannot fit, and int() of thousands of them is an error

    def to_python(self, value):
        number = super().to_python(value)
        if number > INT_MAX:
            # Not werkzeug's ValidationError: with it, the same path under another method's rule
            # would make the answer a 405.
            raise WerkzeugNotFound()
        return number


PATH_CONVERTERS = {"default": PathText, "string": PathText, "int": PathInt}


# -- the shared web server -----------------------------------------------------------------------
class NodeWebServer(WebServer):
    """One listener per bind address for the whole process (see the module docstring)."""

    _by_address: dict[str, "NodeWebServer"] = {}

    def __init__(self):
        super().__init__()
        self._routes_version = 0

    def bind(self, container):
        address = container.config.get(WEB_SERVER_CONFIG_KEY, "0.0.0.0:8000")
        server = self._by_address.get(address)
        if server is None:
            server = Extension.bind(self, container)
            self._by_address[address] = server
        container.shared_extensions[self.sharing_key] = server
        return server

    def register_provider(self, provider):
        super().register_provider(provider)
        self._routes_version += 1

    def unregister_provider(self, provider):
        super().unregister_provider(provider)
        self._routes_version += 1

    @property
    def node(self) -> str:
        return self.container.config["REHSOS"].node

    def token_store(self) -> auth.TokenStore:
        # Any registered entrypoint's token store will do: one auth database per node.
        provider = next(p for p in self._providers if isinstance(p, ApiEntrypoint))
        return provider.tokens.store

    @property
    def metrics(self) -> metrics.NodeMetrics:
        return metrics.of(self.container.config)

    def service_databases(self) -> list[tuple[str, object, str | None]]:
        """Each service of the process: its name, database dependency and inbound queue."""
        found, seen = {}, set()
        for provider in self._providers:
            container = provider.container  # a weak proxy: not hashable, so told apart by service name
            if container.service_name in seen:
                continue
            seen.add(container.service_name)
            for dependency in container.dependencies:
                if isinstance(dependency, Database) and hasattr(dependency, "database"):
                    found[dependency.service] = (dependency.database, registry.get(dependency.service).queue)
        return [(name, *found[name]) for name in sorted(found)]

    def health(self) -> tuple[dict, int]:
        """Ready when every service's database and the broker answer (503 otherwise), with each
        service's outbox backlog: what an operator asks first when events do not arrive."""
        states, uplink = self.metrics.read_state()
        ready = all(s.ready for s in states)
        body = {"status": "ok" if ready else "unavailable", "node": self.node,
                "services": sorted({p.container.service_name for p in self._providers}),
                "checks": {s.service: s.health() for s in states}}
        if uplink is not None:
            body["uplink_waiting"] = uplink
        return body, 200 if ready else 503

    @property
    def providers(self):
        return sorted(self._providers, key=lambda p: (p.url, p.method))

    def start(self):
        if not self._starting:
            self._starting = True
            # A second process on our port must fail, not share it silently, unless sharing is
            # configured (http.share_port).
            self._sock = eventlet.listen(self.bind_addr, reuse_port=self.container.config["REHSOS"].http["share_port"])
            self.metrics.services = self.service_databases
            self._sock.settimeout(None)
            self._serv = self.get_wsgi_server(self._sock, self.get_wsgi_app())
            self._gt = self.container.spawn_managed_thread(self.run)

    def stop(self):
        self._by_address.pop(self._address_key(), None)
        metrics.release(self.container.config)
        if self._gt is not None:
            super().stop()

    def kill(self):
        self._by_address.pop(self._address_key(), None)
        metrics.release(self.container.config)
        if self._gt is not None:
            self._is_accepting = False
            self._gt.kill()
            self._sock.close()

    def _address_key(self):
        return self.container.config.get(WEB_SERVER_CONFIG_KEY, "0.0.0.0:8000")

    def get_wsgi_app(self):
        return NodeWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, **kwargs):
        server = super().get_wsgi_server(sock, wsgi_app, **kwargs)
        # Applies to every read and write of a connection, including the wait for its next request.
        server.socket_timeout = self.container.config["REHSOS"].http["socket_timeout"]
        server.log = AccessLog(logging.getLogger("rehsos.access"))
        return server

    def make_url_map(self) -> Map:
        url_map = Map(converters=PATH_CONVERTERS)
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map


class NodeWsgiApp:
    """Routes to whichever entrypoint of any container registered the URL; rebuilt on change."""

    def __init__(self, server: NodeWebServer):
        self.server = server
        self._map: Map | None = None
        self._version = -1
        self._spec: dict | None = None
        self._spec_version = -1

    def _denials(self, request: Request) -> Response:
        """Refused attempts at this node, newest first (admins)."""
        store = self.server.token_store()
        try:
            auth.authorize(store, request.headers.get("Authorization"), node=self.server.node, roles=(auth.ADMIN,))
        except auth.AuthError as exc:
            return error_response(exc)
        return json_response(store.denials())

    def _openapi(self) -> Response:
        if self._spec is None or self._spec_version != self.server._routes_version:
            self._spec = build_openapi(self.server.node, self.server.providers)
            self._spec_version = self.server._routes_version
        return json_response(self._spec)

    def _health(self) -> Response:
        body, status = self.server.health()
        return json_response(body, status)

    def _metrics(self, request: Request) -> Response:
        """Prometheus' text format. Public unless ``metrics_public: false``: then only for the
        bearer of ``metrics_token`` (Prometheus' own, no user's)."""
        settings = self.server.container.config["REHSOS"]
        if not settings.metrics_public:
            header = request.headers.get("Authorization") or ""
            if not hmac.compare_digest(header.encode(), f"Bearer {settings.metrics_token}".encode()):
                return error_response(auth.Unauthenticated("Token metrik tidak sah."))
        return Response(generate_latest(self.server.metrics.registry), 200, content_type=CONTENT_TYPE_LATEST)

    def url_map(self) -> Map:
        if self._version != self.server._routes_version:
            self._map = self.server.make_url_map()
            self._version = self.server._routes_version
        return self._map

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        route, response = self._respond(environ)
        # By route template, never the raw path: ids would make a series each (and paths carry them).
        self.server.metrics.observe_request(environ.get("REQUEST_METHOD", ""), route, response.status_code,
                                            time.perf_counter() - started)
        return secure_headers(response)(environ, start_response)

    def _respond(self, environ) -> tuple[str, Response]:
        path = environ.get("PATH_INFO", "")
        own = {OPENAPI_PATH: self._openapi, HEALTH_PATH: self._health, METRICS_PATH: lambda: self._metrics(Request(environ)),
               DENIALS_PATH: lambda: self._denials(Request(environ))}.get(path)
        if own is not None:
            return path, own() if environ.get("REQUEST_METHOD") in _OWN_METHODS else method_not_allowed(_OWN_METHODS)
        request = Request(environ, shallow=True)
        adapter = self.url_map().bind_to_environ(environ)
        route = "unmatched"
        try:
            provider, values = adapter.match()
            route = provider.url
            request.path_values = values
            response = provider.handle_request(request)
        except MethodNotAllowed as exc:
            response = method_not_allowed(exc.valid_methods or ())
        except WerkzeugNotFound:
            response = json_response(error_body(404, "not_found", "Alamat tidak ditemukan."), 404)
        except HTTPException as exc:
            response = exc.get_response(environ)
        return route, response


# -- the entrypoint -------------------------------------------------------------------------------
class ApiEntrypoint(HttpRequestHandler):
    """``@api(method, url, roles=..., body=Schema, response=Schema)``.

    Before the service method runs, the token is checked against ``roles`` and the node, and a
    declared ``body`` schema is loaded; the method finds ``request.principal`` and
    ``request.data``. It returns a Response (pages), or ``payload`` / ``(status, payload)``,
    which goes out through the declared ``response`` schema. ``public=True`` routes (sign-in
    pages) skip the token check. A page (``html=True``) called without a token is for a person
    signed in: their session (:mod:`rehsos.api.sessions`) stands in for the token, and the
    handler finds it as ``request.web_session`` (its CSRF token goes into the page's forms).
    """

    server = NodeWebServer()
    tokens = TokenStoreExtension()

    def __init__(self, method, url, *, roles: tuple[str, ...] = (), public: bool = False,
                 body: type[Schema] | None = None, query: type[Schema] | None = None,
                 response: type[Schema] | None = None, status: int = 200, tags: tuple[str, ...] = (),
                 many: bool = False, html: bool = False, produces: str | tuple[str, ...] | None = None, upload: bool = False,
                 csv: str | None = None, rules: dict[str, str] | None = None, answers: tuple[str, ...] = (),
                 **kwargs):
        if not roles and not public:
            raise ValueError(f"{method} {url}: declare the roles allowed, or public=True")
        if response is None and not html and not produces:
            raise ValueError(f"{method} {url}: declare the response schema the answer goes through")
        self.roles = tuple(roles)
        self.public = public
        self.body_schema = body
        self.query_schema = query
        self.response_schema = response
        self.success_status = status
        self.tags = tags
        self.many = many
        self.html = html
        # A file (PDF, SVG, ...) rather than JSON: the handler returns a Response; a tuple when the
        # query chooses between formats.
        self.produces = produces
        self.upload = upload  # the body is a file (raw, or the `file` part of a form): request.upload
        self.csv = csv  # a text/csv body is read as a list of rows under this field, then loaded as JSON would be
        # What this operation checks against the node's own data (field -> rule), beyond its body
        # schema's RULES: listed in the OpenAPI document as x-rules.
        self.rules = dict(rules or {})
        # Error statuses beyond those every route of its kind gives (409 on a read, 410), for the document.
        self.answers = tuple(answers)
        # Answers to bad requests are expected: nameko logs them as warnings, not errors.
        kwargs.setdefault("expected_exceptions", (ApiError, auth.AuthError))
        super().__init__(method, url, **kwargs)

    @property
    def settings(self):
        return self.container.config["REHSOS"]

    @property
    def summary(self) -> str:
        doc = getattr(self.container.service_cls, self.method_name).__doc__ or ""
        return doc.strip().split("\n")[0]

    def handle_request(self, request):
        request.shallow = False
        try:
            self._read_within_limits(request)
            request.principal = request.web_session = None
            if not self.public:
                try:
                    request.principal = self._authenticate(request)
                except auth.Unauthenticated:
                    if self.html:  # a person in a browser: send them to the sign-in page
                        return Response(status=303, headers={"Location": LOGIN_PATH})
                    raise
                except auth.Forbidden as exc:
                    self.tokens.store.log_denial(principal=exc.principal, token_node=exc.token_node,
                                                 method=request.method, path=request.path, reason=str(exc))
                    raise
            if self.query_schema is not None:
                request.query = load_query(request, schema_of(self.query_schema))
            if self.upload:
                request.upload = read_upload(request, self.settings.http["max_upload_bytes"], required=not self.html)
            elif self.csv and request.mimetype == "text/csv":
                rows = read_csv_rows(request, self.settings.http["max_upload_bytes"])
                request.data = load_data({self.csv: rows}, schema_of(self.body_schema))
            elif self.body_schema is not None:
                request.data = load_body(request, schema_of(self.body_schema), self.settings.http["max_body_bytes"])
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            event = eventlet.event.Event()
            self.container.spawn_worker(self, args, kwargs, context_data={},
                                        handle_result=partial(self.handle_result, event))
            result = event.wait()
            return self.response_from_result(result)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an answer, never a dropped socket
            return self.response_from_exception(exc)

    def _read_within_limits(self, request):
        """Refuse what no route takes: a form bigger than a body may be (read here, where that is a
        400, not in the handler, where it would be a 500), and NUL in a header (the audit log
        keeps some headers, and PostgreSQL cannot store NUL)."""
        if any("\x00" in value for value in request.headers.values()):
            raise BadRequest("Header permintaan berisi karakter NUL.", code="invalid_header")
        if self.upload:
            return  # read_upload sets its own, larger, limit
        limit = self.settings.http["max_upload_bytes" if self.csv else "max_body_bytes"]
        request.max_content_length = limit
        if request.mimetype in _FORMS:
            try:
                request.form
            except RequestEntityTooLarge:
                raise too_large(limit) from None

    def _authenticate(self, request) -> auth.Principal:
        header = request.headers.get("Authorization")
        if header is None and self.html:
            request.web_session = current_session(self.tokens.sessions, request)
            if request.web_session is None:
                raise auth.Unauthenticated("Silakan masuk terlebih dahulu.")
            return auth.check_scope(request.web_session.principal, node=self.settings.node, roles=self.roles)
        return auth.authorize(self.tokens.store, header, node=self.settings.node, roles=self.roles)

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        status, payload = answer(result, schema=self.response_schema, many=self.many, status=self.success_status)
        return json_response(payload, status)

    def response_from_exception(self, exc):
        if self.html:  # a person in a browser reads the refusal as a page, not as JSON
            body = error_body_of(exc)["error"]
            return error_page(body["status"], body["message"])
        return error_response(exc)

