"""Who may do what: one permission table and one check that every action goes through.

Each capability (a thing a caller may ask for) maps to the roles allowed to use it; anything not in the table is
refused (deny by default). A refusal carries a fixed, neutral reply that names nobody, shows no amount and does not
say whether any student, batch or record exists. Finer rules (a teacher only corrects their own batches, a guardian
only sees their own children) stay with the service that knows the data; this module only answers "may this role
ask for this at all?".

A number can hold several roles (a teacher who is also a parent). The active role is the first of
`hsm.people.identity.ROLE_PRIORITY`; `switch_role` understands "as parent", "switch to teacher" and the like.
"""

from __future__ import annotations

import re

from hsm.people.identity import Identity

ROLES = ("admin", "teacher", "student", "guardian", "prospect")

_EVERYONE = frozenset(ROLES)
_FAMILY = frozenset({"student", "guardian"})
_TEACHER = frozenset({"teacher"})
_ADMIN = frozenset({"admin"})

PERMISSIONS: dict[str, frozenset[str]] = {
    # everyone, including numbers we do not know
    "greet": _EVERYONE,
    "converse": _EVERYONE,  # goodbye, thanks, yes/no, cancel: the conversation itself
    "help": _EVERYONE,
    "faq": _EVERYONE,
    "opt_out": _EVERYONE,
    "opt_in": _EVERYONE,
    "link_identity": _EVERYONE,
    "switch_role": _EVERYONE,
    "enrollment_inquiry": _EVERYONE,
    # a student about themselves, a guardian about their own children
    "next_class": _FAMILY,
    "classes_remaining": _FAMILY,
    "payment_status": _FAMILY,
    "request_payment_link": _FAMILY,
    "absence_notice": _FAMILY,
    "makeup": _FAMILY,  # booking and cancelling makeup classes with a credit
    # teachers
    "mark_attendance": _TEACHER,
    "teacher_schedule": _TEACHER,
    "report_leave": _TEACHER,
    # teachers only for their own batches and recent classes: the attendance service checks that
    "attendance_override": frozenset({"admin", "teacher"}),
    # the school office
    "student_info": _ADMIN,
    "broadcast": _ADMIN,
    "closures": _ADMIN,  # closing the school or batches (hsm.classes.closures)
    "admin_api_send": _ADMIN,
    "admin_api_sessions": _ADMIN,
    "admin_api_messages": _ADMIN,
}

# The dialogue's intents (domain.yml and DESIGN.md) and the capabilities that can serve each; the first one the
# caller's role allows is the one that applies ("check_schedule" is a teacher's day or a student's next class).
INTENT_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "greet": ("greet",),
    "goodbye": ("converse",),
    "thank": ("converse",),
    "affirm": ("converse",),
    "deny": ("converse",),
    "cancel": ("converse",),
    "out_of_scope": ("converse",),
    "nlu_fallback": ("converse",),
    "help": ("help",),
    "general_query": ("faq",),
    "opt_out": ("opt_out",),
    "opt_in": ("opt_in",),
    "link_identity": ("link_identity",),
    "switch_role": ("switch_role",),
    "enrollment_inquiry": ("enrollment_inquiry",),
    "check_schedule": ("teacher_schedule", "next_class"),
    "classes_remaining": ("classes_remaining",),
    "payment_status": ("payment_status",),
    "request_payment_link": ("request_payment_link",),
    "report_leave": ("report_leave", "absence_notice"),
    "withdraw_leave": ("report_leave",),
    "mark_attendance": ("mark_attendance", "attendance_override"),
    "inform_attendance": ("mark_attendance", "attendance_override"),
    "student_info": ("student_info",),
    "broadcast": ("broadcast",),
    "book_makeup": ("makeup",),
    "cancel_makeup": ("makeup",),
}

_HELP = " Type 'help' to see what I can do for you."
_FAMILY_REPLY = "That's only for students enrolled with us and their parents." + _HELP
_REFUSALS: dict[str, str] = {
    "next_class": _FAMILY_REPLY,
    "classes_remaining": _FAMILY_REPLY,
    "payment_status": _FAMILY_REPLY,
    "request_payment_link": _FAMILY_REPLY,
    "absence_notice": _FAMILY_REPLY,
    "makeup": _FAMILY_REPLY,
    "mark_attendance": "Only teachers can mark attendance." + _HELP,
    "teacher_schedule": "Only teachers have a teaching schedule here." + _HELP,
    "report_leave": "Only teachers can report leave here." + _HELP,
    "attendance_override": "Only teachers and the school office can correct attendance." + _HELP,
    "student_info": "Only the school office can look up students." + _HELP,
    "broadcast": "Only the school office can send announcements." + _HELP,
    "closures": "Only the school office can close the school or a batch." + _HELP,
    "admin_api_send": "Only the school office can do that.",
    "admin_api_sessions": "Only the school office can do that.",
    "admin_api_messages": "Only the school office can do that.",
}
DEFAULT_REFUSAL = "Sorry, I can't help with that here." + _HELP
# Appended for an unknown number asking for a family-only thing: how to become known, without any example data.
LINK_HINT = " If you are a student or parent with us, send your enrollment ID and your relation to link this number."

ROLE_LABELS = {
    "admin": "admin",
    "teacher": "teacher",
    "student": "student",
    "guardian": "parent",
    "prospect": "visitor",
}


def _switch_hint(current: str, target: str) -> str:
    current_label = _article(ROLE_LABELS.get(current, "visitor"))
    return f" You're writing as {current_label}: send 'as {ROLE_LABELS[target]}' to switch."


