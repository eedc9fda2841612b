"""A broadcast being composed in the console: the form read into an audience and a text, and what its preview shows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import models as m
from hsm.outreach.broadcast import preview as pv
from hsm.outreach.broadcast.creation import check_text
from hsm.outreach.broadcast.errors import BroadcastError

AUDIENCES = {
    "all_students": "All students (their parents for children)",
    "all_teachers": "All teachers",
    "course": "A course",
    "batch": "A batch",
    "custom": "A list of numbers",
}
MAX_NUMBERS_CHARS = 20_000
MAX_FIELD_CHARS = 5_000
SAMPLE = 8  # names shown of each group in the preview


@dataclass
class Draft:
    """What the compose form holds (strings, as typed) and, once read, the audience it names."""

    kind: str = "batch"
    course: str = ""
    batch: str = ""
    numbers: str = ""
    text: str = ""
    template: str = ""
    params_for: str = ""
    params: list[str] = field(default_factory=list)

    @classmethod
    def from_form(cls, form: MultiDictProxy) -> Draft:
        def value(name: str, limit: int = MAX_FIELD_CHARS) -> str:
            text = form.get(name, "")
            return text[:limit] if isinstance(text, str) else ""

        return cls(
            kind=value("audience", 40),
            course=value("course", 40),
            batch=value("batch", 40),
            numbers=value("numbers", MAX_NUMBERS_CHARS),
            text=value("text"),
            template=value("template", 100),
            params_for=value("params_for", 100),
            params=[p[:1024] for p in form.getall("param", []) if isinstance(p, str)],
        )

    def audience(self) -> dict:
        """The audience for the broadcast services; raises BroadcastError naming the form field at fault."""
        if self.kind not in AUDIENCES:
            raise BroadcastError("audience", "choose who the message is for")
        if self.kind in ("course", "batch"):
            code = getattr(self, self.kind).strip()
            if not code:
                raise BroadcastError(self.kind, f"choose a {self.kind}")
            return {"kind": self.kind, "code": code}
        if self.kind == "custom":
            phones = [p for p in re.split(r"[\n,;]+", self.numbers) if p.strip()]
            if not phones:
                raise BroadcastError("numbers", "type at least one phone number")
            return {"kind": "custom", "phones": [p.strip() for p in phones]}
        return {"kind": self.kind}

    def checked_text(self) -> str:
        text = check_text(self.text or None)
        if text is None:
            raise BroadcastError("text", "the text is empty", "empty_text")
        return text


def choices(session: Session) -> dict[str, Any]:
    """The courses and active batches the compose form offers."""
    courses = session.execute(select(m.Course.code, m.Course.name).order_by(m.Course.name)).all()
    batches = session.execute(
        select(m.Batch.code, m.Batch.name).where(m.Batch.active.is_(True)).order_by(m.Batch.name)
    ).all()
    return {"courses": courses, "batches": batches, "audiences": AUDIENCES}


def _names(recipients: list) -> list[str]:
    return [r.name or r.phone for r in recipients[:SAMPLE]]


def preview(session: Session, draft: Draft) -> dict[str, Any]:
    """What the preview page shows: counts with a few names, the text, and the template for those outside the
    24-hour window (the draft's choice, else "announcement" when there is one) with its parameters and words.
    Raises BroadcastError for an empty or long text or an unusable audience."""
    text = draft.checked_text()
    seen = pv.preview_audience(session, draft.audience())
    templates = {t.template_name: t for t in pv.broadcast_templates(session)}
    name = draft.template if draft.template in templates else ""
    if not draft.params_for and not name and seen.outside_window and "announcement" in templates:
        name = "announcement"
    template = templates.get(name)
    params: list[str] = []
    if template is not None:
        wanted = len(template.variables or [])
        params = draft.params if draft.params_for == name and len(draft.params) == wanted else []
        params = params or pv.default_parameters(template, text)
    return {
        "text": text,
        "recipients": len(seen.recipients),
        "recipient_names": _names(seen.recipients),
        "opted_out": len(seen.opted_out),
        "opted_out_names": _names(seen.opted_out),
        "invalid": seen.invalid,
        "outside_window": seen.outside_window,
        "in_window": seen.in_window,
        "templates": sorted(templates),
        "chosen": template,
        "template_name": name,
        "params": params,
        "variables": list(template.variables or []) if template else [],
        "template_words": pv.template_text(template, params) if template else "",
    }
