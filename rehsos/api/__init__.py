"""The entry points of every service's API. ``@api(method, url, roles=..., body=, query=,
response=)`` declares a route once; it is served over HTTP by the node's one web server
(:mod:`rehsos.api.http`) and as a nameko RPC method of the same name (:mod:`rehsos.api.rpc`),
with the same token check, the same schemas in and out, and the same error bodies
(:mod:`rehsos.api.errors`)."""
from __future__ import annotations

from rehsos.api.errors import ApiError, BadRequest, Conflict, NotFound, Unprocessable, domain_errors  # noqa: F401
from rehsos.api.http import ApiEntrypoint  # noqa: F401
from rehsos.api.rpc import RpcApiEntrypoint
from rehsos.api.sessions import LOGIN_PATH, LOGOUT_PATH, PageSessions, html_page  # noqa: F401


def api(method, url, **kwargs):
    """An HTTP route; unless it is a page, public, or a file going in or out, also an RPC method of
    the same name."""
    http = ApiEntrypoint.decorator(method, url, **kwargs)
    if kwargs.get("public") or kwargs.get("html") or kwargs.get("produces") or kwargs.get("upload"):
        return http  # pages and files are HTTP only
    rpc = RpcApiEntrypoint.decorator(**{k: kwargs[k] for k in ("roles", "body", "query", "response", "status", "many")
                                        if k in kwargs})
    return lambda fn: rpc(http(fn))
