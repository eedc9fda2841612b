"""A payment's receipt as a one-page PDF (fpdf2): the school, the receipt number, who paid for what, how, and what
the payment changed (classes added, the next due date).

Amounts are written with the rupee sign in DejaVu Sans, the font matplotlib ships (found at run time, without
importing matplotlib); without it the PDF falls back to a core font and "Rs.".
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

A5_MM = (148, 210)  # given in millimetres: fpdf2 warns on every "A5" that its size changed in 2.8.5
FONT_FAMILY = "DejaVu"
FALLBACK_FAMILY = "Helvetica"
INK, MUTED, RULE, ACCENT, ALERT = (33, 37, 41), (108, 117, 125), (206, 212, 218), (25, 95, 130), (190, 30, 45)


@dataclass(frozen=True)
class Receipt:
    """What a receipt says (hsm.money.office_payments.receipt_for builds it from a payment)."""

    receipt_number: str
    school_name: str
    school_address: str | None
    school_contact: str | None  # "+914040001234 · office@hsm.example"
    student_name: str
    student_code: str  # the student's enrollment id, "HSM-24-001"
    batch: str | None  # "KEY-BEG-MWF18 (Keyboard Beginner MWF 6pm)"
    course: str | None
    amount: int  # whole rupees
    method: str  # "Cash", "UPI", "Bank transfer"
    reference: str | None
    paid_on: date
    classes_added: int | None
    next_due: date | None
    reversal: str | None = None  # "on 2 Dec 2026: entered for the wrong student" (shown after "REVERSED")

    @property
    def filename(self) -> str:
        return f"{self.receipt_number}.pdf"


@functools.lru_cache(maxsize=1)
def unicode_fonts() -> tuple[Path, Path] | None:
    """DejaVu Sans (regular, bold) from matplotlib's data files, or None when they are not installed."""
    spec = importlib.util.find_spec("matplotlib")
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "mpl-data" / "fonts" / "ttf"
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def day_text(day: date | None) -> str:
    return f"{day.day} {day:%b %Y}" if day else "-"


class _ReceiptPage:
    """One A5 page written top to bottom."""

    def __init__(self, fonts: tuple[Path, Path] | None) -> None:
        self.pdf = FPDF(format=A5_MM)
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(14, 14, 14)
        self.unicode = fonts is not None
        if fonts:
            self.pdf.add_font(FONT_FAMILY, "", str(fonts[0]))
            self.pdf.add_font(FONT_FAMILY, "B", str(fonts[1]))
        self.family = FONT_FAMILY if fonts else FALLBACK_FAMILY
        self.pdf.add_page()

    @property
    def width(self) -> float:
        return self.pdf.w - self.pdf.l_margin - self.pdf.r_margin

    def text(self, value: str) -> str:
        """The core fallback font knows only Latin-1: anything else becomes '?'."""
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")

    def money(self, amount: int) -> str:
        return f"₹{amount:,}" if self.unicode else f"Rs. {amount:,}"

    def write(self, value: str, size: float, style: str = "", color=INK, align: str = "L", height: float = 0) -> None:
        self.pdf.set_font(self.family, style, size)
        self.pdf.set_text_color(*color)
        self.pdf.multi_cell(
            self.width, height or size * 0.5, self.text(value), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )

    def rule(self, gap: float = 3) -> None:
        self.pdf.ln(gap)
        self.pdf.set_draw_color(*RULE)
        y = self.pdf.get_y()
        self.pdf.line(self.pdf.l_margin, y, self.pdf.w - self.pdf.r_margin, y)
        self.pdf.ln(gap)

    def row(self, label: str, value: str, bold: bool = False, size: float = 10) -> None:
        label_width = 38
        self.pdf.set_font(self.family, "", 9)
        self.pdf.set_text_color(*MUTED)
        self.pdf.cell(label_width, 7, self.text(label))
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.set_text_color(*INK)
        self.pdf.multi_cell(
            self.width - label_width, 7, self.text(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )


def receipt_pdf(receipt: Receipt) -> bytes:
    """The receipt as PDF bytes (one A5 page)."""
    page = _ReceiptPage(unicode_fonts())
    pdf = page.pdf
    pdf.set_title(f"Payment receipt {receipt.receipt_number}")
    pdf.set_subject(f"{receipt.receipt_number} {receipt.student_code}")
    pdf.set_author(page.text(receipt.school_name))
    pdf.set_creator("HSM WhatsApp assistant")
    pdf.set_creation_date(datetime.combine(receipt.paid_on, time(12), tzinfo=timezone.utc))

    page.write(receipt.school_name, 15, "B", ACCENT)
    for line in (receipt.school_address, receipt.school_contact):
        if line:
            page.write(line, 8.5, color=MUTED, height=4.5)
    page.rule(4)
    page.write("PAYMENT RECEIPT", 12, "B")
    page.write(f"Receipt no. {receipt.receipt_number}", 9, color=MUTED, height=5)
    if receipt.reversal:
        pdf.ln(2)
        page.write(f"REVERSED {receipt.reversal}", 9.5, "B", ALERT, height=5)
    page.rule()
    page.row("Amount received", page.money(receipt.amount), bold=True, size=14)
    page.row("Date paid", day_text(receipt.paid_on))
    page.row("Paid by", receipt.method + (f" (ref. {receipt.reference})" if receipt.reference else ""))
    page.rule()
    page.row("Student", f"{receipt.student_name} ({receipt.student_code})")
    if receipt.course:
        page.row("Course", receipt.course)
    if receipt.batch:
        page.row("Batch", receipt.batch)
    page.rule()
    if receipt.classes_added:
        page.row("Classes added", str(receipt.classes_added), bold=True)
        page.row("Next payment due", day_text(receipt.next_due), bold=True)
    else:
        page.row("Classes added", "none (less than the full fee; the office will be in touch)")
    pdf.set_y(pdf.h - 26)
    page.rule(2)
    page.write("Thank you! This receipt was issued by the school office; no signature is needed.", 8, color=MUTED)
    return bytes(pdf.output())
