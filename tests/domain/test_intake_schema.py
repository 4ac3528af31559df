"""What intake's HTTP API accepts for a new case (services/intake/intake/schemas.py)."""
from datetime import date, timedelta

import pytest
from marshmallow import ValidationError

from intake import schemas
from intake.schemas import CaseRegistrationSchema, PersonUpdateSchema

TODAY = date(2025, 6, 15)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    """The schema asks date.today(); pin it so boundary cases do not depend on the calendar."""
    class FixedDate(date):
        @classmethod
        def today(cls):
            return TODAY
    monkeypatch.setattr(schemas, "date", FixedDate)


def body(**changes):
    data = {
        "category": "gelandangan",
        "name": "Budi Santoso",
        "nik": "6371011505900001",
        "sex": "male",
        "birth_date": "1990-05-15",
        "regency": "6371",
        "kecamatan": "637105",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def errors(data):
    with pytest.raises(ValidationError) as info:
        CaseRegistrationSchema().load(data)
    return info.value.messages


def test_valid_body_loads():
    loaded = CaseRegistrationSchema().load(body())
    assert loaded["birth_date"] == date(1990, 5, 15)
    assert loaded["nik"] == "6371011505900001"
    assert loaded["regency"] == "6371"


def test_a_person_without_birth_date_needs_an_estimated_age():
    data = body()
    del data["birth_date"]
    assert errors(data) == {"birth_date": ["Isi tanggal lahir, atau perkiraan umur bila tidak diketahui."]}
    assert CaseRegistrationSchema().load({**data, "estimated_age": 45})["estimated_age"] == 45


def test_birth_date_and_estimated_age_together_are_refused():
    assert "estimated_age" in errors({**body(), "estimated_age": 45})


@pytest.mark.parametrize("field", ["category", "name", "sex", "regency", "kecamatan"])
def test_missing_required_field_is_wajib_diisi(field):
    assert errors(body(**{field: ...})) == {field: ["Wajib diisi."]}


def test_empty_body_lists_every_required_field():
    assert set(errors({})) == {"category", "name", "sex", "regency", "kecamatan"}


@pytest.mark.parametrize("field, value", [
    ("category", "tunawisma"),
    ("category", 5),
    ("nik", "637101150590001"),        # 15 digits
    ("nik", "63710115059000A1"),       # a letter
    ("nik", "6371013102900001"),       # 31 February
    ("nik", 6371011505900001),         # a number, not text
    ("birth_date", 123),
    ("birth_date", "15-05-1990"),
    ("birth_date", "1990-02-30"),
    ("name", 42),
    ("name", "B"),
    ("name", None),
    ("sex", "laki-laki"),
    ("sex", "M"),
    ("regency", "63"),                 # the province is not a regency
    ("regency", "6399"),
    ("regency", 6371),
    ("kecamatan", "X"),
    ("kecamatan", "Banjarmasin Tengah"),  # the name: the API takes the code
    ("kecamatan", "637199"),              # no such kecamatan
    ("kecamatan", 637105),
])
def test_invalid_value_is_reported_on_exactly_that_field(field, value):
    reported = errors(body(**{field: value}))
    assert list(reported) == [field]
    assert all(isinstance(m, str) and m for m in reported[field])


def test_unknown_extra_field_is_refused():
    assert errors(body(religion="Islam")) == {"religion": ["Kolom tidak dikenal."]}


def test_unknown_category_message_is_indonesian():
    assert errors(body(category="tunawisma"))["category"] == [
        "Kategori PPKS tidak dikenal; gunakan salah satu dari 26 kode PPKS."]


def test_sex_other_than_male_or_female_is_refused_in_indonesian():
    assert errors(body(sex="other")) == {"sex": ["Jenis kelamin harus 'male' atau 'female'."]}


def test_future_birth_date_is_refused():
    tomorrow = TODAY + timedelta(days=1)
    assert errors(body(birth_date=tomorrow.isoformat())) == {
        "birth_date": ["Tanggal lahir tidak boleh di masa depan."]}


def test_birth_date_today_is_accepted():
    assert CaseRegistrationSchema().load(body(birth_date=TODAY.isoformat()))["birth_date"] == TODAY


def test_birth_date_121_years_ago_is_refused():
    born = TODAY.replace(year=TODAY.year - 121)
    assert errors(body(birth_date=born.isoformat())) == {
        "birth_date": ["Tanggal lahir lebih dari 120 tahun yang lalu."]}


def test_birth_date_exactly_120_years_ago_is_accepted():
    born = TODAY.replace(year=TODAY.year - 120)
    assert CaseRegistrationSchema().load(body(birth_date=born.isoformat()))["birth_date"] == born


def test_birth_date_120_years_and_one_day_ago_is_refused():
    born = TODAY.replace(year=TODAY.year - 120) - timedelta(days=1)
    assert errors(body(birth_date=born.isoformat())) == {
        "birth_date": ["Tanggal lahir lebih dari 120 tahun yang lalu."]}


@pytest.mark.parametrize("nik", [..., None], ids=["omitted", "null"])
def test_nik_may_be_omitted_or_null(nik):
    assert CaseRegistrationSchema().load(body(nik=nik))["nik"] is None


def test_whitespace_around_text_is_stripped():
    loaded = CaseRegistrationSchema().load(body(name="  Budi Santoso \n", nik=" 6371011505900001 ",
                                                regency=" 6371", kecamatan="637105  "))
    assert loaded["name"] == "Budi Santoso"
    assert loaded["nik"] == "6371011505900001"
    assert loaded["regency"] == "6371"
    assert loaded["kecamatan"] == "637105"


def test_name_of_only_whitespace_is_too_short():
    assert list(errors(body(name="   "))) == ["name"]


def test_body_that_is_not_an_object_is_refused():
    assert errors(["gelandangan"]) == {"_schema": ["Data harus berupa objek JSON."]}


def test_the_kecamatan_of_a_change_is_a_known_code():
    assert PersonUpdateSchema().validate({"kecamatan": "637101"}) == {}
    assert list(PersonUpdateSchema().validate({"kecamatan": "Banjarmasin Selatan"})) == ["kecamatan"]
    assert list(PersonUpdateSchema().validate({"kecamatan": None})) == ["kecamatan"]


def test_a_kecamatan_of_another_regency_is_left_to_the_service_which_knows_the_office():
    # Martapura lies in Kabupaten Banjar (6303): the service refuses it for 6371 (tests/service).
    assert CaseRegistrationSchema().load(body(kecamatan="630305"))["kecamatan"] == "630305"
