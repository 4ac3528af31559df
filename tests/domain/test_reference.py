"""Reference data of the province (rehsos/reference.py) and its copy of shared/domain/*.csv."""
import csv
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from rehsos import reference
SHARED_DOMAIN = Path(__file__).resolve().parents[2].parent / "shared" / "domain"


def test_there_are_13_regencies_plus_the_province():
    assert len(reference.REGENCIES) == 13
    assert set(reference.REGIONS) == set(reference.REGENCIES) | {"63"}
    assert reference.REGIONS["63"].kind == "provinsi"


def test_regency_codes_are_kabupaten_01_to_69_and_kota_71_to_99():
    for code, region in reference.REGENCIES.items():
        assert code.startswith("63") and len(code) == 4
        expected = "kabupaten" if 1 <= int(code[2:]) <= 69 else "kota"
        assert region.kind == expected, code


def test_there_are_26_ppks_categories_numbered_1_to_26():
    assert len(reference.PPKS_CATEGORIES) == 26
    assert sorted(c.no for c in reference.PPKS_CATEGORIES.values()) == list(range(1, 27))


def test_every_office_is_a_node():
    assert set(reference.NODES) == set(reference.REGIONS)


def test_province_serves_all_13_regencies():
    assert set(reference.regions_served_by("63")) == set(reference.REGENCIES)
    assert len(reference.regions_served_by("63")) == 13


def test_regency_serves_only_itself():
    assert reference.regions_served_by("6371") == ("6371",)


def test_region_name_falls_back_to_the_code():
    assert reference.region_name("6371") == "Banjarmasin"
    assert reference.region_name("9999") == "9999"


def test_rehab_stages_are_in_their_practised_order():
    assert [s["code"] for s in reference.REHAB_STAGES] == [
        "pendekatan_awal", "asesmen", "rencana_intervensi", "intervensi", "resosialisasi", "terminasi",
        "bimbingan_lanjut"]


def test_shipped_csvs_are_byte_identical_to_shared_domain():
    if not SHARED_DOMAIN.is_dir():
        pytest.skip(f"{SHARED_DOMAIN} does not exist (checkout without the shared design folder)")
    shipped = {p.name: p.read_bytes() for p in resources.files("rehsos.data").iterdir() if p.name.endswith(".csv")}
    shared = {p.name: p.read_bytes() for p in SHARED_DOMAIN.glob("*.csv")}
    assert sorted(shipped) == sorted(shared)
    assert [name for name in shared if shipped[name] != shared[name]] == []


def test_every_region_has_its_population_and_the_regencies_add_up_to_the_province():
    assert set(reference.POPULATION) == set(reference.REGIONS)
    assert sum(reference.POPULATION[code] for code in reference.REGENCIES) == reference.POPULATION["63"]
    assert reference.POPULATION["6371"] == 681693  # Kota Banjarmasin
    assert "Kemendagri" in reference.POPULATION_SOURCE


def test_figures_per_10000_inhabitants():
    assert reference.per_10k(138950, "6311") == 10_000.0  # all of Balangan
    assert reference.per_10k(68, "6371") == 1.0  # 68 in 681,693 people
    assert reference.per_10k(None, "6371") is None


def test_156_kecamatan_in_the_13_regencies_as_the_csv_counts_them():
    with resources.files("rehsos.data").joinpath("kecamatan.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(reference.KECAMATAN) == len(rows) == 156
    assert {k.regency for k in reference.KECAMATAN.values()} == set(reference.REGENCIES)
    per_regency = Counter(row["regency"] for row in rows)
    assert {regency: len(reference.kecamatan_of(regency)) for regency in reference.REGENCIES} == per_regency
    assert per_regency["6302"] == 22 and per_regency["6371"] == 5  # Kotabaru, Banjarmasin
    for code, kecamatan in reference.KECAMATAN.items():
        assert len(code) == 6 and code.isdigit() and code.startswith(kecamatan.regency), code


def test_an_office_lists_its_own_kecamatan_by_name_and_the_province_all_of_them():
    assert reference.kecamatan_of("6371") == {
        "637103": "Banjarmasin Barat", "637101": "Banjarmasin Selatan", "637105": "Banjarmasin Tengah",
        "637102": "Banjarmasin Timur", "637104": "Banjarmasin Utara"}
    everything = reference.kecamatan_of("63")
    assert set(everything) == set(reference.KECAMATAN)
    names = list(everything.values())
    assert names == sorted(names, key=str.casefold)
    assert reference.kecamatan_of("9999") == {}


def test_a_kecamatan_is_found_by_its_name_within_a_regency_only():
    assert reference.kecamatan_named("6371", "Banjarmasin Barat") == "637103"
    assert reference.kecamatan_named("6371", "  banjarmasin  BARAT ") == "637103"
    assert reference.kecamatan_named("6310", "Batulicin") == "631001"  # listed as "Batu Licin"
    assert reference.kecamatan_named("6303", "Simpang Empat") == "630308"
    assert reference.kecamatan_named("6310", "Simpang Empat") == "631006"  # the same name, another regency
    assert reference.kecamatan_named("6371", "Martapura") is None  # a kecamatan of Banjar (6303)
    assert reference.kecamatan_named("6371", "Pasar Lama") is None
    assert reference.kecamatan_named("6371", "") is None and reference.kecamatan_named("6371", None) is None
    assert reference.kecamatan_name("637103") == "Banjarmasin Barat"
    assert reference.kecamatan_name("999999") is None and reference.kecamatan_name(None) is None


def test_no_two_kecamatan_of_a_regency_fold_to_one_name():
    folded = {(k.regency, "".join(ch for ch in k.name.casefold() if ch.isalnum()))
              for k in reference.KECAMATAN.values()}
    assert len(folded) == len(reference.KECAMATAN)


def test_the_demo_people_live_in_kecamatan_of_their_own_regency():
    from rehsos_tools import demo

    assert set(demo.KECAMATAN) == set(reference.REGENCIES)
    for regency, codes in demo.KECAMATAN.items():
        assert codes and all(reference.KECAMATAN[code].regency == regency for code in codes), regency
