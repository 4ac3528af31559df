"""The facilities' pages (Bahasa Indonesia): the panti manager's inbox of referrals, occupancy by
unit, planned centres, and the province-wide directory of free beds that operators refer from.

Page view-models only: every rule stays in :mod:`facilities.domain` and every check of input in
:mod:`facilities.schemas`; the handlers in :mod:`facilities.service` call the same functions as
the JSON API and render what they return here.
"""
from __future__ import annotations

import uuid
from typing import Mapping
from urllib.parse import quote, urlencode


from rehsos import indonesian, reference
from rehsos.pages import Form, environment, whole_number

from facilities.domain import DELETED_BECAUSE, PLAN_ORDER
from facilities.schemas import AUTOMATIC_REJECTIONS

ENV = environment("facilities")

STATUS_NAMES = {"requested": "Menunggu keputusan", "waitlisted": "Daftar tunggu",
                "accepted": "Diterima, menunggu kedatangan", "rejected": "Ditolak",
                "expired": "Reservasi kedaluwarsa", "admitted": "Tinggal di panti", "discharged": "Sudah keluar"}
SEX_NAMES = {"male": "Laki-laki", "female": "Perempuan", "mixed": "Campuran"}
KIND_NAMES = {"panti": "Panti", "sentra": "Sentra", "lks": "LKS", "rumah_singgah": "Rumah Singgah"}
FACILITY_STATUS = {"operational": "Beroperasi", "temporarily_closed": "Tutup sementara", "planned": "Direncanakan"}
OUTCOME_NAMES = {"positive": "Positif: tujuan rehabilitasi tercapai", "neutral": "Netral",
                 "negative": "Negatif: tujuan tidak tercapai"}
PLAN_STATUS = {"usulan": "Usulan", "disetujui": "Disetujui", "dibangun": "Dibangun", "beroperasi": "Beroperasi"}
RISK_NAMES = {"low": "Rendah", "medium": "Sedang", "high": "Tinggi"}

# What a redirect after a form says (``?pesan=...``): keys, never text from the address.
MESSAGES = {
    "diterima": "Rujukan diterima; satu tempat tidur dipesan untuk orang yang dirujuk.",
    "ditolak": "Rujukan ditolak; kantor perujuk diberi tahu alasannya dan dossier dihapus.",
    "daftar-tunggu": "Rujukan masuk daftar tunggu; kantor perujuk diberi tahu posisinya.",
    "masuk": "Kedatangan dicatat: orang yang dirujuk kini tinggal di panti.",
    "keluar": "Kepulangan dicatat: tempat tidur kosong kembali dan dossier dihapus.",
    "rencana-baru": "Rencana pusat rehabilitasi diusulkan.",
    "rencana-diubah": "Rencana pusat rehabilitasi diperbarui.",
}

FORM_LABELS = {"unit": "Unit", "reserved_days": "Lama pemesanan (hari)", "reason_code": "Alasan penolakan",
               "note": "Catatan", "admitted_on": "Tanggal masuk", "discharged_on": "Tanggal keluar",
               "outcome": "Hasil", "regency": "Kabupaten/Kota", "name": "Nama", "kind": "Jenis",
               "categories": "Kategori PPKS", "planned_capacity": "Kapasitas rencana",
               "target_year": "Tahun target", "status": "Status", "category": "Kategori PPKS",
               "sex": "Jenis kelamin", "kasus": "Kasus"}


def flash(request) -> str | None:
    return MESSAGES.get(request.args.get("pesan", ""))


def refused(values: Mapping, messages: Mapping | None) -> Form:
    """A form refused by the schema or the domain; a change schema's ``_body`` belongs to no field."""
    messages = dict(messages or {})
    if "_body" in messages:
        messages["_schema"] = messages.pop("_body")
    return Form.refused(values, messages)


def age_in_words(seconds: int | float) -> str:
    """``baru saja``, ``12 menit lalu``, ``3 jam lalu``, ``9 hari lalu``."""
    for unit, size in (("hari", 86400), ("jam", 3600), ("menit", 60)):
        if seconds >= size:
            return f"{indonesian.number(int(seconds // size))} {unit} lalu"
    return "baru saja"


def short(referral_id: str) -> str:
    """How a page names a referral (it carries no name: the person's identity stays at the referring node)."""
    return referral_id[:8]


def category_name(code: str) -> str:
    category = reference.PPKS_CATEGORIES.get(code)
    return category.name_id if category else code


