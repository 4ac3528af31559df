"""The certificate as a PDF (fpdf2): in Bahasa Indonesia, with the event, its dates and hours, the
organiser, the participant's name, the number, and a QR code of the public verification page."""
from __future__ import annotations

import io

import segno

from rehsos import indonesian
from training.models import Certificate, TrainingEvent

KIND_NAMES = {"bimtek": "Bimbingan Teknis", "rakor": "Rapat Koordinasi", "workshop": "Lokakarya",
              "sosialisasi": "Sosialisasi"}


def _latin1(text: str) -> str:
    # The PDF's built-in fonts speak Latin-1; typographic dashes and quotes have close equivalents.
    text = text.replace("–", "-").replace("—", "-").replace("’", "'").replace("“", '"').replace("”", '"')
    return text.encode("latin-1", "replace").decode("latin-1")


def render(certificate: Certificate, event: TrainingEvent, *, organiser_node: str, hours: float,
           verify_url: str) -> bytes:
    from fpdf import FPDF  # here: fpdf and fontTools cost every service process a third of a second to import

    participant = certificate.participant
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(_latin1(f"Sertifikat {certificate.number}"))
    pdf.set_author(_latin1(indonesian.office_name(organiser_node)))
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_draw_color(11, 93, 59)
    pdf.set_line_width(1.5)
    pdf.rect(10, 10, 277, 190)
    pdf.set_line_width(0.4)
    pdf.rect(14, 14, 269, 182)

    def line(text: str, size: float, style: str = "", height: float = 9, gap: float = 0) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, height, _latin1(text), align="C", new_x="LMARGIN", new_y="NEXT")
        if gap:
            pdf.ln(gap)

    pdf.set_xy(20, 24)
    pdf.set_left_margin(20)
    pdf.set_right_margin(20)
    line(indonesian.office_name(organiser_node).upper(), 13, "B", 7)
    line("SERTIFIKAT", 34, "B", 16)
    line(f"Nomor: {certificate.number}", 11, "", 6, gap=6)
    line("diberikan kepada", 12, "I", 7)
    line(participant.name, 26, "B", 13)
    line(f"{participant.position}, {participant.office}", 12, "", 7, gap=4)
    line("atas keikutsertaan dan kelulusannya sebagai peserta", 12, "", 7)
    line(f"{KIND_NAMES[event.kind]} \"{event.title}\"", 16, "B", 9)
    hours_text = f", selama {indonesian.number(hours, 1 if hours % 1 else 0)} jam" if hours else ""
    line(f"yang diselenggarakan oleh {indonesian.office_name(organiser_node)} pada "
         f"{indonesian.date_range(event.start_date, event.end_date)} di {event.venue}{hours_text}.", 12, "", 7)
    pdf.set_xy(20, 160)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(180, 6, _latin1(
        f"Diterbitkan {indonesian.long_date(certificate.issued_at.date())}.\n"
        f"Keaslian sertifikat ini dapat diperiksa di:\n{verify_url}"), align="L")
    qr = io.BytesIO()
    segno.make(verify_url, error="m").save(qr, kind="png", scale=4, border=1)
    qr.seek(0)
    pdf.image(qr, x=240, y=150, w=36, h=36)
    return bytes(pdf.output())
