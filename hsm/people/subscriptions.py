"""Opt-out and opt-in (STOP / START) per kind of unsolicited message, in `whatsapp_subscriptions`.

Kinds are what the school sends on its own: "reminders" (fees due, class starting) and "announcements"
(broadcasts). Answers to a user's own questions are never blocked by an opt-out. A number with no row is
subscribed to everything. A row's `is_active` is False once every kind is off (what older code and the school
import look at); `preferences` holds each kind. Every change is written to `audit_log`; repeating a command
changes nothing and writes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.phone import InvalidPhoneNumber, mask_phone, normalise_phone
from hsm.people.identity import identify
from hsm.records.changes import record_change

KINDS = ("reminders", "announcements")
OPT_OUT, OPT_IN = "opt_out", "opt_in"
Kinds = tuple[str, ...] | list[str] | str | None  # None: every kind


@dataclass(frozen=True)
class SubscriptionState:
    phone: str
    preferences: dict[str, bool]
    changed: bool

    @property
    def is_active(self) -> bool:
        return any(self.preferences.values())


def _address(phone: str) -> str:
    if not isinstance(phone, str) or not phone.strip():
        raise ValueError("a subscription needs the sender's WhatsApp number")
    try:
        return normalise_phone(phone)
    except InvalidPhoneNumber:
        return str(phone).strip()[:140]  # a WhatsApp user id without a number, kept as given


def _kinds(kinds: Kinds) -> tuple[str, ...]:
    if kinds is None:
        return KINDS
    if isinstance(kinds, str):
        kinds = (kinds,)
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown subscription kind(s) {unknown}; known: {KINDS}")
    return tuple(dict.fromkeys(kinds))


def _effective(row: m.WhatsAppSubscription | None) -> dict[str, bool]:
    """Each kind's state; rows written by older code (is_active False, no preferences) mean everything off."""
    if row is None:
        return {kind: True for kind in KINDS}
    stored = row.preferences if isinstance(row.preferences, dict) else {}
    return {kind: bool(row.is_active) and bool(stored.get(kind, True)) for kind in KINDS}


def _row(session: Session, phone: str) -> m.WhatsAppSubscription | None:
    return session.execute(
        select(m.WhatsAppSubscription).where(m.WhatsAppSubscription.phone_number == phone)
    ).scalar_one_or_none()


def preferences(session: Session, phone: str) -> dict[str, bool]:
    """Each kind and whether this number gets it."""
    return _effective(_row(session, _address(phone)))


def is_subscribed(session: Session, phone: str, kind: str) -> bool:
    """Does this number get `kind` messages? True for numbers we have never heard a STOP from."""
    (kind,) = _kinds(kind)
    return preferences(session, phone)[kind]


def _set(session: Session, phone: str, kinds: Kinds, value: bool) -> SubscriptionState:
    address = _address(phone)
    wanted = _kinds(kinds)
    row = _row(session, address)
    before = _effective(row)
    after = {kind: (value if kind in wanted else before[kind]) for kind in KINDS}
    if after == before:  # a repeated command, or START from a number that never said STOP
        return SubscriptionState(address, after, changed=False)
    now = clock.utcnow()
    if row is None:
        who = identify(session, address)
        row = m.WhatsAppSubscription(phone_number=address, user_id=who.person_id, user_type=who.role, opted_in_at=None)
        session.add(row)
    row.preferences = dict(after)  # a new object, so the JSON column is written
    row.is_active = any(after.values())
    if value:
        row.opted_in_at = now
    else:
        row.opted_out_at = now
    record_change(
        session,
        f"whatsapp:{mask_phone(address)}",
        OPT_IN if value else OPT_OUT,
        "whatsapp_subscriptions",
        mask_phone(address),
        before,
        after,
        at=now,
    )
    session.flush()
    return SubscriptionState(address, after, changed=True)


def opt_out(session: Session, phone: str, kinds: Kinds = None) -> SubscriptionState:
    """Stop `kinds` (default: all) for this number. Repeating it changes nothing."""
    return _set(session, phone, kinds, False)


def opt_in(session: Session, phone: str, kinds: Kinds = None) -> SubscriptionState:
    """Resume `kinds` (default: all) for this number. Repeating it changes nothing."""
    return _set(session, phone, kinds, True)


# ------------------------------------------------------------------------------------------------ parsing

