"""HTTP plumbing shared by every service: one web server per node process, one auth check,
one body parser, one mapping from errors to status codes.

Why our own web server: nameko shares a ``WebServer`` per *container*, and eventlet listens
with ``SO_REUSEPORT``, so several services in one process each bind the same port and the kernel
hands every connection to one of them at random (a request for ``/api/v1/cases`` may land on the
facilities container and get a 404). :class:`NodeWebServer` is shared per bind address across
all containers of the process, builds its routing table from every registered entrypoint, and
refuses to share a port with anything else.
"""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from functools import partial
from typing import Any

import eventlet
from marshmallow import Schema, ValidationError
from nameko.constants import WEB_SERVER_CONFIG_KEY
from nameko.extensions import DependencyProvider, Extension, SharedExtension
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound as WerkzeugNotFound
from werkzeug.routing import Map
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Request, Response

from rehsos import auth, errors, openapi
from rehsos.db import create_engine

log = logging.getLogger(__name__)

# Pages for people in a browser sign in once and carry the token in an HttpOnly cookie.
TOKEN_COOKIE = "rehsos_token"
LOGIN_PATH = "/masuk"


# -- errors ------------------------------------------------------------------------------------
class ApiError(Exception):
    """An answer for the client: status, machine-readable code, Indonesian message, field errors."""
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: Any = None, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields
        if code:
            self.code = code
        if status:
            self.status = status


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unprocessable(ApiError):
    status, code = 422, "validation_failed"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


@contextmanager
def domain_errors():
    """The one translation of the domain's errors (``rehsos.errors``) into HTTP answers."""
    try:
        yield
    except errors.NotFound as exc:
        raise NotFound(str(exc)) from None
    except errors.Refused as exc:
        raise Conflict(exc.message, code=exc.code, fields=exc.fields) from None
    except errors.Invalid as exc:
        raise Unprocessable("Data yang dikirim tidak valid.", fields=exc.fields) from None
    except IntegrityError:
        # A concurrent request got there first (two registrations of one NIK, say).
        raise Conflict("Data bentrok dengan perubahan lain yang baru saja tersimpan; ulangi permintaan.",
                       code="concurrent_change") from None


def error_body(status: int, code: str, message: str, fields: Any = None) -> dict:
    body = {"error": {"status": status, "code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return body


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), status=status,
                    mimetype="application/json", headers=headers)


def error_body_of(exc: Exception) -> dict:
    """The one mapping from an exception to the answer a client gets (HTTP and RPC)."""
    if isinstance(exc, ApiError):
        return error_body(exc.status, exc.code, exc.message, exc.fields)
    if isinstance(exc, auth.AuthError):
        return error_body(exc.status, "unauthenticated" if exc.status == 401 else "forbidden", str(exc))
    if type(exc).__name__ == "RpcApiError":
        return json.loads(str(exc))
    log.error("unhandled error in API handler", exc_info=exc)
    return error_body(500, "internal_error", "Terjadi kesalahan pada server.")


def error_response(exc: Exception) -> Response:
    body = error_body_of(exc)
    status = body["error"]["status"]
    headers = {"WWW-Authenticate": 'Bearer realm="rehsos"'} if status == 401 else None
    return json_response(body, status, headers)


# -- request body --------------------------------------------------------------------------------
def read_json(request: Request, max_bytes: int) -> Any:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise BadRequest(f"Ukuran data melebihi batas {max_bytes} byte.", code="payload_too_large",
                         fields={"_body": [f"Maksimal {max_bytes} byte."]})
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise BadRequest(f"Ukuran data melebihi batas {max_bytes} byte.", code="payload_too_large",
                         fields={"_body": [f"Maksimal {max_bytes} byte."]})
    if not raw.strip():
        raise BadRequest("Isi permintaan kosong; kirim objek JSON.", code="empty_body",
                         fields={"_body": ["Wajib berisi objek JSON."]})
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("Isi permintaan bukan JSON yang valid.", code="invalid_json",
                         fields={"_body": ["Bukan JSON yang valid."]}) from None


