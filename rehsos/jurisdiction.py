"""Who may speak for a regency: a regency office for its own, the province (``63``) for any.

The one check, in the two places it is made: a request at a node (an operator registering a
person or a facility elsewhere gets a 422 naming the field) and an event arriving from another
node (a node speaking outside its regency is quarantined).
"""
from __future__ import annotations

from rehsos import reference
from rehsos.errors import Invalid, RefusedEvent


# How the OpenAPI document states the request check (``@api(rules=...)``).
REQUEST_RULE = {"regency": "a regency this node serves: its own, or any at the province's node (63)"}


def serves(node: str, regency: str) -> bool:
    return regency in reference.regions_served_by(node)


def require_for_request(node: str, regency: str, what: str, field: str = "regency") -> None:
    """``what``: what the office registers there, in Indonesian (``orang``, ``fasilitas``)."""
    if not serves(node, regency):
        raise Invalid({field: [f"Node {node} hanya mendaftarkan {what} di wilayahnya sendiri, bukan {regency}."]})


def require_for_event(event, regency: str, what: str) -> None:
    """``what``: what the event reports (``a case``, ``a facility``), for the quarantine record."""
    if not serves(event.node, regency):
        raise RefusedEvent(f"node {event.node} reported {what} in region {regency}, outside its jurisdiction")
