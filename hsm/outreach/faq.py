"""The school's FAQ answers (timings, location, fees, trial class, policies, rental), from the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import models as m

# How each topic is offered in menus (WhatsApp list rows: titles of at most 24 characters).
TOPIC_TITLES = {
    "timings": "Timings",
    "location": "Location",
    "fees": "Fees",
    "trial_class": "Free trial class",
    "makeup_policy": "Makeup classes",
    "refund_policy": "Refund policy",
    "instruments_rental": "Instrument rental",
}


def topics(session: Session) -> list[tuple[str, str]]:
    """(topic, menu title) for every FAQ the school has, in a stable order."""
    known = list(TOPIC_TITLES)
    rows = session.execute(select(m.Faq.topic)).scalars().all()
    ordered = sorted(rows, key=lambda t: (known.index(t) if t in known else len(known), t))
    return [(topic, TOPIC_TITLES.get(topic, topic.replace("_", " ").capitalize())) for topic in ordered]


def answer(session: Session, topic: str | None) -> str | None:
    if not topic:
        return None
    return session.execute(select(m.Faq.answer).where(m.Faq.topic == topic.strip().lower())).scalar_one_or_none()
