"""Sealed boxes (rehsos.sealing): what one node seals for another, only that node opens."""
import base64

import pytest

from rehsos import sealing

DOSSIER = {"name": "Muhammad Rizky", "nik": "6371051203850001", "birth_date": "1985-03-12",
           "guardian": {"name": "Hj. Aisyah", "phone": "081234567890"}}


@pytest.fixture(scope="module")
def keys():
    return sealing.new_key_pair()


def test_what_is_sealed_for_a_key_opens_with_its_private_key_unchanged(keys):
    private, public = keys
    assert sealing.public_key_of(private) == public
    sealed = sealing.seal(public, DOSSIER)
    assert sealing.open_sealed(private, sealed) == DOSSIER


def test_the_sealed_text_carries_none_of_the_values(keys):
    sealed = sealing.seal(keys[1], DOSSIER)
    raw = base64.b64decode(sealed)
    for value in ("Muhammad Rizky", "6371051203850001", "1985-03-12", "081234567890"):
        assert value not in sealed and value.encode() not in raw
    assert sealing.seal(keys[1], DOSSIER) != sealed  # a fresh ephemeral key each time


def test_another_nodes_key_cannot_open_it_and_says_so_without_the_values(keys):
    other_private, _ = sealing.new_key_pair()
    with pytest.raises(sealing.SealError) as refused:
        sealing.open_sealed(other_private, sealing.seal(keys[1], DOSSIER))
    assert "Rizky" not in str(refused.value) and other_private not in str(refused.value)


@pytest.mark.parametrize("tamper", [
    lambda s: s[:-8] + ("A" * 8 if not s.endswith("A" * 8) else "B" * 8),  # altered bytes
    lambda s: s[:40],                                                       # cut short
    lambda s: "not base64 at all!",
    lambda s: "",
])
def test_altered_or_foreign_sealed_text_is_refused(keys, tamper):
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(keys[0], tamper(sealing.seal(keys[1], DOSSIER)))


def test_a_sealed_value_that_is_not_an_object_is_refused(keys):
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(keys[0], sealing.seal(keys[1], ["a", "list"]))


@pytest.mark.parametrize("text", ["", "abc", base64.b64encode(b"x" * 31).decode(), "é" * 44, None])
def test_a_key_that_is_not_one_is_named_as_such_and_never_echoed(text):
    problem = sealing.key_problem(text, "dossier private key")
    assert problem and "dossier private key" in problem
    assert not text or text not in problem
    with pytest.raises(sealing.SealError):
        sealing.seal(text, DOSSIER)
