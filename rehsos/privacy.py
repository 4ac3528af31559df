"""Pseudonymisation and identity checks: what may travel, and what stays on the node.

NIK layout (domain.md): 6 digits of the issuing region, DDMMYY birth date with 40 added to the
day for women, 4 digits of serial. Used for a plausibility check only.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

SEXES = ("male", "female")
PERSON_KEY_KINDS = ("nik", "local")
# Five-year bands: fine enough for planning (balita, anak, lansia), coarse enough not to identify.
AGE_BANDS = tuple(f"{lo}-{lo + 4}" for lo in range(0, 75, 5)) + ("75+",)

# Province codes of Indonesia (Kemendagri), for the first two NIK digits.
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35", "36",
    "51", "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76", "81", "82",
    "91", "92", "93", "94", "95", "96", "97",
})
_NIK_RE = re.compile(r"[0-9]{16}")  # ASCII digits only: \d would admit other scripts


def nik_problem(nik: str) -> str | None:
    """Why ``nik`` cannot be a NIK (in Indonesian, for the operator), or None if plausible."""
    if not _NIK_RE.fullmatch(nik):
        return "NIK harus terdiri dari 16 digit angka."
    if nik[:2] not in PROVINCE_CODES:
        return "Dua digit pertama NIK bukan kode provinsi yang valid."
    if nik[2:4] == "00" or nik[4:6] == "00":
        return "Kode kabupaten/kota atau kecamatan pada NIK tidak valid."
    day, month = int(nik[6:8]), int(nik[8:10])
    if day > 40:
        day -= 40
    try:
        # Any century: a leap-day check needs a leap year, and 2000 is one.
        date(2000, month, day)
    except ValueError:
        return "Tanggal lahir pada NIK (digit 7-12) tidak valid."
    if nik[12:] == "0000":
        return "Nomor urut NIK (4 digit terakhir) tidak boleh 0000."
    return None


def person_key(secret: str, nik: str | None, node: str, local_person_id: str) -> tuple[str, str]:
    """Keyed hash identifying a person across offices without revealing the NIK.

    With a NIK every office derives the same key, so the hub can count unique persons and spot
    double registrations. Without one the key is local to this registration.
    """
    if nik:
        kind, material = "nik", f"nik:{nik}"
    else:
        kind, material = "local", f"local:{node}:{local_person_id}"
    digest = hmac.new(secret.encode(), material.encode(), hashlib.sha256).hexdigest()
    return digest, kind


def age_on(birth_date: date, today: date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def age_band(birth_date: date | None, today: date, birth_year: int | None = None) -> str:
    """The five-year band of an exact birth date, or of an estimated birth year."""
    age = age_on(birth_date, today) if birth_date else today.year - birth_year
    if age >= 75:
        return "75+"
    lo = (max(age, 0) // 5) * 5
    return f"{lo}-{lo + 4}"
