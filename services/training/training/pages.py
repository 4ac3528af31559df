"""Training's public page: anyone can check a certificate number without signing in."""
from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from rehsos import indonesian
from training.certificate import KIND_NAMES

_ENV = Environment(loader=PackageLoader("training", "templates"), autoescape=select_autoescape(["html"]))


def verification(number: str, certificate, *, node: str) -> str:
    context = {"number": number, "certificate": certificate, "office": indonesian.office_name(node)}
    if certificate is not None:
        participant_event = certificate.participant.event
        context.update(event=participant_event, kind=KIND_NAMES[participant_event.kind],
                       dates=indonesian.date_range(participant_event.start_date, participant_event.end_date),
                       issued_on=indonesian.long_date(certificate.issued_at.date()),
                       revoked_on=indonesian.long_date(certificate.revoked_at.date()) if certificate.revoked_at else None)
    return _ENV.get_template("verify.html").render(**context)
