"""Messages the school owes someone after an action (admins told of a lead, a teacher's leave, a payment)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    phone: str
    audience: str
    text: str
    template: str | None = None
    template_params: tuple[str, ...] = ()
