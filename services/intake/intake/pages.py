"""Intake's pages (Bahasa Indonesia): the caseload, registering a person with their case, a case
with its timeline and forms, and referring from the directory of free beds.

The handlers in :mod:`intake.service` stay thin: they read a form here into the shape the JSON
API takes (lists from repeated fields, numbers, per-component needs), load it through the API's
own schema and call the same domain function. What is here: those conversions, the names a person
reads for the codes the API speaks, and the view of a case page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from intake.domain.cases import TRANSITIONS
from rehsos import reference
from rehsos.pages import Form, environment, whole_number

ENV = environment("intake")
PURPOSE = "halaman kasus"  # the purpose every read and write through these pages logs in the audit

# -- names of the codes ----------------------------------------------------------------------------
SEXES = (("male", "Laki-laki"), ("female", "Perempuan"))
SEX_NAMES = dict(SEXES)
STATUS_NAMES = {"open": "Terbuka", "closure_requested": "Menunggu persetujuan penutupan", "closed": "Ditutup"}
STAGE_NAMES = {s["code"]: s["name_id"] for s in reference.REHAB_STAGES}
ATENSI = tuple(reference.ATENSI_COMPONENTS.items())
RISKS = (("low", "Rendah"), ("medium", "Sedang"), ("high", "Tinggi"))
OUTCOMES = (("positive", "Positif (tujuan tercapai)"), ("neutral", "Netral"), ("negative", "Negatif"))
PURPOSES = (("registration", "Pendaftaran"), ("assessment", "Asesmen dan layanan"), ("referral", "Rujukan"),
            ("data_sharing", "Berbagi data"))
LEGAL_BASES = (("consent", "Persetujuan"), ("contract", "Perjanjian"), ("legal_obligation", "Kewajiban hukum"),
               ("vital_interest", "Kepentingan vital"), ("public_task", "Tugas pelayanan publik"),
               ("legitimate_interest", "Kepentingan yang sah"))
GIVERS = (("person", "Orang yang bersangkutan"), ("guardian", "Wali"))
REFERRAL_STATUS = {"requested": "Menunggu jawaban panti", "accepted": "Diterima (tempat tidur dipesan)",
                   "rejected": "Ditolak", "waitlisted": "Masuk daftar tunggu", "admitted": "Sudah masuk panti",
                   "discharged": "Sudah keluar panti"}
KIND_NAMES = {"panti": "Panti", "sentra": "Sentra", "lks": "LKS", "rumah_singgah": "Rumah Singgah"}
# The directory marks a facility's beds as old after a week without a snapshot, as the hub's pages do;
# an answer that says itself whether it is stale (``stale``) is believed instead.
STALE_SECONDS = 7 * 24 * 3600
DIRECTORY_TIMEOUT_SECONDS = 5

FIELD_LABELS = {
    "name": "Nama", "nik": "NIK", "sex": "Jenis kelamin", "birth_date": "Tanggal lahir",
    "estimated_age": "Perkiraan umur", "regency": "Kabupaten/kota", "kecamatan": "Kecamatan", "desa": "Desa/kelurahan",
    "address": "Alamat", "phone": "Nomor telepon", "categories": "Kategori lain", "disabilities": "Ragam disabilitas",
    "guardian_name": "Nama wali", "guardian_relationship": "Hubungan wali", "guardian_phone": "Telepon wali",
    "category": "Kategori PPKS kasus", "worker": "Pekerja sosial", "q": "Nama", "stage": "Tahap", "status": "Status",
    "purpose": "Tujuan", "legal_basis": "Dasar hukum", "given_by": "Diberikan oleh", "recorded_on": "Tanggal",
    "note": "Catatan", "needs": "Kebutuhan", "risk_level": "Tingkat risiko", "recommendation": "Rekomendasi",
    "components": "Komponen", "responsible_worker": "Pekerja sosial penanggung jawab", "target_dates": "Target",
    "component": "Komponen", "delivered_on": "Tanggal layanan", "description": "Uraian layanan",
    "reason": "Alasan", "outcome": "Hasil", "approve": "Keputusan", "facility": "Fasilitas",
    "facility_id": "Kode fasilitas", "facility_node": "Node fasilitas", "consent_override": "Alasan tanpa persetujuan",
}


def categories() -> dict[str, list[tuple[str, str]]]:
    """The 26 PPKS categories by group, for a select with optgroups."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for c in reference.PPKS_CATEGORIES.values():
        groups.setdefault(c.group.replace("_", " ").capitalize(), []).append((c.code, f"{c.no}. {c.name_id}"))
    return groups


