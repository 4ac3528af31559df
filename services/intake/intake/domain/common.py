"""What every part of the register shares: who acts for which office, the audit log, name folding."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from intake.models import AuditEntry
from rehsos.auth import Principal
from rehsos.clock import now

SERVICE = "intake"
REFERENCE_VERSION = 1  # of the 26 PPKS categories (Permensos 8/2012 list as shipped in rehsos/data)


@dataclass(frozen=True)
class Access:
    """Who acts, and why (the purpose goes into the audit log)."""
    principal: Principal
    purpose: str


@dataclass(frozen=True)
class Office:
    """The node this intake serves, the provincial key for person hashes, and every node's public
    dossier key (``node_public_keys``: a referral's dossier is sealed for the facility's node)."""
    node: str
    secret: str
    public_keys: Mapping[str, str] = field(default_factory=dict)


def _refused(entry: AuditEntry) -> None:
    if entry.outcome == "ok":
        entry.outcome = "refused"


def audit(uow, access: Access, action: str, record_type: str, record_id: str, outcome: str = "ok") -> None:
    """Log an access to a personal record. The entry is kept even when the request then fails,
    marked ``refused``: an attempt is as much a fact for the audit as a success."""
    uow.add_durable(AuditEntry(at=now(), actor=access.principal.actor, role=access.principal.role, action=action,
                               record_type=record_type, record_id=record_id, purpose=access.purpose,
                               outcome=outcome), on_rollback=_refused)


# -- names -----------------------------------------------------------------------------------------
_TITLES = re.compile(r"\b(h|hj|hajah|haji|drs|dra|dr|ir|prof|s\.?pd|s\.?e|s\.?h|s\.?sos|amd|st)\b\.?")
_SPELLING = [(r"\b(muhammad|muhamad|mohammad|mohamad|mochammad|muhammat|moh|muh|mhd|m)\b", "muhammad"),
             (r"\b(noor|nor|nurul)\b", "nur"), (r"dj", "j"), (r"tj", "c"), (r"oe", "u"), (r"ch", "kh"),
             (r"sj", "sy")]


def name_key(name: str) -> str:
    """A name as matching should see it: titles dropped, old and variant spellings folded."""
    key = name.lower()
    key = _TITLES.sub(" ", key)
    for pattern, replacement in _SPELLING:
        key = re.sub(pattern, replacement, key)
    key = re.sub(r"[^a-z ]", " ", key)
    return re.sub(r"\s+", " ", key).strip()
