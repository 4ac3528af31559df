"""Reference data of the province (rehsos/reference.py) and its copy of shared/domain/*.csv."""
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