def load_data(data: Any, schema: Schema, what: str = "Data yang dikirim tidak valid.") -> Any:
    if not isinstance(data, dict):
        raise Unprocessable("Data harus berupa objek JSON.", fields={"_body": ["Harus berupa objek JSON."]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise Unprocessable(what, fields=exc.messages) from None


def load_body(request: Request, schema: Schema, max_bytes: int) -> Any:
    return load_data(read_json(request, max_bytes), schema)


def load_query(request: Request, schema: Schema) -> Any:
    return load_data(request.args.to_dict(), schema, what="Parameter tidak valid.")


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

    def health(self) -> dict:
        services = sorted({p.container.service_name for p in self._providers})
        return {"status": "ok", "node": self.node, "services": services}

    @property
    def providers(self):
        return sorted(self._providers, key=lambda p: (p.url, p.method))

    def start(self):
        if not self._starting:
            self._starting = True
            # reuse_port=False: a second process on our port must fail, not share it silently.
            self._sock = eventlet.listen(self.bind_addr, reuse_port=False)
            self._sock.settimeout(None)
            self._serv = self.get_wsgi_server(self._sock, self.get_wsgi_app())
            self._gt = self.container.spawn_managed_thread(self.run)

    def stop(self):
        self._by_address.pop(self._address_key(), None)
        if self._gt is not None:
            super().stop()

    def kill(self):
        self._by_address.pop(self._address_key(), None)
        if self._gt is not None:
            self._is_accepting = False
            self._gt.kill()
            self._sock.close()

    def _address_key(self):
        return self.container.config.get(WEB_SERVER_CONFIG_KEY, "0.0.0.0:8000")

    def get_wsgi_app(self):
        return NodeWsgiApp(self)


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
            self._spec = openapi.build(self.server.node, self.server.providers)
            self._spec_version = self.server._routes_version
        return json_response(self._spec)

    def url_map(self) -> Map:
        if self._version != self.server._routes_version:
            self._map = self.server.make_url_map()
            self._version = self.server._routes_version
        return self._map

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == openapi.OPENAPI_PATH:
            return self._openapi()(environ, start_response)
        if path == openapi.HEALTH_PATH:
            return json_response(self.server.health())(environ, start_response)
        if path == openapi.DENIALS_PATH:
            return self._denials(Request(environ))(environ, start_response)
        request = Request(environ, shallow=True)
        adapter = self.url_map().bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            response = provider.handle_request(request)
        except MethodNotAllowed as exc:
            response = json_response(error_body(405, "method_not_allowed", "Metode HTTP tidak diizinkan."),
                                     405, {"Allow": ", ".join(exc.valid_methods or ())})
        except WerkzeugNotFound:
            response = json_response(error_body(404, "not_found", "Alamat tidak ditemukan."), 404)
        except HTTPException as exc:
            response = exc
        return response(environ, start_response)


# -- token store, shared per container -----------------------------------------------------------
class TokenStoreExtension(SharedExtension):
    """The node's token store (its own small database, owned by the shared package)."""

    def setup(self):
        settings = self.container.config["REHSOS"]
        self.engine = create_engine(settings.auth_database_uri)
        self.store = auth.TokenStore(self.engine)

    def stop(self):
        self.engine.dispose()


class Tokens(DependencyProvider):
    """For the few handlers that check a token themselves (the sign-in page)."""
    tokens = TokenStoreExtension()

    def get_dependency(self, worker_ctx):
        settings = self.container.config["REHSOS"]
        return partial(auth.authorize, self.tokens.store, node=settings.node)


# -- the entrypoint -------------------------------------------------------------------------------
class ApiEntrypoint(HttpRequestHandler):
    """``@api(method, url, roles=..., body=Schema, response=Schema)``.

    Before the service method runs, the token is checked against ``roles`` and the node, and a
    declared ``body`` schema is loaded; the method finds ``request.principal`` and
    ``request.data``. It returns a Response, or ``(status, payload)`` / ``payload`` as JSON.
    ``public=True`` routes (pages, the OpenAPI document, health) skip the token check.
    """

    server = NodeWebServer()
    tokens = TokenStoreExtension()

    def __init__(self, method, url, *, roles: tuple[str, ...] = (), public: bool = False,
                 body: type[Schema] | None = None, query: type[Schema] | None = None,
                 response: type[Schema] | None = None, status: int = 200, tags: tuple[str, ...] = (),
                 many: bool = False, html: bool = False, **kwargs):
        if not roles and not public:
            raise ValueError(f"{method} {url}: declare the roles allowed, or public=True")
        self.roles = tuple(roles)
        self.public = public
        self.body_schema = body
        self.query_schema = query
        self.response_schema = response
        self.success_status = status
        self.tags = tags
        self.many = many
        self.html = html
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
            request.principal = None
            if not self.public:
                try:
                    request.principal = auth.authorize(
                        self.tokens.store, self._authorization(request), node=self.settings.node, roles=self.roles)
                except auth.Unauthenticated:
                    if self.html:  # a person in a browser: send them to the sign-in page
                        return Response(status=303, headers={"Location": LOGIN_PATH})
                    raise
                except auth.Forbidden as exc:
                    self.tokens.store.log_denial(principal=exc.principal, token_node=exc.token_node,
                                                 method=request.method, path=request.path, reason=str(exc))
                    raise
            if self.query_schema is not None:
                request.query = load_query(request, self.query_schema())
            if self.body_schema is not None:
                request.data = load_body(request, self.body_schema(), self.settings.http["max_body_bytes"])
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            event = eventlet.event.Event()
            self.container.spawn_worker(self, args, kwargs, context_data={},
                                        handle_result=partial(self.handle_result, event))
            result = event.wait()
            return self.response_from_result(result)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an answer, never a dropped socket
            return self.response_from_exception(exc)

    def _authorization(self, request) -> str | None:
        header = request.headers.get("Authorization")
        if header is None and self.html and request.cookies.get(TOKEN_COOKIE):
            return f"Bearer {request.cookies[TOKEN_COOKIE]}"
        return header

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        status, payload = result if isinstance(result, tuple) else (self.success_status, result)
        return json_response(payload, status)

    def response_from_exception(self, exc):
        return error_response(exc)


def api(method, url, **kwargs):
    """An HTTP route; unless it is a page or public, also an RPC method of the same name."""
    http = ApiEntrypoint.decorator(method, url, **kwargs)
    if kwargs.get("public") or kwargs.get("html"):
        return http
    from rehsos.rpc import RpcApiEntrypoint  # rehsos.rpc builds on this module

    rpc = RpcApiEntrypoint.decorator(roles=kwargs["roles"], body=kwargs.get("body"), query=kwargs.get("query"))
    return lambda fn: rpc(http(fn))
