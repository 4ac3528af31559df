"""The node's pages (Bahasa Indonesia), the kit every node service renders them with.

A page is a Jinja2 template of the service (its ``templates/`` folder) that extends
``kit/base.html``: header, the node's menu for the person signed in (each service's entries come
from :mod:`rehsos.registry`), the sign-out form, and one stylesheet, inline so a page is a single
request on a slow office link, admitted by its hash in the page's Content-Security-Policy. No
script: every form works without JavaScript, on an old office PC or a phone.

Forms post ``application/x-www-form-urlencoded`` to the page's own address; the handler checks the
session's CSRF token (:func:`submitted`), loads the fields through the same marshmallow schema as
the API and, when that refuses them, renders the form again with every message next to its field
and what was typed kept (:class:`Form`), status 422.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Mapping

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from marshmallow import ValidationError
from werkzeug.wrappers import Request, Response

from rehsos import auth, clock, indonesian, registry
from rehsos.api.errors import ApiError
from rehsos.api.sessions import CSRF_FIELD, html_page, require_csrf

NO_DATA = "tidak ada data"

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa;line-height:1.45}
a{color:#0b4f8a}a:focus,button:focus,input:focus,select:focus,textarea:focus,summary:focus,[tabindex]:focus{outline:3px solid #b35900;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;color:#0b4f8a;padding:.5rem}.skip:focus{left:.5rem}
header{background:#0b5d3b;color:#fff;padding:.8rem 1.5rem}header .site{margin:0;font-size:1.05rem;font-weight:600}
header a{color:#fff}
nav.main{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center;margin-top:.5rem}
nav.main ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem}
nav.main a[aria-current=page]{font-weight:700;text-decoration-thickness:3px}
nav.main form{margin:0 0 0 auto}nav.main button{background:none;border:1px solid #fff;color:#fff;padding:.3rem .8rem}
main{padding:1rem 1.5rem;max-width:72rem}
h1{font-size:1.5rem;margin:.6rem 0}h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
button,.button{font:inherit;padding:.45rem 1rem;cursor:pointer;background:#0b5d3b;color:#fff;border:1px solid #0b5d3b;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#fff;color:#0b5d3b}
form.card,section.card{background:#fff;border:1px solid #d5dbe3;padding:1rem 1.2rem;margin:.8rem 0;max-width:44rem}
.field{margin:.7rem 0}.field label,.field legend{display:block;font-weight:600}
.field input[type=text],.field input[type=date],.field input[type=number],.field input[type=password],.field input[type=tel],.field input[type=email],.field input[type=time],.field input[type=file],.field select,.field textarea{font:inherit;width:100%;max-width:32rem;padding:.45rem;border:1px solid #5a6573;background:#fff}
.field textarea{min-height:5rem}.field fieldset{border:0;padding:0;margin:0}.field .opt{font-weight:400;display:inline-block;margin-right:1rem}
.field .hint{color:#4a5563;font-size:.9rem;margin:.1rem 0}
.field.invalid input,.field.invalid select,.field.invalid textarea{border:2px solid #a12222}
.field .error{color:#a12222;font-weight:600;margin:.2rem 0}
.errors{background:#fff;border:2px solid #a12222;padding:.6rem 1rem;margin:1rem 0}.errors h2{margin-top:0;color:#a12222}
.flash{background:#e6f4ea;border:1px solid #0b5d3b;padding:.6rem 1rem;margin:1rem 0}
.note{color:#4a5563;font-size:.92rem}.warn{color:#a12222;font-weight:600}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;background:#fff;margin:.3rem 0 1rem;font-size:.92rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #d5dbe3;padding:.35rem .6rem;text-align:left;vertical-align:top}
thead th{background:#e8eef4}td.n{text-align:right;font-variant-numeric:tabular-nums}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;background:#fff;border:1px solid #d5dbe3;padding:.8rem 1rem;max-width:44rem}
dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere;min-width:0}
form.inline{display:inline}.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.pager{display:flex;gap:1rem;margin:.5rem 0}
footer{padding:1rem 1.5rem;color:#4a5563;font-size:.88rem}
fieldset{min-width:0}
@media (max-width:40rem){main{padding:.8rem}th,td{padding:.3rem}dl.facts{grid-template-columns:minmax(0,1fr)}dl.facts dd{margin-bottom:.4rem}}
"""


# -- Indonesian formats, as template filters ------------------------------------------------------
def _number(value, decimals: int = 0) -> str:
    return NO_DATA if value is None else indonesian.number(value, decimals)


def _moment(value: str | datetime | None) -> str:
    """``26 November 2026 pukul 14.05 WITA``."""
    if not value:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(clock.WITA)
    return f"{indonesian.long_date(local.date())} pukul {local:%H.%M} WITA"


