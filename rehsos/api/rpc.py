"""Every API route is also a nameko RPC method on the node's broker, with the same auth,
the same schemas and the same handler.

Call convention (``ClusterRpcProxy`` or ``ServiceRpcProxy``)::

    n.rpc.intake.register_case(token="rk_6371_...", data={...}, purpose="pendaftaran")
    n.rpc.intake.get_case(token=..., case_id="...")           # path parameters by name
    n.rpc.intake.search_cases(token=..., query={"stage": "asesmen"})
    self.facilities.find_beds(session=<page session id>, query={...})  # from another service's page


The result is the JSON body the HTTP route answers. Refusals raise ``RemoteError`` whose
``value`` is the JSON error body of the HTTP API (status, code, message, fields).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import partial

from marshmallow import Schema
from nameko.exceptions import ContainerBeingKilled
import nameko.rpc
from nameko.rpc import ReplyListener, Rpc, RpcConsumer

from rehsos import auth
from rehsos.api.bodies import answer, load_data, schema_of
from rehsos.api.errors import ApiError, RpcApiError
from rehsos.api.tokens import TokenStoreExtension
from rehsos.messaging import FastStopQueueConsumer


@dataclass
class RpcRequest:
    """What handlers read from an HTTP request, built from an RPC call."""
    principal: auth.Principal
    data: object = None
    query: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    method: str = "RPC"
    path: str = ""


class _RpcConsumer(RpcConsumer):
    queue_consumer = FastStopQueueConsumer()


class _ReplyListener(ReplyListener):
    queue_consumer = FastStopQueueConsumer()


class RpcProxy(nameko.rpc.RpcProxy):
    """A call to another service of the node. Its replies come through a consumer that stops in a
    fifth of a second, like the service's own: nameko's waits a second more at every stop."""
    rpc_reply_listener = _ReplyListener()


class RpcApiEntrypoint(Rpc):
    rpc_consumer = _RpcConsumer()
    tokens = TokenStoreExtension()

    def __init__(self, *, roles: tuple[str, ...], body: type[Schema] | None = None,
                 query: type[Schema] | None = None, response: type[Schema] | None = None,
                 status: int = 200, many: bool = False, **kwargs):
        self.roles = roles
        self.body_schema = body
        self.query_schema = query
        self.response_schema = response
        self.success_status = status
        self.many = many
        kwargs.setdefault("expected_exceptions", (ApiError, auth.AuthError))
        super().__init__(**kwargs)

    def handle_message(self, body, message):
        try:
            request, path_kwargs = self._request(body)
            self.check_signature((request,), path_kwargs)
        except Exception:  # noqa: BLE001 - every refusal is answered, never dropped
            self.handle_result(message, None, None, sys.exc_info())
            return
        try:
            self.container.spawn_worker(self, (request,), path_kwargs, context_data={},
                                        handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.rpc_consumer.requeue_message(message)

    def _request(self, body) -> tuple[RpcRequest, dict]:
        kwargs = dict(body.get("kwargs") or {})
        if body.get("args"):
            raise RpcApiError(json.dumps({"error": {"status": 400, "code": "bad_request",
                                                    "message": "Gunakan argumen bernama (token=..., data=...)."}}))
        settings = self.container.config["REHSOS"]
        store = self.tokens.store
        token = kwargs.pop("token", None)
        session_id = kwargs.pop("session", None)
        if session_id and not token:
            # A node service's page calling another service of the same node for the person signed
            # in: their page session stands in for the token, with the same scope and roles.
            session = self.tokens.sessions.find(session_id)
            if session is None:
                raise auth.Unauthenticated("Sesi halaman sudah berakhir; silakan masuk kembali.")
            principal = auth.check_scope(session.principal, node=settings.node, roles=self.roles)
        else:
            principal = auth.authorize(store, f"Bearer {token}" if token else None, node=settings.node,
                                       roles=self.roles)
        purpose = kwargs.pop("purpose", None)
        request = RpcRequest(principal=principal, headers={"X-Purpose": purpose} if purpose else {})
        data, query = kwargs.pop("data", None), kwargs.pop("query", None) or {}
        if self.body_schema is not None:
            request.data = load_data(data, schema_of(self.body_schema))
        if self.query_schema is not None:
            request.query = load_data(query, schema_of(self.query_schema), what="Parameter tidak valid.")
        return request, kwargs

    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is None:
            try:
                _, result = answer(result, schema=self.response_schema, many=self.many,
                                   status=self.success_status)
            except Exception:  # noqa: BLE001 - a result that cannot be dumped is answered as an error
                exc_info = sys.exc_info()
        if exc_info is not None:
            exc_info = (RpcApiError, RpcApiError.of(exc_info[1]), exc_info[2])
        return self.rpc_consumer.handle_result(message, result, exc_info)
