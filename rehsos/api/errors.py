"""The answers a client gets when a request cannot be carried out: one error body for HTTP and
RPC, and the one translation of the domain's errors (``rehsos.errors``) into them."""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import IntegrityError

from rehsos import auth, errors

log = logging.getLogger(__name__)


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


class Gone(ApiError):
    status, code = 410, "gone"


class RpcApiError(Exception):
    """Carries the HTTP API's error body as JSON, so RPC clients get the same answer."""

    @classmethod
    def of(cls, exc: Exception) -> "RpcApiError":
        return exc if isinstance(exc, cls) else cls(json.dumps(error_body_of(exc), ensure_ascii=False))


@contextmanager
def domain_errors():
    """The one translation of the domain's errors (``rehsos.errors``) into API answers."""
    try:
        yield
    except errors.NotFound as exc:
        raise NotFound(str(exc)) from None
    except errors.Gone as exc:
        raise Gone(str(exc)) from None
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


def error_body_of(exc: Exception) -> dict:
    """The one mapping from an exception to the answer a client gets (HTTP and RPC)."""
    if isinstance(exc, ApiError):
        return error_body(exc.status, exc.code, exc.message, exc.fields)
    if isinstance(exc, auth.AuthError):
        return error_body(exc.status, "unauthenticated" if exc.status == 401 else "forbidden", str(exc))
    if isinstance(exc, RpcApiError):
        return json.loads(str(exc))
    log.error("unhandled error in API handler", exc_info=exc)
    return error_body(500, "internal_error", "Terjadi kesalahan pada server.")