def _day(value: str | date | None) -> str:
    if not value:
        return "-"
    return indonesian.long_date(date.fromisoformat(value) if isinstance(value, str) else value)


# Numbers, moments, days, months and regions the Indonesian way, for every page's templates.
FILTERS = {"angka": _number, "waktu": _moment, "tanggal": _day, "bulan": indonesian.month_name,
           "wilayah": indonesian.region_label}


def environment(package: str) -> Environment:
    """A service's template environment: its own ``templates/`` first, then the kit's."""
    env = Environment(loader=ChoiceLoader([PackageLoader(package, "templates"), PackageLoader("rehsos.pages", "templates")]),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    env.globals.update(NO_DATA=NO_DATA, CSRF_FIELD=CSRF_FIELD)
    return env


# -- forms ------------------------------------------------------------------------------------------
@dataclass
class Form:
    """What a form shows: the values typed (kept when refused) and, per field, what is wrong."""
    values: Mapping[str, Any] = field(default_factory=dict)
    errors: Mapping[str, list[str]] = field(default_factory=dict)

    @classmethod
    def refused(cls, values: Mapping[str, Any], messages: Mapping) -> "Form":
        """From marshmallow's messages; nested ones (``guardian.phone``) flattened to dotted names."""
        return cls(values=values, errors=flatten_errors(messages))

    def value(self, name: str, default: Any = "") -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def error(self, name: str) -> list[str]:
        return list(self.errors.get(name, ()))

    @property
    def invalid(self) -> bool:
        return bool(self.errors)


def refusal(exc: Exception) -> tuple[int, dict]:
    """A refused form's status and per-field messages: the schema's (422), or the domain's (409
    with its message beside the fields it names, and above the form)."""
    if isinstance(exc, ValidationError):
        return 422, exc.messages
    if isinstance(exc, ApiError):
        fields = dict(exc.fields or {})
        if exc.status != 422 or not fields:
            fields["_schema"] = [exc.message, *fields.get("_schema", [])]
        return exc.status, fields
    raise exc


def flatten_errors(messages: Mapping | list | str, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(messages, str):
        return {prefix or "_schema": [messages]}
    if isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            return {prefix or "_schema": list(messages)}
        out: dict[str, list[str]] = {}
        for item in messages:
            for k, v in flatten_errors(item, prefix).items():
                out.setdefault(k, []).extend(v)
        return out
    out = {}
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        for k, v in flatten_errors(value, name).items():
            out.setdefault(k, []).extend(v)
    return out


_WHOLE = re.compile(r"[+-]?[0-9]{1,10}")


def whole_number(value: Any) -> Any:
    """A form's digits as the integer the API's strict field wants; anything else as typed (None
    included), for the schema to refuse with its own message."""
    return int(value) if isinstance(value, str) and _WHOLE.fullmatch(value.strip()) else value


def see_other(location: str, message: str | None = None) -> Response:
    """Post/redirect/get: the record's page, with what was done named by ``?pesan=`` for its flash."""
    target = f"{location}{'&' if '?' in location else '?'}pesan={message}" if message else location
    return Response(status=303, headers={"Location": target, "Cache-Control": "no-store"})


def submitted(request: Request) -> dict[str, str]:
    """The fields of a page's form, once its CSRF token matched the session's; empty fields are
    left out (an empty input means "not given", as an absent JSON key does)."""
    session = request.web_session
    if session is None:  # a bearer token cannot submit a page's form: forms are for sessions
        raise auth.Forbidden("Formulir hanya dapat dikirim dari halaman setelah masuk.")
    form = request.form
    require_csrf(form, session)
    return {k: v for k, v in form.items() if k != CSRF_FIELD and v.strip() != ""}


# -- rendering --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Viewer:
    """Who looks at a page: for the menu, the sign-out form and what the page offers them."""
    user: str
    role: str
    node: str
    csrf: str | None

    @classmethod
    def of(cls, request: Request, node: str) -> "Viewer":
        principal = request.principal
        session = request.web_session
        return cls(user=principal.user, role=principal.role, node=node, csrf=session.csrf if session else None)

    def may(self, *roles: str) -> bool:
        return self.role in roles


def render(env: Environment, template: str, *, viewer: Viewer | None, path: str, title: str,
           status: int = 200, **context) -> Response:
    """A page of the node: the template with the menu and the sign-out form of ``viewer``."""
    menu = registry.menu((viewer.role,)) if viewer else ()
    office = indonesian.office_name(viewer.node) if viewer else ""
    html = env.get_template(template).render(viewer=viewer, menu=menu, path=path, title=title, office=office,
                                             style=STYLE, **context)
    return html_page(html, status, styles=(STYLE,))
