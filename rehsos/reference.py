"""Reference data of the province, loaded once from the CSV files shipped in ``rehsos/data``.

The CSVs are copies of ``shared/domain/*.csv``; ``tests/domain/test_reference.py`` keeps them equal.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

PROVINCE = "63"


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    kind: str  # provinsi, kabupaten, kota


@dataclass(frozen=True)
class PpksCategory:
    """One of the 26 PPKS categories (Pemerlu Pelayanan Kesejahteraan Sosial)."""
    no: int
    code: str
    name_id: str
    group: str


def _rows(name: str) -> list[dict]:
    with resources.files("rehsos.data").joinpath(name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


REGIONS: dict[str, Region] = {r["code"]: Region(r["code"], r["name"], r["kind"]) for r in _rows("regions.csv")}
REGENCIES: dict[str, Region] = {c: r for c, r in REGIONS.items() if c != PROVINCE}
PPKS_CATEGORIES: dict[str, PpksCategory] = {
    r["code"]: PpksCategory(int(r["no"]), r["code"], r["name_id"], r["group"]) for r in _rows("ppks_categories.csv")
}
DISABILITY_TYPES: dict[str, dict] = {r["code"]: r for r in _rows("disability_types.csv")}
REHAB_STAGES: list[dict] = sorted(_rows("rehab_stages.csv"), key=lambda r: int(r["order"]))
STAGES: tuple[str, ...] = tuple(s["code"] for s in REHAB_STAGES)  # in the order of rehabilitation
ATENSI_COMPONENTS: dict[str, str] = {r["code"]: r["name_id"] for r in _rows("atensi_components.csv")}

# Inhabitants per region (the province and each kabupaten/kota), to compare regencies per 10,000
# inhabitants rather than in raw counts (Kota Banjarmasin has five times the people of Balangan).
# Why a panti refuses a referral (``referral.rejected`` v2): codes, never free text, because the
# event reaches the hub, where a typed name would be a personal value out of its node.
REJECTION_REASONS: dict[str, str] = {
    "no_bed": "Tidak ada tempat tidur kosong",
    "outside_criteria": "Tidak sesuai kriteria layanan panti",
    "needs_other_service": "Membutuhkan layanan lain (medis atau khusus)",
    "reservation_expired": "Reservasi tempat tidur kedaluwarsa karena orang yang dirujuk belum datang",
    "unknown_facility": "Fasilitas tidak dikenal di node tujuan",
    "other": "Alasan lain: hubungi panti",
}
POPULATION_SOURCE = ("Kepmendagri No 300.2.2-2138 Tahun 2025 (Kemendagri 2025), as compiled in the public "
                     "cahyadsn/wilayah data set (MIT)")
POPULATION: dict[str, int] = {r["code"]: int(r["total"]) for r in _rows("population.csv")}

# Every office is a node: the province office and the 13 kabupaten/kota.
NODES: tuple[str, ...] = tuple(REGIONS)
# `make run` starts these; `rehsos up --nodes all` starts every node.
DEFAULT_DEV_NODES: tuple[str, ...] = ("63", "6371", "6303")


class Kecamatan(NamedTuple):
    regency: str
    name: str


# The kecamatan of every regency, by Kemendagri code (``637103``: the regency's code and two digits).
KECAMATAN: dict[str, Kecamatan] = {r["code"]: Kecamatan(r["regency"], r["name"]) for r in _rows("kecamatan.csv")}


def kecamatan_of(regency: str) -> dict[str, str]:
    """An office's own kecamatan, code -> name, in the order of their names: a regency's, or
    all of the province's for the province node (63). An unknown code has none."""
    served = set(REGENCIES) if regency == PROVINCE else {regency}
    found = {code: k.name for code, k in KECAMATAN.items() if k.regency in served}
    return dict(sorted(found.items(), key=lambda item: (item[1].casefold(), item[0])))


def _folded(name: str) -> str:
    # "Batulicin", "Batu Licin" and "batu-licin" are one name: letters and digits, lower case.
    return re.sub(r"[\W_]+", "", name.casefold())


_BY_NAME: dict[tuple[str, str], str] = {(k.regency, _folded(k.name)): code for code, k in KECAMATAN.items()}


def kecamatan_named(regency: str, name: str | None) -> str | None:
    """The code of the kecamatan called ``name`` in ``regency`` (case, spaces and punctuation
    ignored), or None: how free text written before the list existed is mapped to a code."""
    if not name or not _folded(name):
        return None
    return _BY_NAME.get((regency, _folded(name)))


def kecamatan_name(code: str | None) -> str | None:
    kecamatan = KECAMATAN.get(code) if code else None
    return kecamatan.name if kecamatan else None


def region_name(code: str) -> str:
    region = REGIONS.get(code)
    return region.name if region else code


def per_10k(count: int | None, region: str) -> float | None:
    """``count`` per 10,000 inhabitants of ``region``, to two decimals (None stays None)."""
    if count is None:
        return None
    return round(count * 10_000 / POPULATION[region], 2)


def regions_served_by(node: str) -> tuple[str, ...]:
    """The regencies whose cases a node registers: its own, or any of them for the province."""
    return tuple(REGENCIES) if node == PROVINCE else (node,)
