"""The attendance register of a month as files: CSV (one row per student, one column per class day) and a
landscape A4 PDF with the school's name, the batch, the month and the legend."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timezone

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from hsm.classes.register import LEGEND, UPCOMING, Register
from hsm.money.receipts import unicode_fonts

FONT_FAMILY, FALLBACK_FAMILY = "DejaVu", "Helvetica"
INK, MUTED, SHADE = (29, 36, 48), (90, 100, 114), (238, 241, 245)
NAME_WIDTH, TOTAL_WIDTH, MAX_DAY_WIDTH = 52.0, 11.0, 12.0
ROW_HEIGHT = 6.5


def filename(register: Register, extension: str) -> str:
    return f"attendance-{register.batch_code}-{register.month:%Y-%m}.{extension}"


def register_csv(register: Register) -> str:
    """The register as CSV text: enrollment id, name, then each class day's status (ISO dates as headers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["enrollment_id", "name", *(day.day.isoformat() for day in register.days), "present", "absent"])
    for row in register.rows:
        statuses = ["" if cell.status == UPCOMING else cell.status for cell in row.cells]
        writer.writerow([row.enrollment_id, row.name, *statuses, row.present, row.absent])
    return out.getvalue()


class _Sheet:
    """The PDF being written, with the DejaVu font when it is installed (else a core font, Latin-1 only)."""

    def __init__(self) -> None:
        fonts = unicode_fonts()
        self.pdf = FPDF(orientation="L", format="A4")
        self.pdf.set_margins(12, 12, 12)
        self.pdf.set_auto_page_break(True, 12)
        self.unicode = fonts is not None
        if fonts:
            self.pdf.add_font(FONT_FAMILY, "", str(fonts[0]))
            self.pdf.add_font(FONT_FAMILY, "B", str(fonts[1]))
        self.family = FONT_FAMILY if fonts else FALLBACK_FAMILY

    def text(self, value: str) -> str:
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, style: str = "", color: tuple[int, int, int] = INK) -> None:
        self.pdf.set_font(self.family, style, size)
        self.pdf.set_text_color(*color)

    def line(self, value: str, size: float, style: str = "", color: tuple[int, int, int] = INK) -> None:
        self.font(size, style, color)
        self.pdf.multi_cell(0, size * 0.5, self.text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def cell(self, width: float, value: str, align: str = "C", fill: bool = False) -> None:
        self.pdf.cell(width, ROW_HEIGHT, self.text(value), border=1, align=align, fill=fill)


def register_pdf(register: Register, school: str) -> bytes:
    """The register on landscape A4 pages, the header row repeated on each page."""
    sheet = _Sheet()
    pdf = sheet.pdf
    pdf.set_title(f"Attendance {register.batch_code} {register.month:%B %Y}")
    pdf.set_author(sheet.text(school))
    pdf.set_creator("HSM office console")
    pdf.set_creation_date(datetime.combine(register.month, time(12), tzinfo=timezone.utc))
    pdf.add_page()
    sheet.line(school, 15, "B")
    sheet.line(f"Attendance register: {register.batch_name} ({register.batch_code})", 12, "B")
    sheet.line(f"{register.month:%B %Y} · teacher: {register.teacher}", 10, color=MUTED)
    pdf.ln(3)
    usable = pdf.w - pdf.l_margin - pdf.r_margin - NAME_WIDTH - 2 * TOTAL_WIDTH
    day_width = min(MAX_DAY_WIDTH, usable / max(1, len(register.days)))

    def header() -> None:
        sheet.font(8, "B")
        pdf.set_fill_color(*SHADE)
        sheet.cell(NAME_WIDTH, "Student", "L", True)
        for day in register.days:
            sheet.cell(day_width, f"{day.day:%a}"[:2] + f" {day.day.day}", fill=True)
        sheet.cell(TOTAL_WIDTH, "P", fill=True)
        sheet.cell(TOTAL_WIDTH, "A", fill=True)
        pdf.ln(ROW_HEIGHT)

    header()
    if not register.rows:
        sheet.line("No students in this batch this month.", 10, color=MUTED)
    for row in register.rows:
        if pdf.get_y() + ROW_HEIGHT > pdf.page_break_trigger:
            pdf.add_page()
            header()
        sheet.font(8)
        name = row.name if row.on_roster else f"{row.name} (not on roster)"
        sheet.cell(NAME_WIDTH, f"{name[:34]}", "L")
        for cell in row.cells:
            sheet.cell(day_width, cell.mark)
        sheet.cell(TOTAL_WIDTH, str(row.present))
        sheet.cell(TOTAL_WIDTH, str(row.absent))
        pdf.ln(ROW_HEIGHT)
    pdf.ln(4)
    legend = " · ".join(f"{mark} {words}" for mark, words in LEGEND.values() if mark)
    sheet.line(f"Legend: {legend}; blank: not held yet. P/A columns: present (with makeups) / absent.", 8, color=MUTED)
    return bytes(pdf.output())
