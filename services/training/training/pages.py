"""Training's public page: anyone can check a certificate number without signing in."""
from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from rehsos import indonesian
from training.certificate import KIND_NAMES

# Inline, admitted by its hash in the page's Content-Security-Policy (rehsos.api.html_page).
STYLE = """body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
header{background:#0b5d3b;color:#fff;padding:1rem 1.5rem}header h1{margin:0;font-size:1.2rem}
main{padding:1rem 1.5rem;max-width:42rem}.card{background:#fff;border:1px solid #d5dbe3;padding:1.2rem}
.ok{border-left:6px solid #0b5d3b}.bad{border-left:6px solid #a12222}h2{margin-top:0}
dt{font-weight:600;margin-top:.6rem}dd{margin:0}"""
_ENV = Environment(loader=PackageLoader("training", "templates"), autoescape=select_autoescape(["html"]))


def verification(number: str, certificate, *, node: str) -> str:
    context = {"number": number, "certificate": certificate, "office": indonesian.office_name(node),
               "style": Markup(STYLE)}
    if certificate is not None:
        participant_event = certificate.participant.event
        context.update(event=participant_event, kind=KIND_NAMES[participant_event.kind],
                       dates=indonesian.date_range(participant_event.start_date, participant_event.end_date),
                       issued_on=indonesian.long_date(certificate.issued_at.date()),
                       revoked_on=indonesian.long_date(certificate.revoked_at.date()) if certificate.revoked_at else None)
    return _ENV.get_template("verify.html").render(**context)