def category_name(code: str | None) -> str:
    category = reference.PPKS_CATEGORIES.get(code or "")
    return category.name_id if category else (code or "-")


def kecamatan_options(node: str) -> list[tuple[str, str]]:
    """The office's own kecamatan (the province's every one), by name; the code is what is sent."""
    return [(code, name) for code, name in reference.kecamatan_of(node).items()]


def regency_options() -> list[tuple[str, str]]:
    return [(code, f"{r.kind.capitalize()} {r.name}") for code, r in reference.REGENCIES.items()]


def node_options() -> list[tuple[str, str]]:
    return [(n, f"{n} — {reference.region_name(n)}") for n in reference.NODES]


def disability_options() -> list[tuple[str, str]]:
    return [(code, d["name_id"]) for code, d in reference.DISABILITY_TYPES.items()]


def next_stages(stage: str) -> list[tuple[str, str]]:
    """Where a case may move by hand (terminasi only through an approved closure)."""
    return [(s, STAGE_NAMES[s]) for s in reference.STAGES if s in TRANSITIONS.get(stage, ()) and s != "terminasi"]


# -- forms into the API's shape --------------------------------------------------------------------
def registration(fields: Mapping[str, str], form, regency: str) -> dict:
    """The registration form as ``POST /api/v1/cases`` takes it; the regency is the office's."""
    data = {k: v for k, v in fields.items() if k in CASE_REGISTRATION_FIELDS and k != "regency"}
    if regency:
        data["regency"] = regency
    if "estimated_age" in data:
        data["estimated_age"] = whole_number(data["estimated_age"])
    data["categories"] = [c for c in form.getlist("categories") if c]
    data["disabilities"] = [d for d in form.getlist("disabilities") if d]
    return data


CASE_REGISTRATION_FIELDS = ("regency", "name", "nik", "sex", "birth_date", "estimated_age", "kecamatan", "desa", "address",
                            "phone", "guardian_name", "guardian_relationship", "guardian_phone", "category", "worker")


def kept(fields: Mapping[str, str], form) -> dict:
    """What was typed, to show again: single fields as typed, repeated ones (checkboxes) as lists."""
    values: dict[str, Any] = dict(fields)
    for name in ("categories", "disabilities", "components"):
        values[name] = [v for v in form.getlist(name) if v]
    return values


def picked(fields: Mapping[str, str], *names: str) -> dict:
    return {k: fields[k] for k in names if k in fields}


def assessment(fields: Mapping[str, str]) -> dict:
    """``needs.<component>`` fields into the API's ``needs`` object; empty components left out."""
    data = picked(fields, "risk_level", "recommendation")
    data["needs"] = {k.split(".", 1)[1]: v for k, v in fields.items() if k.startswith("needs.") and v.strip()}
    return data


def plan(fields: Mapping[str, str], form) -> dict:
    data = picked(fields, "responsible_worker")
    data["components"] = [c for c in form.getlist("components") if c]
    data["target_dates"] = {k.split(".", 1)[1]: v for k, v in fields.items() if k.startswith("target.")}
    return data


def closure_decision(fields: Mapping[str, str]) -> dict:
    data = picked(fields, "note")
    if "approve" in fields:
        data["approve"] = {"ya": True, "tidak": False}.get(fields["approve"], fields["approve"])
    return data