def _article(label: str) -> str:
    return ("an " if label[0] in "aeiou" else "a ") + label


class AccessDenied(PermissionError):
    """The caller's role may not use this capability; `reply` is safe to send to them as is."""

    def __init__(self, capability: str, role: str, reply: str) -> None:
        super().__init__(f"role {role!r} may not use {capability!r}")
        self.capability = capability
        self.role = role
        self.reply = reply


def _role_of(identity_or_role: Identity | str) -> str:
    if isinstance(identity_or_role, Identity):
        return identity_or_role.role
    return identity_or_role if isinstance(identity_or_role, str) else ""


def allowed(identity_or_role: Identity | str, capability: str) -> bool:
    """May this caller (in their active role) or this role use `capability`? Unknown roles and capabilities: no."""
    roles = PERMISSIONS.get(capability) if isinstance(capability, str) else None
    return roles is not None and _role_of(identity_or_role) in roles


def refusal_text(identity_or_role: Identity | str, capability: str) -> str:
    """The fixed reply for a refused capability, plus a fixed hint on how the caller could get it."""
    text = _REFUSALS.get(capability, DEFAULT_REFUSAL) if isinstance(capability, str) else DEFAULT_REFUSAL
    roles = PERMISSIONS.get(capability, frozenset()) if isinstance(capability, str) else frozenset()
    if isinstance(identity_or_role, Identity):
        # The caller's own other roles are theirs to know: suggest switching, never anything about other people.
        other = next((r for r in identity_or_role.roles if r in roles and r != identity_or_role.role), None)
        if other is not None:
            return text + _switch_hint(identity_or_role.role, other)
    if _role_of(identity_or_role) == "prospect" and roles & _FAMILY:
        return text + LINK_HINT
    return text


def require(identity: Identity | str, capability: str) -> None:
    """Raise AccessDenied (with a reply fit to send) unless the caller may use `capability`."""
    if not allowed(identity, capability):
        raise AccessDenied(str(capability), _role_of(identity) or "unknown", refusal_text(identity, capability))


def capability_for_intent(identity_or_role: Identity | str, intent: str) -> str | None:
    """The capability that serves `intent` for this caller, or None when they may not use it (or it's unknown)."""
    for capability in INTENT_CAPABILITIES.get(intent, ()) if isinstance(intent, str) else ():
        if allowed(identity_or_role, capability):
            return capability
    return None


def require_intent(identity: Identity | str, intent: str) -> str:
    """The capability serving `intent` for this caller; AccessDenied (refusal of its first capability) if none."""
    capability = capability_for_intent(identity, intent)
    if capability is None:
        candidates = INTENT_CAPABILITIES.get(intent, ()) if isinstance(intent, str) else ()
        require(identity, candidates[0] if candidates else f"intent:{intent}")
        raise AssertionError("unreachable")  # pragma: no cover - require() raised
    return capability


# ------------------------------------------------------------------------------------------------ role switching

_ROLE_WORDS = {
    "parent": "guardian",
    "guardian": "guardian",
    "mother": "guardian",
    "father": "guardian",
    "mom": "guardian",
    "mum": "guardian",
    "dad": "guardian",
    "teacher": "teacher",
    "tutor": "teacher",
    "faculty": "teacher",
    "student": "student",
    "learner": "student",
    "admin": "admin",
    "administrator": "admin",
    "office": "admin",
}
_ROLE_WORD = r"(?P<word>" + "|".join(sorted(_ROLE_WORDS, key=len, reverse=True)) + r")"
_DETERMINER = r"(?:(?:an?|the|my)\s+)?"
_SWITCH = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|hi|hello|please|pls)\W+)*"
    r"(?:(?:i\s*(?:'|’)?\s*m|i\s+am)\s+(?:asking|writing|messaging|texting|here|talking|speaking)\s+|"
    r"(?:ask|answer|reply|talk|treat\s+me|continue|proceed)\s+(?:me\s+)?|"
    r"(?:(?:switch|change)\s+(?:my\s+)?(?:role\s+)?to|use\s+my|log\s*in)\s+(?=\w)|"
    r"(?:act(?:ing)?|now|me)\s+)?"
    r"(?:as\s+)?" + _DETERMINER + _ROLE_WORD + r"(?:\s+(?:role|mode|account))?"
    r"(?:\s+(?:please|pls|now|instead))*\W*$",
    re.IGNORECASE,
)
_NEEDS_CUE = re.compile(r"\bas\b|\bswitch\b|\bchange\b|\buse\s+my\b|\bmode\b|\brole\b", re.IGNORECASE)


def requested_role(text: str) -> str | None:
    """The role a role-switch message asks for ("as parent" -> "guardian"), or None if it isn't one."""
    if not isinstance(text, str) or len(text) > 200:
        return None
    match = _SWITCH.match(text.strip())
    if match is None or not _NEEDS_CUE.search(text):  # a bare "teacher" or "mother" is no switch
        return None
    return _ROLE_WORDS[match.group("word").lower()]


def switch_role(identity: Identity, text: str) -> Identity | None:
    """The caller acting in the role `text` asks for, or None if `text` isn't a switch or the number lacks it."""
    role = requested_role(text)
    if role is None or role not in identity.roles or not identity.links:
        return None
    try:
        return identity.as_role(role)
    except ValueError:
        return None


def switched_reply(identity: Identity) -> str:
    """A short confirmation after a switch; names only the caller's own role."""
    return f"OK, you're now writing as {_article(ROLE_LABELS.get(identity.role, 'visitor'))}." + _HELP
