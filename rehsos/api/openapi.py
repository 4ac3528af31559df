"""The OpenAPI 3 document of a node or the hub, generated from the entrypoints' schemas.

Served by the node's web server at ``/api/v1/openapi.json``: whatever services run in the
process, their routes, roles, request and response schemas appear in one document.
"""
from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields as ma_fields, validate
from werkzeug.routing.rules import parse_converter_args

from rehsos import reference
from rehsos.contracts.fields import INT_MAX, rules_of

OPENAPI_PATH = "/api/v1/openapi.json"
HEALTH_PATH = "/api/v1/health"
DENIALS_PATH = "/api/v1/audit/denials"
_RULE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_RULE_CONVERTER = re.compile(r"<(?:([a-z]+)(?:\(([^)]*)\))?:)?([^<>]+)>")
_WRITES = ("POST", "PUT", "PATCH", "DELETE")

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
    "410": "Sudah dihapus",
    "422": "Data tidak valid; lihat error.fields",
}


def openapi_path(rule: str) -> str:
    return _RULE_PARAM.sub(r"{\1}", rule)


def path_parameters(rule: str) -> list[dict]:
    """The path parameters of a werkzeug rule, with what its converters let through
    (``rehsos.api.http.PATH_CONVERTERS``): anything else is a 404."""
    params = []
    for converter, args, name in _RULE_CONVERTER.findall(rule):
        kwargs = parse_converter_args(args)[1] if args else {}
        if converter == "int":
            schema = {"type": "integer", "minimum": kwargs.get("min", 0), "maximum": kwargs.get("max", INT_MAX)}
        else:
            length = kwargs.get("length")
            schema = {"type": "string", "minLength": length or kwargs.get("minlength", 1)}
            if length or kwargs.get("maxlength"):
                schema["maxLength"] = length or kwargs["maxlength"]
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _dict_properties(self, field, ret, **kwargs) -> dict:
    """What apispec leaves out of a ``Dict``: a Length counts its keys (apispec writes a string's
    minLength/maxLength), and keys from a fixed list are the only properties it may have."""
    if not isinstance(field, ma_fields.Dict):
        return {}
    extra = {}
    for string_key, object_key in (("minLength", "minProperties"), ("maxLength", "maxProperties")):
        if string_key in ret:
            extra[object_key] = ret.pop(string_key)
    choices = [v.choices for v in (field.key_field.validators if field.key_field else ())
               if isinstance(v, validate.OneOf)]
    if choices:
        extra["properties"] = {key: ret.get("additionalProperties", {}) for key in choices[0]}
        extra["additionalProperties"] = False
    return extra


# What our fields refuse that apispec does not say: NUL in text (rehsos.contracts.fields.Str;
# a pattern of their own already leaves it out), and a time that is not HH:MM[:SS[.ffffff]].
NO_NUL = r"^[^\u0000]*$"
TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


def _text_patterns(self, field, ret, **kwargs) -> dict:
    if isinstance(field, ma_fields.Time):
        return {"pattern": TIME}
    pattern = ret.get("pattern")
    if pattern is not None and not pattern.startswith("^"):
        # marshmallow's Regexp matches at the start of the text; a JSON Schema pattern anywhere in it.
        return {"pattern": f"^(?:{pattern})"}
    plain_text = isinstance(field, ma_fields.String) and not isinstance(field, (ma_fields.UUID, ma_fields.Email))
    if plain_text and not {"pattern", "enum", "format"} & set(ret):
        return {"pattern": NO_NUL}
    return {}


