"""Key custody end to end: only the nodes hold the province's person key, and when the province
rotates it, the nodes re-announce their persons' keys so the hub's counts and cross-node findings
stay right (deploy/README.md, "Rotating the person key")."""
import dataclasses

import pytest
import requests
import sqlalchemy as sa

from rehsos import auth
from rehsos.privacy import person_key
from rehsos_tools import rekey
from tests.support import case_body, wait_until

NODES = ["6371", "6303"]
BOTH = "6371051203850001"  # registered at both nodes
ONLY_6303 = "6303014507900002"


@pytest.fixture
def province(make_province):
    return make_province(NODES)


def cross_node(province, node) -> list[dict]:
    resp = requests.get(province.url(node, "/api/v1/duplicates/cross-node"),
                        headers=province.headers(node, auth.OPERATOR), timeout=5)
    resp.raise_for_status()
    return resp.json()


def hub_keys(province) -> set[str]:
    engine = province.engine("hub", "reporting")
    try:
        with engine.connect() as conn:
            return set(conn.scalars(sa.text("SELECT DISTINCT person_key FROM registered_case")))
    finally:
        engine.dispose()


def node_keys(province, node, secret) -> set[str]:
    """What each person's key of ``node`` is under ``secret``."""
    engine = province.engine(node, "intake")
    try:
        with engine.connect() as conn:
            persons = conn.execute(sa.text("SELECT id, nik FROM person WHERE merged_into IS NULL")).all()
    finally:
        engine.dispose()
    return {person_key(secret, nik, node, person_id)[0] for person_id, nik in persons}


def test_the_hub_holds_no_person_key_and_still_finds_one_person_at_two_nodes(province):
    assert province.settings["hub"].person_key_secret is None
    assert all(province.settings[n].person_key_secret for n in NODES)
    province.register("6371", case_body(nik=BOTH))
    province.register("6303", case_body(nik=BOTH, regency="6303", kecamatan="630303"))
    wait_until(lambda: cross_node(province, "6371") and cross_node(province, "6303"), timeout=20,
               message="both nodes told of the person they share")
    assert province.summary()["unique_persons"] == 1


def test_after_a_key_rotation_the_nodes_re_announce_their_persons_and_the_hub_counts_stay_right(province):
    old = province.settings["6371"].person_key_secret
    assert province.register("6371", case_body(nik=BOTH)).status_code == 201
    assert province.register("6371", case_body(nik=None, name="Tanpa Identitas")).status_code == 201
    assert province.register("6303", case_body(nik=BOTH, regency="6303", kecamatan="630303")).status_code == 201
    assert province.register("6303", case_body(nik=ONLY_6303, regency="6303", kecamatan="630303", sex="female",
                                               name="Siti Aisyah")).status_code == 201
    wait_until(lambda: province.hub_cases() == 4 and cross_node(province, "6371") and cross_node(province, "6303"),
               timeout=20, message="4 cases and the shared person at the hub")
    assert province.summary()["unique_persons"] == 3

    new = "rotated-provincial-key-" + old[:16]
    for node in NODES:  # the province sets the new key everywhere, restarts, re-keys
        province.stop_runner(node)
        province.settings[node] = dataclasses.replace(province.settings[node], person_key_secret=new)
        province.start_runner(node)
    assert [rekey.rekey_node(province.settings[n]) for n in NODES] == [2, 2]
    assert [rekey.rekey_node(province.settings[n]) for n in NODES] == [0, 0]  # a second run changes nothing

    expected = node_keys(province, "6371", new) | node_keys(province, "6303", new)
    assert len(expected) == 3 and not expected & (node_keys(province, "6371", old) | node_keys(province, "6303", old))
    wait_until(lambda: hub_keys(province) == expected, timeout=20, message="the hub's cases under the new keys")
    summary = province.summary()
    assert (summary["total_cases"], summary["unique_persons"], summary["quarantined"]) == (4, 3, 0)
    # What the hub told the nodes about the person they share carries over to the new key.
    assert [m["other_nodes"] for m in cross_node(province, "6371")] == [["6303"]]
    assert [m["other_nodes"] for m in cross_node(province, "6303")] == [["6371"]]

    # A person registered after the rotation is compared under the new key: the hub finds them at 6303.
    assert province.register("6371", case_body(nik=ONLY_6303, sex="female", name="Siti Aisyah")).status_code == 201
    wait_until(lambda: len(cross_node(province, "6371")) == 2, timeout=20, message="the second shared person")
    summary = province.summary()
    assert (summary["total_cases"], summary["unique_persons"]) == (5, 3)


def test_rekey_refuses_the_hub_and_a_node_without_its_key(province):
    from rehsos import config

    with pytest.raises(config.ConfigError, match="the hub holds no person key"):
        rekey.rekey_node(province.settings["hub"])
    keyless = dataclasses.replace(province.settings["6371"], person_key_secret=None)
    with pytest.raises(config.ConfigError, match="person_key_secret is not set"):
        rekey.rekey_node(keyless)
