"""marshmallow fields and a base schema whose messages are in Bahasa Indonesia.

API field names stay English; the messages are what an operator reads, so they are Indonesian.
"""
from __future__ import annotations

from datetime import date

from marshmallow import Schema as _Schema
from marshmallow import ValidationError, validate, validates_schema
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
Time = _indonesian(_f.Time, invalid="Harus berupa jam dengan format HH:MM.", format="Format jam tidak dapat dibaca.")
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


# -- helpers the services' API schemas share ---------------------------------------------------------
def one_of(choices, what: str) -> validate.OneOf:
    """``what`` names the field for the operator: "Jenis fasilitas tidak dikenal; pilihan: ..."."""
    return validate.OneOf(choices, error=f"{what} tidak dikenal; pilihan: {', '.join(choices)}.")


def text(lo: int, hi: int, **kwargs) -> Str:
    return Str(validate=validate.Length(lo, hi, error=f"Panjang harus {lo} sampai {hi} karakter."), **kwargs)


# Indonesian numbers: mobile 08xx (10 to 13 digits), landline with area code (0511 ...), or +62.
PHONE = validate.Regexp(r"^\+?[0-9]{8,15}$", error="Nomor telepon harus 8 sampai 15 digit.")


class ChangeSchema(Schema):
    """Base of a PATCH body: every field optional, but an empty change is refused."""

    @validates_schema
    def _something_to_change(self, data, **kwargs):
        if not data:
            raise ValidationError("Tidak ada perubahan yang dikirim.", "_body")
