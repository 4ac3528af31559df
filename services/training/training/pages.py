"""Training's pages: the public certificate check, and the trainer's pages at a node (events and
their agenda, speakers and quotas; invitations from other nodes and nominations to them;
participants, day-by-day check-in, offline batches, scores, completion and certificates).

Handlers in :mod:`training.service` stay thin: they turn a form into the API's shape here, load it
through the API's own schema and call the API's own domain function; what a page shows comes from
the same views the API answers with.
"""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from rehsos import indonesian, reference
from rehsos import pages as kit
from rehsos.contracts import jsontext
from rehsos.contracts.events import TRAINING_KINDS, TRAINING_ROLES
from rehsos.api.bodies import csv_rows
from training.certificate import KIND_NAMES
from training.domain.events import TRANSITIONS
from training.domain.participants import ROLE_NAMES

# Inline, admitted by its hash in the page's Content-Security-Policy (rehsos.api.html_page).
STYLE = """body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
header{background:#0b5d3b;color:#fff;padding:1rem 1.5rem}header h1{margin:0;font-size:1.2rem}
main{padding:1rem 1.5rem;max-width:42rem}.card{background:#fff;border:1px solid #d5dbe3;padding:1.2rem}
.ok{border-left:6px solid #0b5d3b}.bad{border-left:6px solid #a12222}h2{margin-top:0}
dt{font-weight:600;margin-top:.6rem}dd{margin:0}"""
_ENV = Environment(loader=PackageLoader("training", "templates"), autoescape=select_autoescape(["html"]))
ENV = kit.environment("training")

BASE = "/pelatihan"
STATUS_NAMES = {"draft": "Draf", "open": "Pendaftaran dibuka", "ongoing": "Berlangsung", "completed": "Selesai",
                "cancelled": "Dibatalkan"}
# What moving an event on is called on its button.
MOVES = {"open": "Buka pendaftaran", "ongoing": "Mulai kegiatan",
         "completed": "Selesaikan kegiatan dan terbitkan sertifikat"}
PARTICIPANT_STATUS = {"registered": "Terdaftar", "waitlisted": "Daftar tunggu", "cancelled": "Dibatalkan"}
NOMINATION_STATUS = {"sent": "Terkirim, menunggu jawaban", "registered": "Terdaftar", "waitlisted": "Daftar tunggu",
                     "rejected": "Ditolak", "cancelled": "Dibatalkan"}
ROLES = [(r, ROLE_NAMES[r][0].upper() + ROLE_NAMES[r][1:]) for r in TRAINING_ROLES]
KINDS = [(k, KIND_NAMES[k]) for k in TRAINING_KINDS]
OFFICES = [(code, indonesian.region_label(code)) for code in reference.NODES]
ATTENDANCE_SHARES = [("1.0", "Semua hari (100%)"), ("0.9", "90% hari"), ("0.8", "80% hari"), ("0.75", "75% hari"),
                     ("0.5", "Separuh hari (50%)")]
CHECK_IN_RESULTS = {"checked_in": "Presensi {name} tercatat untuk {day}.",
                    "already_checked_in": "{name} sudah hadir pada {day}; tidak ada yang berubah."}
# Messages after a redirect, named in the address (never text from the address itself).
FLASH = {"dibuat": "Kegiatan dibuat sebagai draf. Lengkapi agenda dan narasumber, lalu buka pendaftaran.",
         "status": "Status kegiatan diubah.", "narasumber": "Narasumber ditambahkan.", "sesi": "Sesi ditambahkan ke agenda.",
         "terdaftar": "Peserta didaftarkan.", "tunggu": "Kuota penuh: peserta masuk daftar tunggu.",
         "dibatalkan": "Pendaftaran peserta dibatalkan.", "nilai": "Nilai disimpan.",
         "diusulkan": "Usulan peserta dikirim ke penyelenggara; jawabannya muncul di sini."}