_KIND_WORDS = {
    "reminders": re.compile(r"(?:(?:fee|fees|class|payment)\s+)?reminders?", re.IGNORECASE),
    "announcements": re.compile(r"announcements?|broadcasts?|updates|news|promotions?|offers", re.IGNORECASE),
}
_KIND = r"(?P<kinds>[a-z ,&]+?)"
_KIND_SEPARATOR = re.compile(r"\s*(?:,|&|\band\b|\bor\b)\s*", re.IGNORECASE)
_MESSAGES = r"(?:all\s+)?(?:(?:whatsapp|these|your|the|any|such)\s+)?(?:messages?|msgs?|texts?|notifications?|alerts?)"
_POLITE = r"(?:(?:please|pls|plz|kindly|ok|okay|hi|hello)\W+)*"
_TAIL = r"(?:\W+(?:please|pls|plz|thanks?|thank\s+you|anymore|any\s*more|again))*\W*$"
_DONT = r"(?:don'?t|do\s+not|dont|never)"

_OUT_ALL = re.compile(
    "^" + _POLITE + r"(?:stop(?:\s*all)?|unsubscribe(?:\s+me)?(?:\s+from\s+all)?|opt[\s-]*out|"
    r"stop\s+(?:sending\s+)?(?:me\s+)?"
    + _MESSAGES
    + "|"
    + _DONT
    + r"\s+(?:send|message|text)\s+me(?:\s+"
    + _MESSAGES
    + r")?|"
    r"no\s+more\s+" + _MESSAGES + ")" + _TAIL,
    re.IGNORECASE,
)
_OUT_KIND = re.compile(
    "^" + _POLITE + r"(?:stop(?:\s+sending)?(?:\s+me)?(?:\s+the)?|unsubscribe(?:\s+me)?(?:\s+from)?(?:\s+the)?|"
    r"opt[\s-]*out(?:\s+of)?(?:\s+the)?|no(?:\s+more)?|" + _DONT + r"\s+send(?:\s+me)?(?:\s+any)?)\s+" + _KIND + _TAIL,
    re.IGNORECASE,
)
_IN_ALL = re.compile(
    "^" + _POLITE + r"(?:start|unstop|resume|subscribe(?:\s+me)?(?:\s+again)?|opt[\s-]*in|"
    r"(?:start|resume)\s+(?:sending\s+)?(?:me\s+)?" + _MESSAGES + ")" + _TAIL,
    re.IGNORECASE,
)
_IN_KIND = re.compile(
    "^" + _POLITE + r"(?:start(?:\s+sending)?(?:\s+me)?(?:\s+the)?|resume(?:\s+the)?|subscribe(?:\s+me)?(?:\s+to)?"
    r"(?:\s+the)?|opt[\s-]*in(?:\s+to)?(?:\s+the)?|send(?:\s+me)?(?:\s+the)?)\s+" + _KIND + _TAIL,
    re.IGNORECASE,
)


def _kinds_named(words: str) -> tuple[str, ...] | None:
    """("reminders",) for "fee reminders", both for "reminders and announcements"; None if any word is no kind."""
    named: list[str] = []
    for part in _KIND_SEPARATOR.split(words.strip()):
        part = re.sub(r"^(?:the|all|any)\s+", "", part.strip(), flags=re.IGNORECASE)
        kind = next((k for k, pattern in _KIND_WORDS.items() if pattern.fullmatch(part)), None)
        if kind is None:
            return None
        named.append(kind)
    return tuple(kind for kind in KINDS if kind in named) or None


def parse_subscription_command(text: str) -> tuple[str, tuple[str, ...]] | None:
    """("opt_out" | "opt_in", kinds) when the whole message is a subscription command, else None.

    "STOP", "unsubscribe", "don't send me messages" -> ("opt_out", KINDS); "stop reminders" -> ("opt_out",
    ("reminders",)); "START", "subscribe" -> ("opt_in", KINDS); "start announcements" -> ("opt_in",
    ("announcements",)). A sentence that merely contains "stop" ("the bus stop near school") is none.
    """
    if not isinstance(text, str) or len(text) > 120:
        return None
    cleaned = " ".join(text.replace("’", "'").replace("‘", "'").split())
    if not cleaned:
        return None
    for pattern, action in ((_OUT_KIND, OPT_OUT), (_IN_KIND, OPT_IN)):
        match = pattern.match(cleaned)
        kinds = _kinds_named(match.group("kinds")) if match else None
        if kinds:
            return action, kinds
    if _OUT_ALL.match(cleaned):
        return OPT_OUT, KINDS
    if _IN_ALL.match(cleaned):
        return OPT_IN, KINDS
    return None


def _kinds_label(kinds: tuple[str, ...]) -> str:
    return "reminders or announcements" if set(kinds) == set(KINDS) else " or ".join(kinds)


def confirmation_text(action: str, kinds: tuple[str, ...]) -> str:
    """What to answer after a subscription command."""
    if action == OPT_OUT:
        return (
            f"Done: you won't get {_kinds_label(kinds)} from us any more. You can still ask me anything. "
            "Send START to subscribe again."
        )
    label = "reminders and announcements" if set(kinds) == set(KINDS) else " and ".join(kinds)
    return f"Welcome back: you'll get {label} from us again. Send STOP any time to stop them."