def referral(fields: Mapping[str, str]) -> dict:
    """The facility chosen (``node/facility``) or typed (code and node), and any override."""
    data = picked(fields, "consent_override", "facility_id", "facility_node")
    if "facility" in fields:
        node, _, facility = fields["facility"].partition("/")
        data.update(facility_id=facility, facility_node=node)
    return data


def refused(values: Mapping[str, Any], messages: Mapping) -> Form:
    """A form refused by the API's schema or a domain rule; a component's need or target date
    (``needs.<code>.value``) shows beside its own field."""
    form = Form.refused(values, messages)
    errors: dict[str, list[str]] = {}
    for name, texts in form.errors.items():
        parts = name.split(".")
        if parts[0] in ("needs", "target_dates") and len(parts) >= 2:
            name = ("needs." if parts[0] == "needs" else "target.") + parts[1]
        elif name in ("facility_id", "facility_node") and values.get("cara") != "kode":
            name = "facility"
        errors.setdefault(name, []).extend(texts)
    return Form(values=form.values, errors=errors)


# -- the directory of free beds --------------------------------------------------------------------
def age_text(seconds: float | None) -> str:
    """``45 detik``, ``12 menit``, ``3 jam``, ``9 hari``."""
    if seconds is None:
        return "tidak diketahui"
    for unit, size in (("hari", 86400), ("jam", 3600), ("menit", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} detik"


def directory_rows(answers: list[dict]) -> list[dict]:
    """Each facility with its free beds, how old its data is in words, and whether it is old."""
    return [{**a, "choice": f"{a['node']}/{a['facility_id']}", "kind_name": KIND_NAMES.get(a["kind"], a["kind"]),
             "age": age_text(a.get("age_seconds")),
             "stale": bool(a["stale"]) if "stale" in a else (a.get("age_seconds") or 0) > STALE_SECONDS}
            for a in answers]


# -- the case page ---------------------------------------------------------------------------------
CASE_FORMS = ("guardian", "consent", "withdrawal", "assessment", "plan", "service", "stage", "closure", "decision", "reopen")


@dataclass
class CaseForms:
    """Every form of the case page; the one just refused carries its messages and what was typed."""
    forms: dict[str, Form] = field(default_factory=lambda: {name: Form() for name in CASE_FORMS})

    @classmethod
    def with_refused(cls, name: str, form: Form) -> "CaseForms":
        forms = cls()
        forms.forms[name] = form
        return forms

    def __getattr__(self, name: str) -> Form:
        try:
            return self.forms[name]
        except KeyError:
            raise AttributeError(name) from None


def timeline_text(kind: str, detail: Mapping[str, Any]) -> str:
    """One line of a case's timeline, in words."""
    d = detail
    stage = STAGE_NAMES.get
    texts = {
        "opened": lambda: f"Kasus dibuka: {category_name(d.get('category'))}, tahap {stage(d.get('stage'), '-')}",
        "stage_changed": lambda: f"Tahap berpindah dari {stage(d.get('from_stage'), d.get('from_stage'))} "
                                 f"ke {stage(d.get('to_stage'), d.get('to_stage'))}"
                                 + (f" ({d['note']})" if d.get("note") else ""),
        "assessment": lambda: f"Asesmen dicatat: risiko {dict(RISKS).get(d.get('risk_level'), '-')}, kebutuhan "
                              + ", ".join(reference.ATENSI_COMPONENTS.get(n, n) for n in d.get("needs", [])),
        "plan": lambda: "Rencana intervensi: " + ", ".join(reference.ATENSI_COMPONENTS.get(c, c)
                                                            for c in d.get("components", []))
                        + (f"; penanggung jawab {d['worker']}" if d.get("worker") else ""),
        "service": lambda: f"Layanan {reference.ATENSI_COMPONENTS.get(d.get('component'), d.get('component'))} "
                           f"oleh {d.get('worker', '-')}",
        "closure_requested": lambda: f"Penutupan diajukan ({dict(OUTCOMES).get(d.get('outcome'), '-')}): "
                                     f"{d.get('reason', '')}",
        "closure_rejected": lambda: "Pengajuan penutupan ditolak supervisor"
                                    + (f": {d['note']}" if d.get("note") else ""),
        "closed": lambda: "Kasus ditutup (disetujui supervisor)" + (f": {d['note']}" if d.get("note") else ""),
        "reopened": lambda: f"Kasus dibuka kembali: {d.get('reason', '')}",
        "referral_requested": lambda: f"Dirujuk ke {d.get('facility_id')} (node {d.get('facility_node')})"
                                      + (" tanpa persetujuan, dengan alasan supervisor" if d.get("consent_override")
                                         else ""),
        "dossier_sent": lambda: f"Berkas orang dikirim tersegel, hanya untuk node {d.get('facility_node')}",
        "dossier_not_sent": lambda: f"Berkas orang tidak dikirim ke node {d.get('facility_node')} "
                                    "(kunci publik node itu tidak ada)",
        "dossier_withdrawn": lambda: f"Berkas orang ditarik dari node {d.get('facility_node')} "
                                     "(persetujuan rujukan dicabut)",
        "person_merged": lambda: "Data orang digabung dengan catatan lain",
        "referral_accepted": lambda: f"Rujukan diterima oleh {d.get('facility_id')}"
                                     + (f", tempat dipesan sampai {d['reserved_until']}" if d.get("reserved_until")
                                        else ""),
        "referral_rejected": lambda: f"Rujukan ditolak oleh {d.get('facility_id')}: " + (
            reference.REJECTION_REASONS.get(d["reason_code"], d["reason_code"]) if d.get("reason_code")
            else d.get("reason", "-")),
        "referral_waitlisted": lambda: f"Rujukan masuk daftar tunggu {d.get('facility_id')}"
                                       + (f", urutan {d['position']}" if d.get("position") else ""),
        "admission_recorded": lambda: f"Masuk panti {d.get('facility_id')}"
                                      + (f" pada {d['admitted_on']}" if d.get("admitted_on") else ""),
        "discharge_recorded": lambda: f"Keluar dari panti {d.get('facility_id')}"
                                      + (f" pada {d['discharged_on']}" if d.get("discharged_on") else ""),
    }
    return texts[kind]() if kind in texts else kind.replace("_", " ").capitalize()


def referral_rows(referrals) -> list[dict]:
    return [{"id": r.id, "facility_id": r.facility_id, "facility_node": r.facility_node, "status": r.status,
             "status_name": REFERRAL_STATUS.get(r.status, r.status), "note": r.answer_note,
             "requested_at": r.requested_at, "answered_at": r.answered_at} for r in referrals]


def consent_rows(records) -> list[dict]:
    purposes, givers, bases = dict(PURPOSES), dict(GIVERS), dict(LEGAL_BASES)
    return [{"purpose": purposes.get(r.purpose, r.purpose), "status": "diberikan" if r.status == "given" else "dicabut",
             "given_by": givers.get(r.given_by, r.given_by), "legal_basis": bases.get(r.legal_basis, r.legal_basis),
             "recorded_on": r.recorded_on, "recorded_by": r.recorded_by, "note": r.note} for r in records]


def consent_now(records) -> dict[str, str]:
    """Per purpose, the latest record's status (``given`` or ``withdrawn``)."""
    latest: dict[str, str] = {}
    for r in records:
        latest[r.purpose] = r.status
    return latest


def withdrawable(latest: Mapping[str, str]) -> list[tuple[str, str]]:
    """The purposes whose consent is given now, the only ones that can be withdrawn."""
    return [(code, name) for code, name in PURPOSES if latest.get(code) == "given"]
