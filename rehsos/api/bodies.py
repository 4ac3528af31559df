"""Reading requests and writing answers, the same for HTTP and RPC: bodies and queries go
through their declared schema on the way in, answers through theirs on the way out, so the
OpenAPI document and what clients receive cannot drift apart."""
from __future__ import annotations

import csv
import functools
import io
import json
from typing import Any

from marshmallow import Schema, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from rehsos.api.errors import BadRequest, Unprocessable
from rehsos.contracts import jsontext


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), status=status,
                    mimetype="application/json", headers=headers)


def too_large(max_bytes: int) -> BadRequest:
    return BadRequest(f"Ukuran data melebihi batas {max_bytes} byte.", code="payload_too_large",
                      fields={"_body": [f"Maksimal {max_bytes} byte."]})


def read_json(request: Request, max_bytes: int) -> Any:
    raw = _read_limited(request, max_bytes)
    if not raw.strip():
        raise BadRequest("Isi permintaan kosong; kirim objek JSON.", code="empty_body",
                         fields={"_body": ["Wajib berisi objek JSON."]})
    try:
        return jsontext.loads(raw)
    except jsontext.TooDeep:
        raise BadRequest(f"Struktur JSON terlalu dalam (paling banyak {jsontext.MAX_DEPTH} tingkat).",
                         code="too_deep", fields={"_body": ["Struktur terlalu dalam."]}) from None
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("Isi permintaan bukan JSON yang valid.", code="invalid_json",
                         fields={"_body": ["Bukan JSON yang valid."]}) from None


def _read_limited(request: Request, max_bytes: int) -> bytes:
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large(max_bytes)
    try:
        raw = request.stream.read(max_bytes + 1)
    except RequestEntityTooLarge:  # a chunked body past the request's own limit
        raise too_large(max_bytes) from None
    if len(raw) > max_bytes:
        raise too_large(max_bytes)
    return raw


def read_upload(request: Request, max_bytes: int, *, required: bool = True) -> tuple[str, bytes]:
    """A file sent as the body (name in ``?filename=``) or as the ``file`` part of a form; a page's
    form (``required=False``) gets ``("", b"")`` without one, to say so beside the field."""
    if request.mimetype == "multipart/form-data":
        # The form's boundaries and headers come on top of the file: a little room for them.
        request.max_content_length = max_bytes + 16 * 1024
        try:
            part = request.files.get("file")
        except RequestEntityTooLarge:
            raise too_large(max_bytes) from None
        if part is None:
            if not required:
                return "", b""
            raise Unprocessable("Berkas tidak ada.", fields={"file": ["Wajib diisi."]})
        content = part.stream.read(max_bytes + 1)
        if len(content) > max_bytes:
            raise too_large(max_bytes)
        return part.filename or "", content
    return request.args.get("filename", ""), _read_limited(request, max_bytes)


def read_csv_rows(request: Request, max_bytes: int) -> list[dict]:
    """A CSV body with a header line, as rows of its non-empty cells (what a spreadsheet saves)."""
    try:
        return csv_rows(_read_limited(request, max_bytes))
    except ValueError:
        raise BadRequest("Isi permintaan bukan CSV UTF-8 yang valid.", code="invalid_csv",
                         fields={"_body": ["Bukan CSV yang valid."]}) from None


def csv_rows(content: bytes) -> list[dict]:
    """CSV with a header line as rows of its non-empty cells; ValueError when it is not UTF-8 CSV."""
    try:
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(str(exc)) from None
    return [{k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()} for row in rows]


@functools.cache
def schema_of(schema: type[Schema], many: bool = False) -> Schema:
    """One instance per schema class, shared by every request: building one deep-copies its
    declared fields (a fifth of a registration's marshmallow time, issue 14), and marshmallow 4
    keeps no per-call state on it."""
    return schema(many=many)


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
        result = schema_of(schema, many).dump(result)
    return status, result
