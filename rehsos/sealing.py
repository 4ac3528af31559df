"""Sealed boxes for a referral's dossier: readable by the receiving node only (issue 13).

A node's dossier key pair is Curve25519 (PyNaCl): the private key is the node's secret
configuration (``dossier_private_key``), every node's public key is part of the topology
(``node_public_keys``). The referring node seals the dossier with the receiving node's public key;
the hub relays bytes it cannot open, and nobody but the receiving node (not even the sender)
can open them again. Keys and sealed bytes travel as base64 text.
"""
from __future__ import annotations

import base64
import binascii
import json

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

KEY_BYTES = 32


class SealError(Exception):
    """A key that is not one, or sealed bytes this key cannot open. The message never carries
    the key or the contents."""


def _key_bytes(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError, AttributeError):
        raise SealError(f"the {what} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise SealError(f"the {what} is not a {KEY_BYTES}-byte Curve25519 key")
    return raw


def key_problem(text: str, what: str = "key") -> str | None:
    """Why ``text`` is not a base64 Curve25519 key, or None (for configuration checks)."""
    try:
        _key_bytes(text, what)
    except SealError as exc:
        return str(exc)
    return None


def new_key_pair() -> tuple[str, str]:
    """(private, public), base64."""
    private = PrivateKey.generate()
    return (base64.b64encode(bytes(private)).decode(), base64.b64encode(bytes(private.public_key)).decode())


def public_key_of(private_key: str) -> str:
    return base64.b64encode(bytes(PrivateKey(_key_bytes(private_key, "private key")).public_key)).decode()


def seal(public_key: str, document: dict) -> str:
    """``document`` as JSON, sealed for the holder of ``public_key``; base64."""
    box = SealedBox(PublicKey(_key_bytes(public_key, "public key")))
    plain = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return base64.b64encode(box.encrypt(plain)).decode()


def open_sealed(private_key: str, sealed: str) -> dict:
    """The document sealed for this private key; :class:`SealError` when it was sealed for another
    key, altered, or is not a sealed JSON object."""
    box = SealedBox(PrivateKey(_key_bytes(private_key, "private key")))
    try:
        raw = base64.b64decode(sealed.encode("ascii"), validate=True)
        document = json.loads(box.decrypt(raw))
    except (binascii.Error, ValueError, UnicodeError, CryptoError, TypeError):
        raise SealError("the sealed dossier cannot be opened with this node's key (sealed for another key, "
                        "or altered)") from None
    if not isinstance(document, dict):
        raise SealError("the sealed dossier is not a JSON object")
    return document
