"""What a broadcast would do before it is made: who it reaches, who is left out, who is outside the 24-hour window."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.broadcast.audience import Recipient, plan_audience
from hsm.outreach.broadcast.sender import NAME_PLACEHOLDER, phones_in_window

# What a template's variable is filled with by default: the broadcast's text, or each recipient's first name.
TEXT_VARIABLES = ("message", "details")
NAME_VARIABLES = ("recipient_name",)


@dataclass
class Preview:
    recipients: list[Recipient] = field(default_factory=list)
    opted_out: list[Recipient] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    outside_window: int = 0  # recipients who can only get a template

    @property
    def in_window(self) -> int:
        return len(self.recipients) - self.outside_window


def preview_audience(session: Session, audience: dict) -> Preview:
    """The audience's recipients, opted-out and invalid numbers, and how many are outside the 24-hour window now;
    raises AudienceError for a malformed audience or an unknown batch or course."""
    plan = plan_audience(session, audience)
    in_window = phones_in_window(session, [r.phone for r in plan.recipients], clock.utcnow())
    outside = sum(1 for r in plan.recipients if r.phone not in in_window)
    return Preview(plan.recipients, plan.opted_out, plan.invalid, outside)


def broadcast_templates(session: Session) -> list[m.WhatsAppTemplate]:
    """The approved templates a broadcast can use (no media header to attach), by name."""
    return list(
        session.execute(
            select(m.WhatsAppTemplate)
            .where(m.WhatsAppTemplate.status == "approved", m.WhatsAppTemplate.header_format.is_(None))
            .order_by(m.WhatsAppTemplate.template_name)
        ).scalars()
    )


def default_parameters(template: m.WhatsAppTemplate, text: str) -> list[str]:
    """A template's parameters filled in from the broadcast: the text for a message, `{name}` for a name."""
    values = []
    for variable in template.variables or []:
        if variable in TEXT_VARIABLES:
            values.append(text)
        elif variable in NAME_VARIABLES:
            values.append(NAME_PLACEHOLDER)
        else:
            values.append("")
    return values


def template_text(template: m.WhatsAppTemplate, parameters: list[str]) -> str:
    """The template's words with its {{1}}, {{2}}, ... replaced by `parameters` (blank ones left as they are)."""
    content = template.content
    for number, value in enumerate(parameters, start=1):
        if value:
            content = content.replace(f"{{{{{number}}}}}", value)
    return content
