"""What intake's HTTP API accepts and returns."""
from __future__ import annotations

from datetime import date

from marshmallow import ValidationError, pre_load, validate, validates

from rehsos import reference
from rehsos.contracts import fields as f
from rehsos.privacy import SEXES, nik_problem

OLDEST_AGE_YEARS = 120


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class CaseRegistrationSchema(f.Schema):
    """A new case for a person not yet registered at this node."""
    category = f.Str(required=True, validate=validate.OneOf(
        tuple(reference.PPKS_CATEGORIES), error="Kategori PPKS tidak dikenal; gunakan salah satu dari 26 kode PPKS."),
        metadata={"description": "PPKS category code (one of the 26)", "enum": list(reference.PPKS_CATEGORIES)})
    name = f.Str(required=True, validate=validate.Length(2, 200, error="Nama harus 2 sampai 200 karakter."))
    nik = f.Str(load_default=None, allow_none=True,
                metadata={"description": "16-digit NIK, optional (people found without papers have none)"})
    sex = f.Str(required=True, validate=validate.OneOf(SEXES, error="Jenis kelamin harus 'male' atau 'female'."))
    birth_date = f.Date(required=True)
    regency = f.Str(required=True, validate=validate.OneOf(
        tuple(reference.REGENCIES), error="Kode kabupaten/kota tidak dikenal di Kalimantan Selatan."),
        metadata={"description": "Kemendagri code of the kabupaten/kota, e.g. 6371"})
    kecamatan = f.Str(required=True, validate=validate.Length(2, 100, error="Kecamatan harus 2 sampai 100 karakter."))

    @pre_load
    def _strip_text(self, data, **kwargs):
        if isinstance(data, dict):
            return {k: _strip(v) if k in ("name", "nik", "kecamatan", "category", "regency") else v
                    for k, v in data.items()}
        return data

    @validates("nik")
    def _nik_plausible(self, value, **kwargs):
        if value in (None, ""):
            return
        problem = nik_problem(value)
        if problem:
            raise ValidationError(problem)

    @validates("birth_date")
    def _birth_date_plausible(self, value: date, **kwargs):
        today = date.today()
        if value > today:
            raise ValidationError("Tanggal lahir tidak boleh di masa depan.")
        if value < _years_before(today, OLDEST_AGE_YEARS):
            raise ValidationError(f"Tanggal lahir lebih dari {OLDEST_AGE_YEARS} tahun yang lalu.")


class PersonSchema(f.Schema):
    id = f.Str()
    name = f.Str()
    nik = f.Str(allow_none=True)
    sex = f.Str()
    birth_date = f.Date()
    regency = f.Str()
    kecamatan = f.Str()


class CaseSchema(f.Schema):
    id = f.Str()
    node = f.Str()
    category = f.Str()
    category_name = f.Str()
    regency = f.Str()
    regency_name = f.Str()
    stage = f.Str()
    status = f.Str()
    registered_at = f.AwareDateTime()
    person = f.Nested(PersonSchema)
