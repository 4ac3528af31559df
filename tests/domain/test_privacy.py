"""NIK plausibility, age bands and the pseudonymous person key (rehsos/privacy.py)."""
import re
from datetime import date

import pytest

from rehsos.privacy import AGE_BANDS, age_band, nik_problem, person_key

# 6371 01 (Banjarmasin, kecamatan 01), born 15 May 1990, serial 0001.
MALE_NIK = "6371011505900001"
# Same, with 40 added to the day for a woman.
FEMALE_NIK = "6371015505900001"
SECRET = "a-provincial-secret-for-tests"


# -- nik_problem -----------------------------------------------------------------------------------
@pytest.mark.parametrize("nik", [MALE_NIK, FEMALE_NIK], ids=["male", "female_day_plus_40"])
def test_nik_with_valid_layout_is_plausible(nik):
    assert nik_problem(nik) is None


def test_nik_with_female_day_offset_is_plausible():
    assert nik_problem("6303047112850003") is None  # 31 December 1985, woman


@pytest.mark.parametrize("nik", ["6371012902000001", "6371016902000001"], ids=["male", "female"])
def test_nik_born_on_29_february_is_plausible(nik):
    assert nik_problem(nik) is None


@pytest.mark.parametrize("nik, message", [
    ("637101150590001", "16 digit"),                    # 15 digits
    ("63710115059000011", "16 digit"),                  # 17 digits
    ("", "16 digit"),
    ("63710115059000A1", "16 digit"),                   # a letter
    ("6371 011505900001", "16 digit"),                  # a space inside
    ("9971011505900001", "kode provinsi"),              # 99 is no province
    ("0071011505900001", "kode provinsi"),
    ("6300011505900001", "kabupaten/kota"),             # regency 00
    ("6371001505900001", "kecamatan"),                  # kecamatan 00
    ("6371013102900001", "Tanggal lahir"),              # 31 February
    ("6371017202900001", "Tanggal lahir"),              # day 72 = woman born on the 32nd
    ("6371010005900001", "Tanggal lahir"),              # day 00
    ("6371014005900001", "Tanggal lahir"),              # day 40: neither a man's nor a woman's day
    ("6371011513900001", "Tanggal lahir"),              # month 13
    ("6371011500900001", "Tanggal lahir"),              # month 00
    ("6371011505900000", "0000"),                       # serial 0000
])
def test_implausible_nik_is_refused_with_the_reason(nik, message):
    problem = nik_problem(nik)
    assert problem is not None
    assert message in problem


@pytest.mark.parametrize("nik", [
    MALE_NIK + "\n",                  # `$` also matches before a trailing newline
    MALE_NIK[:-1] + "\u0661",         # ARABIC-INDIC DIGIT ONE: `\d` accepts any Unicode digit
    MALE_NIK[:-4] + "\uff10\uff10\uff10\uff11",  # full-width digits
], ids=["trailing_newline", "arabic_indic_digit", "fullwidth_digits"])
def test_nik_must_be_exactly_16_ascii_digits(nik):
    assert nik_problem(nik) == "NIK harus terdiri dari 16 digit angka."


# -- age_band --------------------------------------------------------------------------------------
TODAY = date(2025, 6, 15)


@pytest.mark.parametrize("age, band", [
    (0, "0-4"), (4, "0-4"), (5, "5-9"), (74, "70-74"), (75, "75+"), (90, "75+"),
])
def test_age_band_boundaries(age, band):
    assert age_band(TODAY.replace(year=TODAY.year - age), TODAY) == band


def test_age_band_counts_a_year_only_once_the_birthday_is_reached():
    born = date(2000, 6, 16)
    assert age_band(born, date(2025, 6, 15)) == "20-24"
    assert age_band(born, date(2025, 6, 16)) == "25-29"


def test_every_age_band_is_a_declared_band():
    bands = {age_band(TODAY.replace(year=TODAY.year - age), TODAY) for age in range(0, 110)}
    assert bands == set(AGE_BANDS)


# -- person_key ------------------------------------------------------------------------------------
def test_same_nik_and_secret_give_the_same_key_on_different_nodes():
    at_banjarmasin = person_key(SECRET, MALE_NIK, "6371", "person-1")
    at_banjar = person_key(SECRET, MALE_NIK, "6303", "person-99")
    assert at_banjarmasin == at_banjar
    assert at_banjarmasin[1] == "nik"


def test_different_secret_gives_a_different_key():
    assert person_key(SECRET, MALE_NIK, "6371", "p")[0] != person_key(SECRET + "x", MALE_NIK, "6371", "p")[0]


def test_different_niks_give_different_keys():
    assert person_key(SECRET, MALE_NIK, "6371", "p")[0] != person_key(SECRET, FEMALE_NIK, "6371", "p")[0]


@pytest.mark.parametrize("nik", [None, ""])
def test_person_without_nik_gets_a_local_key_per_person_id(nik):
    first, kind = person_key(SECRET, nik, "6371", "person-1")
    second, _ = person_key(SECRET, nik, "6371", "person-2")
    assert kind == "local"
    assert first != second


def test_local_key_differs_between_nodes_for_the_same_person_id():
    assert person_key(SECRET, None, "6371", "person-1")[0] != person_key(SECRET, None, "6303", "person-1")[0]


@pytest.mark.parametrize("nik", [MALE_NIK, None])
def test_person_key_is_64_hex_chars_and_never_contains_the_nik(nik):
    key, _ = person_key(SECRET, nik, "6371", "person-1")
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert MALE_NIK not in key
