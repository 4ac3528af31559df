"""marshmallow fields and a base schema whose messages are in Bahasa Indonesia.

API field names stay English; the messages are what an operator reads, so they are Indonesian.
"""
from __future__ import annotations

from datetime import date

from marshmallow import Schema as _Schema
from marshmallow import ValidationError
from marshmallow import fields as _f

_COMMON = {
    "required": "Wajib diisi.",
    "null": "Tidak boleh kosong (null).",
    "validator_failed": "Nilai tidak valid.",
}


def _indonesian(cls, **messages):
    return type(cls.__name__, (cls,), {"default_error_messages": {**_COMMON, **messages}})


Str = _indonesian(_f.String, invalid="Harus berupa teks.", invalid_utf8="Bukan teks UTF-8 yang valid.")
Int = _indonesian(_f.Integer, invalid="Harus berupa bilangan bulat.", too_large="Angka terlalu besar.")
Bool = _indonesian(_f.Boolean, invalid="Harus berupa true atau false.")
Float = _indonesian(_f.Float, invalid="Harus berupa angka.", special="Angka tidak valid.")
Email = _indonesian(_f.Email, invalid="Alamat email tidak valid.")
Date = _indonesian(_f.Date, invalid="Harus berupa tanggal dengan format YYYY-MM-DD.",
                   format="Format tanggal tidak dapat dibaca.")
AwareDateTime = _indonesian(_f.AwareDateTime, invalid="Harus berupa waktu ISO 8601.",
                            invalid_awareness="Waktu harus menyertakan zona waktu.",
                            format="Format waktu tidak dapat dibaca.")
UUID = _indonesian(_f.UUID, invalid_uuid="Harus berupa UUID yang valid.", invalid="Harus berupa UUID yang valid.")
Dict = _indonesian(_f.Dict, invalid="Harus berupa objek.")
List = _indonesian(_f.List, invalid="Harus berupa daftar.")
Nested = _indonesian(_f.Nested, type="Harus berupa objek.")


def not_future(what: str):
    """Validator for a date that records something done: it cannot lie after today."""
    def check(value):
        if value is not None and value > date.today():
            raise ValidationError(f"{what} tidak boleh di masa depan.")
    return check


class Schema(_Schema):
    """Base schema: unknown fields are refused, messages are Indonesian."""

    error_messages = {
        "unknown": "Kolom tidak dikenal.",
        "type": "Data harus berupa objek JSON.",
    }