EVENT_LABELS = {"kind": "Jenis kegiatan", "title": "Judul", "theme": "Tema", "venue": "Tempat",
                "start_date": "Tanggal mulai", "end_date": "Tanggal selesai", "quota": "Kuota keseluruhan",
                "regency_quotas": "Kuota per kabupaten/kota", "target_roles": "Peran sasaran",
                "min_attendance": "Kehadiran minimum", "min_post_score": "Nilai post-test minimum",
                **{f"regency_quotas.{code}": f"Kuota {name}" for code, name in OFFICES}}
PARTICIPANT_LABELS = {"name": "Nama", "position": "Jabatan", "office": "Instansi", "regency": "Kabupaten/kota",
                      "role": "Peran", "phone": "Nomor telepon", "email": "Surel", "status": "Status kegiatan"}
SESSION_LABELS = {"day": "Hari", "starts_at": "Jam mulai", "ends_at": "Jam selesai", "topic": "Materi",
                  "speaker_ids": "Narasumber"}
SPEAKER_LABELS = {"name": "Nama narasumber", "institution": "Lembaga"}
STATUS_LABELS = {"status": "Status", "reason": "Alasan pembatalan"}
CHECK_IN_LABELS = {"code": "Kode presensi", "participant_id": "Peserta", "day": "Hari", "status": "Status kegiatan"}
_NUMBER = re.compile(r"[+-]?\d{1,3}([.,]\d{1,3})?")


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


# -- addresses ---------------------------------------------------------------------------------------
def event_path(event_id: str, tail: str = "", **query) -> str:
    path = f"{BASE}/{event_id}{tail}"
    query = {k: v for k, v in query.items() if v is not None}
    return f"{path}?{urlencode(query)}" if query else path


def invitation_path(event_id: str, **query) -> str:
    path = f"{BASE}/undangan/{event_id}"
    return f"{path}?{urlencode(query)}" if query else path


def flash(request) -> str | None:
    return FLASH.get(request.args.get("pesan", ""))


# -- forms into the API's shape -----------------------------------------------------------------------
def decimal(text: str | None):
    if text is None:
        return None
    return float(text.replace(",", ".")) if _NUMBER.fullmatch(text.strip()) else text


def event_body(fields: dict, form) -> tuple[dict, dict]:
    """(what the form shows again, the API's body) of the event form."""
    values = {**fields, "target_roles": form.getlist("target_roles")}
    body = {k: fields[k] for k in ("kind", "title", "theme", "venue", "start_date", "end_date") if k in fields}
    for name in ("quota", "min_post_score"):
        if name in fields:
            body[name] = kit.whole_number(fields[name])
    if "min_attendance" in fields:
        body["min_attendance"] = decimal(fields["min_attendance"])
    body["regency_quotas"] = [{"regency": code, "quota": kit.whole_number(fields[f"regency_quotas.{code}"])}
                              for code in reference.NODES if f"regency_quotas.{code}" in fields]
    body["target_roles"] = values["target_roles"]
    return values, body


def event_refused(values: dict, body: dict, messages) -> kit.Form:
    """The event form refused; a regency's quota message goes beside that regency's field."""
    errors = {}
    codes = [rq["regency"] for rq in body.get("regency_quotas", [])]
    for name, texts in kit.flatten_errors(messages).items():
        match = re.fullmatch(r"regency_quotas\.(\d+)\.\w+", name)
        if match and int(match.group(1)) < len(codes):
            name = f"regency_quotas.{codes[int(match.group(1))]}"
        errors.setdefault(name, []).extend(texts)
    return kit.Form(values=values, errors=errors)


def session_body(fields: dict, form) -> tuple[dict, dict]:
    speakers = form.getlist("speaker_ids")
    body = {k: fields[k] for k in ("day", "starts_at", "ends_at", "topic") if k in fields}
    body["speaker_ids"] = [kit.whole_number(i) for i in speakers]
    return {**fields, "speaker_ids": speakers}, body