def _links(providers) -> dict[tuple[str, str], dict]:
    """OpenAPI links from what an operation creates to the operations on it, so a client (or a
    fuzzer) can follow a new id: a 201 whose answer is (or holds, one level down) the schema a
    ``GET .../{id}`` answers links to every operation under that path, ``id`` taken from the
    answer (the field named like the parameter, else ``id``), other path parameters from the
    request when it has them. Keyed by (method, path) of the creating operation."""
    resources = {}  # response schema -> (path of its GET, its last parameter)
    for p in providers:
        params = _RULE_PARAM.findall(p.url)
        if p.method == "GET" and params and p.response_schema and not p.many and p.url.endswith(">"):
            resources.setdefault(p.response_schema, (openapi_path(p.url), params[-1]))
    links: dict[tuple[str, str], dict] = {}
    for p in providers:
        if p.success_status != 201 or p.response_schema is None or p.many:
            continue
        source_params = set(_RULE_PARAM.findall(p.url))
        answer = p.response_schema()
        held = [(p.response_schema, "")] + [
            (field.schema.__class__, f"/{name}") for name, field in answer.fields.items()
            if isinstance(field, ma_fields.Nested) and not field.many]
        for schema, pointer in held:
            if schema not in resources:
                continue
            resource_path, id_param = resources[schema]
            fields = schema().fields
            id_field = id_param if id_param in fields else "id" if "id" in fields else None
            if id_field is None:
                continue
            for target in providers:
                target_path = openapi_path(target.url)
                if target is p or getattr(target, "html", False) or not (
                        target_path == resource_path or target_path.startswith(resource_path + "/")):
                    continue
                values = {}
                for name in _RULE_PARAM.findall(target.url):
                    if name == id_param:
                        values[name] = f"$response.body#{pointer}/{id_field}"
                    elif name in source_params:
                        values[name] = f"$request.path.{name}"
                if len(values) < len(_RULE_PARAM.findall(target.url)):
                    continue  # a parameter the creating request cannot supply
                op_id = f"{target.container.service_name}.{target.method_name}"
                links.setdefault((p.method, openapi_path(p.url)), {})[op_id] = {
                    "operationId": op_id, "parameters": values}
    return links


def build(node: str, providers) -> dict:
    title = "Rehsos Kalsel hub" if node == "hub" else f"Rehsos Kalsel node {node} ({reference.region_name(node)})"
    marshmallow_plugin = MarshmallowPlugin()
    spec = APISpec(title=title, version="1.0.0", openapi_version="3.0.3", plugins=[marshmallow_plugin],
                   info={"description": "Social rehabilitation platform of Kalimantan Selatan."})
    marshmallow_plugin.converter.add_attribute_function(_dict_properties)
    marshmallow_plugin.converter.add_attribute_function(_text_patterns)
    links = _links([p for p in providers if not getattr(p, "html", False)])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", _ERROR_SCHEMA)
    paths: dict[str, dict] = {}
    for p in providers:
        if getattr(p, "html", False):
            continue  # pages are for people, not part of the API
        path = openapi_path(p.url)
        params = path_parameters(p.url)
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
            rules = {**{field: rule for schema in (p.query_schema, p.body_schema) if schema is not None
                        for field, rule in rules_of(schema).items()}, **p.rules}
            if p.csv:
                rules.setdefault(p.csv, f"a CSV body holds what the JSON body's {p.csv} would")
            if rules:
                op["x-rules"] = [{"field": field, "rule": rule} for field, rule in sorted(rules.items())]
                op["description"] = "Also refused with 422 (rules the schema cannot state): " + "; ".join(
                    f"{field}: {rule}" for field, rule in sorted(rules.items()))
            if p.upload:
                op["requestBody"] = {"required": True, "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                        "file": {"type": "string", "format": "binary"}}}}}}
                op["parameters"] = op.get("parameters", []) + [
                    {"name": "filename", "in": "query", "required": False, "schema": {"type": "string"}}]
            ok: dict = {"description": "OK"}
            if p.produces:
                types = (p.produces,) if isinstance(p.produces, str) else p.produces
                ok["content"] = {t: {"schema": {"type": "string", "format": "binary"}} for t in types}
            if p.response_schema is not None:
                schema = {"type": "array", "items": p.response_schema} if p.many else p.response_schema
                ok["content"] = {"application/json": {"schema": schema}}
            if (method, path) in links:
                ok["links"] = links[(method, path)]
            responses = {str(p.success_status): ok}
            # 400: an unreadable, oversized or NUL-bearing request, whatever the route.
            codes = ["400", "422"] if p.body_schema or p.query_schema or p.upload else ["400"]
            if not p.public:
                op["security"] = [{"bearer": []}]
                op["x-roles"] = list(p.roles)
                codes += ["401", "403"]
            if params:
                codes.append("404")
            if method in _WRITES:
                codes.append("409")
            codes += [c for c in p.answers if c not in codes]
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
    paths[HEALTH_PATH] = {"get": {"summary": "Readiness of the node's services: database, broker, outbox backlog",
                                  "tags": ["health"], "operationId": "node.health", "responses": {
                                      "200": {"description": "Every database and the broker answer"},
                                      "503": {"description": "A database or the broker does not answer"}}}}
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    for (schema_class, *_), name in marshmallow_plugin.converter.refs.items():  # apispec's schema keys
        # What the schema checks across its fields, as far as JSON Schema can say it.
        document["components"]["schemas"][name].update(getattr(schema_class, "JSON_SCHEMA", {}))
    return document
