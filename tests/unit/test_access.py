"""The central permission check: every role against every capability and every intent, from tables written
here independently of hsm/people/access.py; refusals are fixed texts that leak nothing; role switching."""

from __future__ import annotations

import re
from itertools import product
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hsm.infra.config import PROJECT_ROOT
from hsm.people import access
from hsm.people.access import AccessDenied, allowed, capability_for_intent, require, require_intent, switch_role
from hsm.people.identity import Identity, RoleLink
from tests.conftest import SCHOOL_FILE

ALL = {"admin", "teacher", "student", "guardian", "prospect"}
FAMILY = {"student", "guardian"}

# Who may use each capability: the table, written out by hand.
EXPECTED: dict[str, set[str]] = {
    "greet": ALL,
    "converse": ALL,
    "help": ALL,
    "faq": ALL,
    "opt_out": ALL,
    "opt_in": ALL,
    "link_identity": ALL,
    "switch_role": ALL,
    "enrollment_inquiry": ALL,
    "next_class": FAMILY,
    "classes_remaining": FAMILY,
    "payment_status": FAMILY,
    "request_payment_link": FAMILY,
    "absence_notice": FAMILY,
    "makeup": FAMILY,
    "mark_attendance": {"teacher"},
    "teacher_schedule": {"teacher"},
    "report_leave": {"teacher"},
    "attendance_override": {"admin", "teacher"},
    "student_info": {"admin"},
    "broadcast": {"admin"},
    "closures": {"admin"},
    "admin_api_send": {"admin"},
    "admin_api_sessions": {"admin"},
    "admin_api_messages": {"admin"},
}

# Which capability serves each intent for each role (None: refused). Columns: admin, teacher, student, guardian,
# prospect.
_ROLE_ORDER = ("admin", "teacher", "student", "guardian", "prospect")
EXPECTED_INTENTS: dict[str, tuple[str | None, ...]] = {
    "greet": ("greet",) * 5,
    "goodbye": ("converse",) * 5,
    "thank": ("converse",) * 5,
    "affirm": ("converse",) * 5,
    "deny": ("converse",) * 5,
    "cancel": ("converse",) * 5,
    "out_of_scope": ("converse",) * 5,
    "nlu_fallback": ("converse",) * 5,
    "help": ("help",) * 5,
    "general_query": ("faq",) * 5,
    "opt_out": ("opt_out",) * 5,
    "opt_in": ("opt_in",) * 5,
    "link_identity": ("link_identity",) * 5,
    "switch_role": ("switch_role",) * 5,
    "enrollment_inquiry": ("enrollment_inquiry",) * 5,
    "check_schedule": (None, "teacher_schedule", "next_class", "next_class", None),
    "classes_remaining": (None, None, "classes_remaining", "classes_remaining", None),
    "payment_status": (None, None, "payment_status", "payment_status", None),
    "request_payment_link": (None, None, "request_payment_link", "request_payment_link", None),
    "report_leave": (None, "report_leave", "absence_notice", "absence_notice", None),
    "withdraw_leave": (None, "report_leave", None, None, None),
    "mark_attendance": ("attendance_override", "mark_attendance", None, None, None),
    "inform_attendance": ("attendance_override", "mark_attendance", None, None, None),
    "student_info": ("student_info", None, None, None, None),
    "broadcast": ("broadcast", None, None, None, None),
    "book_makeup": (None, None, "makeup", "makeup", None),
    "cancel_makeup": (None, None, "makeup", "makeup", None),
}

MATRIX = list(product(sorted(ALL), sorted(EXPECTED)))


def identity(role: str, name: str = "Mary Thomas", person_id: int = 7) -> Identity:
    if role == "prospect":
        return Identity(phone="+919845000099", role="prospect")
    return Identity("+919845000002", role, person_id, name, (RoleLink(role, person_id, name),))


