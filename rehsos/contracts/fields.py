"""marshmallow fields and a base schema whose messages are in Bahasa Indonesia.

API field names stay English; the messages are what an operator reads, so they are Indonesian.
"""
from __future__ import annotations

import re
from datetime import date, timezone
from typing import ClassVar

from marshmallow import Schema as _Schema
from marshmallow import ValidationError, validate, validates_schema
from marshmallow import fields as _f

_COMMON = {
    "required": "Wajib diisi.",
    "null": "Tidak boleh kosong (null).",
    "validator_failed": "Nilai tidak valid.",
}
# The range of an INTEGER column (PostgreSQL's int4): every integer that comes in must fit one.
INT_MIN, INT_MAX = -2**31, 2**31 - 1
# Neither PostgreSQL nor UTF-8 can hold a NUL character or half of a surrogate pair.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _indonesian(cls, **messages):
    return type(cls.__name__, (cls,), {"default_error_messages": {**_COMMON, **messages}})


class _StorableText:
    """Text refused here rather than by the database at insert (a 500 after validation passed)."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if UNSTORABLE.search(value):
            raise self.make_error("unstorable")
        return value


class _Integer(_f.Integer):
    """Strict by default (JSON has numbers; a query string must say ``strict=False``), and never
    beyond an INTEGER column, so neither an insert nor an offset can overflow."""

    def __init__(self, *, strict: bool = True, **kwargs):
        super().__init__(strict=strict, **kwargs)
        self.validators.insert(0, validate.Range(INT_MIN, INT_MAX, error="Angka di luar rentang yang diizinkan."))


class _Float(_f.Float):
    def _validated(self, value):
        if isinstance(value, str):  # a JSON number, not text that looks like one
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class _Boolean(_f.Boolean):
    def _deserialize(self, value, attr, data, **kwargs):
        # marshmallow would take 1, "yes" or "on"; JSON has true and false.
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class _AwareDateTime(_f.AwareDateTime):
    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            value.astimezone(timezone.utc)  # how it is stored; 0001-01-01T00:00+05:00 has no UTC time
        except OverflowError:
            raise self.make_error("out_of_range") from None
        return value


_UNSTORABLE_MESSAGE = "Teks berisi karakter yang tidak diizinkan (NUL atau kode Unicode yang tidak valid)."
Str = _indonesian(type("String", (_StorableText, _f.String), {}), invalid="Harus berupa teks.",
                  invalid_utf8="Bukan teks UTF-8 yang valid.", unstorable=_UNSTORABLE_MESSAGE)
Int = _indonesian(_Integer, invalid="Harus berupa bilangan bulat.", too_large="Angka terlalu besar.")
Bool = _indonesian(_Boolean, invalid="Harus berupa true atau false.")
Float = _indonesian(_Float, invalid="Harus berupa angka.", special="Angka tidak valid.",
                    too_large="Angka terlalu besar.")
Email = _indonesian(type("Email", (_StorableText, _f.Email), {}), invalid="Alamat email tidak valid.",
                    unstorable=_UNSTORABLE_MESSAGE)
Date = _indonesian(_f.Date, invalid="Harus berupa tanggal dengan format YYYY-MM-DD.",
                   format="Format tanggal tidak dapat dibaca.")
Time = _indonesian(_f.Time, invalid="Harus berupa jam dengan format HH:MM.", format="Format jam tidak dapat dibaca.")
AwareDateTime = _indonesian(_AwareDateTime, invalid="Harus berupa waktu ISO 8601.",
                            invalid_awareness="Waktu harus menyertakan zona waktu.",
                            format="Format waktu tidak dapat dibaca.",
                            out_of_range="Waktu di luar rentang yang dapat disimpan.")
UUID = _indonesian(_f.UUID, invalid_uuid="Harus berupa UUID yang valid.", invalid="Harus berupa UUID yang valid.")
Dict = _indonesian(_f.Dict, invalid="Harus berupa objek.")
List = _indonesian(_f.List, invalid="Harus berupa daftar.")
Nested = _indonesian(_f.Nested, type="Harus berupa objek.")
Raw = _f.Raw  # any JSON value, for a container whose contents another schema checks


def not_future(what: str):
    """Validator for a date that records something done: it cannot lie after today."""
    def check(value):
        if value is not None and value > date.today():
            raise ValidationError(f"{what} tidak boleh di masa depan.")
    check.rule = "not after today"
    return check


class Schema(_Schema):
    """Base schema: unknown fields are refused, messages are Indonesian.

    What a schema checks across its fields goes into the OpenAPI document too, so that the
    document refuses what the service refuses: ``JSON_SCHEMA`` holds what JSON Schema can say
    (``anyOf``, ``not``), merged into the schema's component; ``RULES`` (field -> rule) what it
    cannot (against today, against the caller's node, between items), listed as ``x-rules`` on
    every operation that takes the schema. A 422 on a schema-valid request must name a field of
    one of those rules (tests/province/test_fuzz.py holds the services to it).
    """

    JSON_SCHEMA: ClassVar[dict] = {}
    RULES: ClassVar[dict[str, str]] = {}

    error_messages = {
        "unknown": "Kolom tidak dikenal.",
        "type": "Data harus berupa objek JSON.",
    }


# -- helpers the services' API schemas share ---------------------------------------------------------
def one_of(choices, what: str) -> validate.OneOf:
    """``what`` names the field for the operator: "Jenis fasilitas tidak dikenal; pilihan: ..."."""
    return validate.OneOf(choices, error=f"{what} tidak dikenal; pilihan: {', '.join(choices)}.")


# What a schema that trims text takes away (``str.strip(BLANKS)``): spelled out, not ``\s``,
# which means other characters to other regular-expression engines than Python's.
BLANKS = " \t\n\r\f\v"
_BLANK, _KEPT = r"[ \t\n\r\f\v]", r"[^ \t\n\r\f\v\u0000]"


def text(lo: int, hi: int, *, stripped: bool = False, **kwargs) -> Str:
    """Text of ``lo`` to ``hi`` characters. ``stripped``: the schema trims ``BLANKS`` before it
    checks (a ``pre_load``), so the document's pattern says that ``lo`` counts what is left."""
    if stripped and lo >= 1:
        middle = f"[^\\u0000]{{{lo - 2},}}{_KEPT}" if lo >= 2 else "[^\\u0000]*"
        kwargs["metadata"] = {"pattern": f"^{_BLANK}*{_KEPT}{middle}{_BLANK}*$", **kwargs.get("metadata", {})}
    return Str(validate=validate.Length(lo, hi, error=f"Panjang harus {lo} sampai {hi} karakter."), **kwargs)


# Indonesian numbers: mobile 08xx (10 to 13 digits), landline with area code (0511 ...), or +62.
PHONE = validate.Regexp(r"^\+?[0-9]{8,15}$", error="Nomor telepon harus 8 sampai 15 digit.")


class ChangeSchema(Schema):
    """Base of a PATCH body: every field optional, but an empty change is refused."""

    JSON_SCHEMA: ClassVar[dict] = {"minProperties": 1}

    @validates_schema
    def _something_to_change(self, data, **kwargs):
        if not data:
            raise ValidationError("Tidak ada perubahan yang dikirim.", "_body")


def rules_of(schema: type[Schema] | Schema, prefix: str = "") -> dict[str, str]:
    """The ``RULES`` of a schema and of the schemas nested in it, by dotted field path."""
    schema = schema() if isinstance(schema, type) else schema
    found = {f"{prefix}{name}": rule for name, rule in getattr(schema, "RULES", {}).items()}
    for name, field in schema.fields.items():
        for validator in field.validators:
            if getattr(validator, "rule", None):
                found.setdefault(f"{prefix}{field.data_key or name}", validator.rule)
        inner = field.inner if isinstance(field, _f.List) else field
        if isinstance(inner, _f.Nested) and isinstance(inner.schema, _Schema):
            found.update(rules_of(inner.schema, f"{prefix}{field.data_key or name}."))
    return found
