"""The OpenAPI 3 document of a node or the hub, generated from the entrypoints' schemas.

Served by the node's web server at ``/api/v1/openapi.json``: whatever services run in the
process, their routes, roles, request and response schemas appear in one document.
"""
from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from rehsos import reference

OPENAPI_PATH = "/api/v1/openapi.json"
HEALTH_PATH = "/api/v1/health"
DENIALS_PATH = "/api/v1/audit/denials"
_RULE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "required": ["status", "code", "message"], "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "message": {"type": "string", "description": "for people, in Bahasa Indonesia"},
        "fields": {"type": "object", "description": "per-field messages"},
    }}},
}
_ERRORS = {
    "400": "Permintaan tidak dapat dibaca (bukan JSON, kosong, atau terlalu besar)",
    "401": "Token tidak ada atau tidak valid",
    "403": "Peran atau node token tidak berwenang",
    "404": "Tidak ditemukan",
    "409": "Konflik dengan data yang ada",
    "422": "Data tidak valid; lihat error.fields",
}


def openapi_path(rule: str) -> str:
    return _RULE_PARAM.sub(r"{\1}", rule)


def build(node: str, providers) -> dict:
    title = "Rehsos Kalsel hub" if node == "hub" else f"Rehsos Kalsel node {node} ({reference.region_name(node)})"
    spec = APISpec(title=title, version="1.0.0", openapi_version="3.0.3", plugins=[MarshmallowPlugin()],
                   info={"description": "Social rehabilitation platform of Kalimantan Selatan."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", _ERROR_SCHEMA)
    paths: dict[str, dict] = {}
    for p in providers:
        if getattr(p, "html", False):
            continue  # pages are for people, not part of the API
        path = openapi_path(p.url)
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _RULE_PARAM.findall(p.url)]
        for method in p.method.split(","):
            op: dict = {"summary": p.summary, "tags": list(p.tags), "operationId": f"{p.container.service_name}.{p.method_name}"}
            if params:
                op["parameters"] = params
            if p.query_schema is not None:
                op["parameters"] = op.get("parameters", []) + [{"in": "query", "schema": p.query_schema}]
            if p.body_schema is not None:
                content = {"application/json": {"schema": p.body_schema}}
                if p.csv:
                    content["text/csv"] = {"schema": {"type": "string", "description": f"a header line, then one "
                                                      f"{p.csv} row per line"}}
                op["requestBody"] = {"required": True, "content": content}
            if p.upload:
                op["requestBody"] = {"required": True, "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "file": {"type": "string", "format": "binary"}}}}}}
                op["parameters"] = op.get("parameters", []) + [
                    {"name": "filename", "in": "query", "required": False, "schema": {"type": "string"}}]
            ok: dict = {"description": "OK"}
            if p.produces:
                ok["content"] = {p.produces: {"schema": {"type": "string", "format": "binary"}}}
            if p.response_schema is not None:
                schema = {"type": "array", "items": p.response_schema} if p.many else p.response_schema
                ok["content"] = {"application/json": {"schema": schema}}
            responses = {str(p.success_status): ok}
            codes = ["400", "422"] if p.body_schema or p.query_schema or p.upload else []
            if not p.public:
                op["security"] = [{"bearer": []}]
                op["x-roles"] = list(p.roles)
                codes += ["401", "403"]
            if params:
                codes.append("404")
            if method == "POST":
                codes.append("409")
            for code in codes:
                responses[code] = {"description": _ERRORS[code],
                                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            op["responses"] = responses
            paths.setdefault(path, {})[method.lower()] = op
    paths[DENIALS_PATH] = {"get": {
        "summary": "Refused access attempts at this node, newest first", "tags": ["audit"],
        "operationId": "node.access_denials", "security": [{"bearer": []}], "x-roles": ["admin"],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "type": "array", "items": {"type": "object"}}}}},
            **{code: {"description": _ERRORS[code], "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}} for code in ("401", "403")}}}}
    paths[HEALTH_PATH] = {"get": {"summary": "Liveness of the node's services", "tags": ["health"],
                                  "operationId": "node.health", "responses": {"200": {"description": "OK"}}}}
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()
