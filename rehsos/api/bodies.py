"""Reading requests and writing answers, the same for HTTP and RPC: bodies and queries go
through their declared schema on the way in, answers through theirs on the way out, so the
OpenAPI document and what clients receive cannot drift apart."""
from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, ValidationError
from werkzeug.wrappers import Request, Response

from rehsos.api.errors import BadRequest, Unprocessable


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), status=status,
                    mimetype="application/json", headers=headers)


def _too_large(max_bytes: int) -> BadRequest:
    return BadRequest(f"Ukuran data melebihi batas {max_bytes} byte.", code="payload_too_large",
                      fields={"_body": [f"Maksimal {max_bytes} byte."]})


def read_json(request: Request, max_bytes: int) -> Any:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise _too_large(max_bytes)
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
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


def answer(result: Any, *, schema: type[Schema] | None, many: bool, status: int) -> tuple[int, Any]:
    """A handler's result (``payload`` or ``(status, payload)``) as it goes out: through ``schema``."""
    if isinstance(result, tuple):
        status, result = result
    if schema is not None:
        result = schema(many=many).dump(result)
    return status, result