def category_options() -> list[tuple[str, str]]:
    return [(code, c.name_id) for code, c in reference.PPKS_CATEGORIES.items()]


def regency_options(codes=None) -> list[tuple[str, str]]:
    return [(code, indonesian.region_label(code)) for code in (codes or reference.REGENCIES)]


ENV.filters.update(kategori=category_name, kelamin=lambda v: SEX_NAMES.get(v, v or "-"),
                   status_rujukan=lambda v: STATUS_NAMES.get(v, v), singkat=short,
                   jenis=lambda v: KIND_NAMES.get(v, v), kantor=indonesian.office_name,
                   hasil=lambda v: OUTCOME_NAMES.get(v, v or "-"), rencana=lambda v: PLAN_STATUS.get(v, v),
                   status_fasilitas=lambda v: FACILITY_STATUS.get(v, v))
ENV.globals.update(FORM_LABELS=FORM_LABELS, RISK_NAMES=RISK_NAMES, ATENSI=reference.ATENSI_COMPONENTS)


# -- the inbox and occupancy ------------------------------------------------------------------------
def facility_beds(view: dict, units: list[dict]) -> dict:
    """A facility with its units' beds, as the occupancy table shows it."""
    return dict(view, units=[dict(u, full=u["free"] == 0) for u in units])


def inbox(referrals: list, positions: Mapping[str, int]) -> dict[str, list]:
    """The referrals of the node's facilities, by what the manager does next."""
    groups: dict[str, list] = {"requested": [], "waitlisted": [], "accepted": [], "admitted": [], "closed": []}
    for referral in referrals:
        groups.get(referral.status, groups["closed"]).append(referral)
    groups["waitlisted"].sort(key=lambda r: (r.facility_code, positions.get(r.referral_id, 0)))
    groups["closed"] = sorted(groups["closed"], key=lambda r: r.decided_at or r.received_at, reverse=True)[:20]
    return groups


# -- the directory ----------------------------------------------------------------------------------
def case_id(value: str | None) -> str | None:
    """The case an operator refers from (``?kasus=``), when it is one."""
    if not value:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def refer_link(case: str, facility_id: str) -> str:
    """The intake page that refers the case to this facility."""
    return f"/kasus/{quote(case)}/rujuk?{urlencode({'fasilitas': facility_id})}"


def directory_rows(answers: list[dict], case: str | None) -> list[dict]:
    return [dict(a, age=age_in_words(a["age_seconds"]), kind_name=KIND_NAMES.get(a["kind"], a["kind"]),
                 refer=refer_link(case, a["facility_id"]) if case else None) for a in answers]


# -- a referral's page ------------------------------------------------------------------------------
def referral_forms(today, refused_forms: Mapping[str, Form] | None = None) -> dict[str, Form]:
    """The forms a referral's page may show, with what a refused one was given."""
    forms = {"accept": Form({"reserved_days": 3}), "reject": Form(), "waitlist": Form(),
             "admit": Form({"admitted_on": today.isoformat()}),
             "discharge": Form({"discharged_on": today.isoformat()})}
    return {**forms, **(refused_forms or {})}


REJECTION_OPTIONS = [(code, text) for code, text in reference.REJECTION_REASONS.items()
                     if code not in AUTOMATIC_REJECTIONS]


def unit_options(units: list[dict]) -> list[tuple[str, str]]:
    return [(u["unit"], f"{u['unit']} ({SEX_NAMES[u['sex']].lower()}, {indonesian.number(u['free'])} tempat kosong)")
            for u in units]


def dossier_state(row) -> dict | None:
    """Whether the dossier is kept, or when and why it was deleted; never its sealed bytes."""
    if row is None:
        return None
    return {"kept": row.sealed is not None, "deleted_at": row.deleted_at,
            "reason": DELETED_BECAUSE.get(row.deleted_reason, row.deleted_reason)}


def api_shape(values: Mapping[str, str], numbers: tuple[str, ...] = ()) -> dict:
    """A form's fields as the API's body: numbers as numbers."""
    return {k: whole_number(v) if k in numbers else v for k, v in values.items()}


OUTCOME_OPTIONS = list(OUTCOME_NAMES.items())
SEX_OPTIONS = [("male", "Laki-laki"), ("female", "Perempuan")]
KIND_OPTIONS = list(KIND_NAMES.items())


def plan_status_options(current: str) -> list[tuple[str, str]]:
    """A plan moves forward only: its status now and those after it."""
    return [(s, PLAN_STATUS[s]) for s in PLAN_ORDER[PLAN_ORDER.index(current):]]