def school_names() -> set[str]:
    """Every person's name (and first name) in the demo school: none may appear in a refusal."""
    school = yaml.safe_load(SCHOOL_FILE.read_text())
    names: set[str] = set()

    def collect(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "name" and isinstance(value, str):
                    names.add(value)
                    names.add(value.split()[0])
                else:
                    collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    for section in ("admins", "teachers", "students"):
        collect(school.get(section, []))
    return {name for name in names if len(name) > 2}


NAMES = school_names()


def assert_leaks_nothing(text: str) -> None:
    assert text and len(text) < 300
    assert not re.search(r"\d", text), text
    assert "₹" not in text and "Rs" not in text and "INR" not in text
    assert "HSM-" not in text and "@" not in text and "+91" not in text
    leaked = [name for name in NAMES if re.search(rf"\b{re.escape(name)}\b", text)]
    assert not leaked, (leaked, text)


def test_the_table_covers_exactly_the_expected_capabilities():
    assert set(access.PERMISSIONS) == set(EXPECTED)
    assert access.ROLES == ("admin", "teacher", "student", "guardian", "prospect")
    assert all(isinstance(roles, frozenset) for roles in access.PERMISSIONS.values())


@pytest.mark.parametrize(("role", "capability"), MATRIX)
def test_matrix(role, capability):
    expected = role in EXPECTED[capability]
    who = identity(role)
    assert allowed(role, capability) is expected
    assert allowed(who, capability) is expected
    if expected:
        require(who, capability)
        return
    with pytest.raises(AccessDenied) as refused:
        require(who, capability)
    assert isinstance(refused.value, PermissionError)
    assert refused.value.capability == capability and refused.value.role == role
    assert_leaks_nothing(refused.value.reply)
    # The refusal is the same whoever the caller is: it depends on nothing but the role and the capability.
    other = identity(role, name="Rahul Sharma", person_id=99)
    with pytest.raises(AccessDenied) as again:
        require(other, capability)
    assert again.value.reply == refused.value.reply
    assert "Mary" not in refused.value.reply and "Rahul" not in refused.value.reply


@pytest.mark.parametrize(("role", "intent"), list(product(_ROLE_ORDER, sorted(EXPECTED_INTENTS))))
def test_intent_matrix(role, intent):
    expected = EXPECTED_INTENTS[intent][_ROLE_ORDER.index(role)]
    who = identity(role)
    assert capability_for_intent(who, intent) == expected
    if expected is None:
        with pytest.raises(AccessDenied) as refused:
            require_intent(who, intent)
        assert_leaks_nothing(refused.value.reply)
    else:
        assert require_intent(who, intent) == expected


def _domain_intents() -> set[str]:
    files = [PROJECT_ROOT / "domain.yml"] if (PROJECT_ROOT / "domain.yml").exists() else []
    files += sorted((PROJECT_ROOT / "domain").glob("**/*.yml")) if (PROJECT_ROOT / "domain").is_dir() else []
    intents: set[str] = set()
    for path in files:
        for item in (yaml.safe_load(Path(path).read_text()) or {}).get("intents", []) or []:
            intents.add(next(iter(item)) if isinstance(item, dict) else str(item))
    return intents


def test_every_intent_of_the_domain_declares_who_may_use_it():
    intents = _domain_intents()
    assert intents, "no intents found in domain.yml"
    assert intents <= set(access.INTENT_CAPABILITIES), intents - set(access.INTENT_CAPABILITIES)
    assert set(access.INTENT_CAPABILITIES) == set(EXPECTED_INTENTS)
    for capabilities in access.INTENT_CAPABILITIES.values():
        assert set(capabilities) <= set(access.PERMISSIONS)


@pytest.mark.parametrize("capability", ["", "delete_everything", "MARK_ATTENDANCE", "mark_attendance ", None, 3])
def test_unknown_capabilities_are_refused_for_everyone(capability):
    for role in ALL:
        assert allowed(role, capability) is False
        with pytest.raises(AccessDenied) as refused:
            require(identity(role), capability)
        assert_leaks_nothing(refused.value.reply)


@pytest.mark.parametrize("role", ["", "root", "Admin", "superuser", None])
def test_unknown_roles_may_do_nothing(role):
    for capability in EXPECTED:
        assert allowed(role, capability) is False
    assert capability_for_intent(role, "greet") is None


def test_unknown_intent_is_refused():
    assert capability_for_intent("admin", "drop_tables") is None
    with pytest.raises(AccessDenied):
        require_intent(identity("admin"), "drop_tables")


# ------------------------------------------------------------------------------------------------ several roles

TEACHER_PARENT = Identity(
    "+919811000101",
    "teacher",
    1,
    "Rahul Menon",
    (RoleLink("teacher", 1, "Rahul Menon"), RoleLink("guardian", 12, "Rahul Menon")),
)


@pytest.mark.parametrize(
    "text",
    [
        "as parent",
        "As Parent",
        "as guardian",
        "switch to parent",
        "I'm asking as a parent",
        "as a parent please",
        "I’m writing as a mother",
    ],
)
def test_a_teacher_who_is_a_parent_can_switch(text):
    switched = switch_role(TEACHER_PARENT, text)
    assert switched is not None
    assert (switched.role, switched.person_id, switched.phone) == ("guardian", 12, TEACHER_PARENT.phone)
    assert allowed(switched, "payment_status") and not allowed(switched, "mark_attendance")
    back = switch_role(switched, "as teacher")
    assert (back.role, back.person_id) == ("teacher", 1)


def test_switching_to_a_role_the_number_lacks_or_non_switch_text_is_none():
    assert switch_role(TEACHER_PARENT, "as admin") is None
    assert switch_role(TEACHER_PARENT, "as student") is None
    assert switch_role(identity("guardian"), "as teacher") is None  # a parent cannot make themselves a teacher
    assert switch_role(identity("prospect"), "as parent") is None
    for text in ["parent", "when is my class", "my mother is a teacher", "", "as", "switch to"]:
        assert switch_role(TEACHER_PARENT, text) is None


def test_refusal_hints_at_the_callers_own_other_role_only():
    with pytest.raises(AccessDenied) as refused:
        require(TEACHER_PARENT, "payment_status")
    assert refused.value.reply.endswith("You're writing as a teacher: send 'as parent' to switch.")
    assert_leaks_nothing(refused.value.reply)
    with pytest.raises(AccessDenied) as plain:
        require(identity("teacher"), "payment_status")
    assert "as parent" not in plain.value.reply


def test_prospect_asking_for_family_things_is_told_how_to_link_without_example_data():
    with pytest.raises(AccessDenied) as refused:
        require(identity("prospect"), "classes_remaining")
    assert "enrollment ID" in refused.value.reply
    assert_leaks_nothing(refused.value.reply)


def test_switched_reply_names_only_the_role():
    guardian = switch_role(TEACHER_PARENT, "as parent")
    assert_leaks_nothing(access.switched_reply(guardian))
    assert "parent" in access.switched_reply(guardian)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_no_text_crashes_role_switching(text):
    result = switch_role(TEACHER_PARENT, text)
    assert result is None or result.role in TEACHER_PARENT.roles
