"""The service registry: the one place that names the platform's services.

Adding a service is one entry here: its name (also its database and the ``service`` of its
events), where its nameko class lives, whether it runs on every node or at the hub, and the
events it publishes and consumes. The runner, the migrations, the event envelope and the broker
topology all read this list; nothing else in the kernel names a service.

Only strings here: the kernel never imports a service.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

NODE = "node"
HUB = "hub"
# The hub asks a node's service to publish again what it missed (a gap in the stream); every node
# service that publishes consumes it, and the kernel's consumer answers it (rehsos.messaging).
RESEND = "stream.resend_requested"
# Events that carry personal data (of officials, or a referred person's dossier sealed for the
# receiving node) and go from one node to one other node only, on the direct route
# (``rehsos.contracts.routing_key``), past the hub's event exchange and consumers.
DOSSIER_SENT, DOSSIER_WITHDRAWN = "referral.dossier_sent", "referral.dossier_withdrawn"
DIRECT_EVENTS = frozenset({"training.nominated", "training.nomination_answered", DOSSIER_SENT, DOSSIER_WITHDRAWN})

# Every node service says now and then that it is alive and how much of its outbox still waits, so
# the hub can tell a quiet but connected node from a silent one (`heartbeat_interval`).
HEARTBEAT = "node.heartbeat"

# A facility's answers about a referral (*rujukan*), addressed back to the referring node, and the
# status each gives the referral.
REFERRAL_ANSWERS = {"referral.accepted": "accepted", "referral.rejected": "rejected",
                    "referral.waitlisted": "waitlisted", "admission.recorded": "admitted",
                    "discharge.recorded": "discharged"}


@dataclass(frozen=True)
class MenuEntry:
    """A page a node service offers in the node's menu, to the roles that may open it."""
    path: str
    label: str  # Indonesian: people read it
    roles: tuple[str, ...]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    entry: str  # "package.module:Class"
    site: str  # NODE (every office) or HUB (the provincial hub)
    publishes: tuple[str, ...] = ()
    # Event types taken from its inbound queue: for a node service the downlink (addressed to this
    # node or to all), for a hub service the uplink of every node (bound to everything).
    consumes: tuple[str, ...] = ()
    menu: tuple[MenuEntry, ...] = ()  # its pages in the node's menu (rehsos.pages.node_menu)

    @property
    def package(self) -> str:
        return self.entry.split(".", 1)[0]

    @property
    def database(self) -> str:
        """What replaces ``{service}`` in ``database_uri``: one database per service."""
        return self.name

    @property
    def migrations(self) -> str:
        """The package holding the service's Alembic ``env.py`` and ``versions/``."""
        return f"{self.package}.migrations"

    @property
    def queue(self) -> str | None:
        """The queue its consumed events arrive on (declared by the bootstrap)."""
        if self.site == HUB:
            return f"{self.name}.events"
        return f"{self.name}.downlink" if self.consumes else None

    def load(self) -> type:
        module, _, cls = self.entry.partition(":")
        return getattr(importlib.import_module(module), cls)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "intake", "intake.service:IntakeService", NODE,
        publishes=("person.registered", "person.identified", "case.opened", "case.stage_changed",
                   "assessment.completed", "referral.requested", "case.closed", "case.reopened",
                   "consent.withdrawn", DOSSIER_SENT, DOSSIER_WITHDRAWN, HEARTBEAT),
        consumes=("person.duplicate_detected", *REFERRAL_ANSWERS, RESEND),
        menu=(MenuEntry("/kasus", "Kasus", ("operator", "supervisor", "admin")),
              MenuEntry("/kasus/baru", "Daftarkan PPKS", ("operator", "admin")))),
    ServiceSpec(
        "facilities", "facilities.service:FacilitiesService", NODE,
        publishes=("facility.registered", "facility.updated", "capacity.changed", *REFERRAL_ANSWERS,
                   "plan.proposed", "plan.updated", HEARTBEAT),
        consumes=("referral.requested", DOSSIER_SENT, DOSSIER_WITHDRAWN, "capacity.changed", RESEND),
        menu=(MenuEntry("/panti", "Rujukan masuk dan hunian", ("facility_manager", "admin")),
              MenuEntry("/tempat-tidur", "Tempat tidur kosong", ("operator", "supervisor", "facility_manager", "admin")))),
    ServiceSpec(
        "training", "training.service:TrainingService", NODE,
        publishes=("training.event_changed", "training.summary", "training.nominated",
                   "training.nomination_answered", HEARTBEAT),
        consumes=("training.event_changed", "training.nominated", "training.nomination_answered", RESEND),
        menu=(MenuEntry("/pelatihan", "Pelatihan", ("trainer", "operator", "admin")),)),
    ServiceSpec(
        "reporting", "reporting.service:ReportingService", HUB,
        publishes=("person.duplicate_detected", RESEND)),
)
NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)


def get(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(f"no service {name!r} in the registry; services: {', '.join(NAMES)}")


def menu(roles: tuple[str, ...] | set[str]) -> tuple[MenuEntry, ...]:
    """The node's menu for a person with these roles, in the registry's order."""
    return tuple(entry for spec in at(NODE) for entry in spec.menu if set(entry.roles) & set(roles))


def at(site: str) -> tuple[ServiceSpec, ...]:
    """The services that run on a node (``NODE``) or at the hub (``HUB``)."""
    return tuple(s for s in SERVICES if s.site == site)


def publishes(service: str, event_type: str) -> bool:
    return event_type in get(service).publishes
