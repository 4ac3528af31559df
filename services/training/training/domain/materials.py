"""Materials attached to a session: stored with their SHA-256 and size, within a size limit,
their type read from the file's first bytes (a renamed file keeps its true type)."""
from __future__ import annotations

import hashlib
import io
import re
import zipfile

import sqlalchemy as sa
from sqlalchemy.orm import undefer

from rehsos.clock import now
from rehsos.errors import Invalid, NotFound
from training.domain.events import get_session
from training.models import Material

# What a training's materials are: slides, handouts, pictures. Office files are zip packages.
_OOXML = {"word/document.xml": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
          "ppt/presentation.xml": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",
                                   "pptx"),
          "xl/workbook.xml": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")}


def detect_type(content: bytes) -> tuple[str, str] | None:
    """(media type, extension) from the content, or None when it is not an accepted kind."""
    if content.startswith(b"%PDF-"):
        return "application/pdf", "pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpg"
    if content.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names:
            for part, kind in _OOXML.items():
                if part in names:
                    return kind
    return None


def _safe_filename(filename: str, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._ -]", "_", filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(" .") or "materi"
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return f"{stem[:150]}.{extension}"


def attach(uow, event_id: str, session_id: int, filename: str, content: bytes, *, actor: str,
           max_bytes: int) -> Material:
    agenda = get_session(uow.session, event_id, session_id)
    if not content:
        raise Invalid({"file": ["Berkas kosong."]})
    if len(content) > max_bytes:
        raise Invalid({"file": [f"Berkas melebihi batas {max_bytes // (1024 * 1024)} MB."]})
    kind = detect_type(content)
    if kind is None:
        raise Invalid({"file": ["Jenis berkas tidak diterima: hanya PDF, PNG, JPEG, DOCX, PPTX atau XLSX "
                                "(dibaca dari isi berkas, bukan dari namanya)."]})
    material = Material(session_id=agenda.id, filename=_safe_filename(filename or "materi", kind[1]),
                        media_type=kind[0], size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                        content=content, uploaded_by=actor, uploaded_at=now())
    uow.session.add(material)
    uow.session.flush()
    return material


def list_materials(session, event_id: str, session_id: int) -> list[Material]:
    agenda = get_session(session, event_id, session_id)
    return list(session.scalars(sa.select(Material).where(Material.session_id == agenda.id).order_by(Material.id)))


def get_material(session, event_id: str, session_id: int, material_id: int, *, with_content: bool = False) -> Material:
    agenda = get_session(session, event_id, session_id)
    q = sa.select(Material).where(Material.id == material_id, Material.session_id == agenda.id)
    if with_content:
        q = q.options(undefer(Material.content))
    material = session.scalars(q).first()
    if material is None:
        raise NotFound(f"Materi {material_id} tidak ditemukan pada sesi ini.")
    return material