def participant_body(fields: dict) -> dict:
    return {k: fields[k] for k in ("name", "position", "office", "regency", "role", "phone", "email") if k in fields}


def scores_of(form, participant_ids) -> dict[str, tuple[dict, dict]]:
    """The scores form: per participant, (values typed, the API's body) for those with a score typed."""
    out = {}
    for pid in participant_ids:
        values = {f: form.get(f"{f}.{pid}", "").strip() for f in ("pre_score", "post_score")}
        body = {f: kit.whole_number(v) for f, v in values.items() if v}
        if body:
            out[pid] = (values, body)
    return out


def batch_rows(filename: str, content: bytes) -> tuple[list | None, str | None]:
    """An offline batch file's rows (JSON ``{"rows": [...]}`` or a list, or CSV with a header
    ``code,day[,checked_in_at]``), or the reason it cannot be read."""
    if not content.strip():
        return None, "Pilih berkas JSON atau CSV berisi presensi."
    text = content.lstrip()
    if filename.lower().endswith(".json") or text[:1] in (b"{", b"["):
        try:
            data = jsontext.loads(content)
        except (jsontext.TooDeep, ValueError):
            return None, "Berkas bukan JSON yang valid."
        rows = data.get("rows") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            return None, 'Berkas JSON harus berisi daftar baris, atau objek dengan "rows".'
        return rows, None
    try:
        return csv_rows(content), None
    except ValueError:
        return None, "Berkas bukan CSV UTF-8 yang valid (baris pertama: code,day)."


def batch_refused(messages) -> list[str]:
    """The schema's messages about a batch, one line per row: ``Baris 3, day: ...``."""
    lines = []
    for name, texts in kit.flatten_errors(messages).items():
        match = re.fullmatch(r"rows\.(\d+)\.(\w+)", name)
        where = f"Baris {int(match.group(1)) + 1}, kolom {match.group(2)}" if match else "Berkas"
        lines.append(f"{where}: {' '.join(texts)}")
    return lines


# -- what the pages show ---------------------------------------------------------------------------------
def moves(status: str) -> list[tuple[str, str]]:
    """The buttons that move an event on from ``status`` (cancelling has its own form, with a reason)."""
    return [(to, MOVES[to]) for to in ("open", "ongoing", "completed") if to in TRANSITIONS[status]]


def day_options(event: dict) -> list[tuple[str, str]]:
    start, days = event["start_date"], event["days"]
    return [(d.isoformat(), f"Hari ke-{i + 1}, {indonesian.long_date(d)}")
            for i, d in enumerate(date.fromordinal(start.toordinal() + n) for n in range(days))]


def check_in_day(event: dict, asked: str | None, today: date) -> date:
    """The day a check-in page shows: the one asked for if it is a day of the event, else today
    when the event runs today, else its first day."""
    days = [date.fromisoformat(d) for d, _ in day_options(event)]
    try:
        wanted = date.fromisoformat(asked) if asked else today
    except ValueError:
        wanted = today
    return wanted if wanted in days else days[0]


def regency_options(event: dict) -> list[tuple[str, str]]:
    """The offices an event invites (all of them when it has no per-regency quota)."""
    invited = [r["regency"] for r in event["regencies"] if r["quota"] is not None]
    return [(code, name) for code, name in OFFICES if not invited or code in invited]


def role_options(target_roles: list[str]) -> list[tuple[str, str]]:
    return [(r, n) for r, n in ROLES if not target_roles or r in target_roles]


def render(request, node: str, template: str, *, path: str, title: str, status: int = 200, **context):
    viewer = kit.Viewer.of(request, node)
    return kit.render(ENV, template, viewer=viewer, path=path, title=title, status=status,
                      flash=context.pop("flash", None) or flash(request), kinds=KIND_NAMES, statuses=STATUS_NAMES,
                      roles=dict(ROLES), participant_statuses=PARTICIPANT_STATUS, nomination_statuses=NOMINATION_STATUS,
                      **context)
