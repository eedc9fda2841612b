"""Staff accounts (hsm.office.staff) on SQLite and PostgreSQL: made from the school's admins and teachers
(idempotent), checked fields, the last active admin kept, passwords (rules, scrypt hash, lockout), and an audit
row for every change that never holds a password, its hash or a token."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hsm.infra import models as m
from hsm.infra.db import session_scope
from hsm.office import passwords, sign_in, staff
from hsm.records.changes import Conflict, NotFound, RecordError

ACTOR = "cli:tests"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch):
    """A cheap scrypt for the tests (the real cost is checked once, below)."""
    monkeypatch.setattr(passwords, "COST", passwords.ScryptCost(n=2**10, r=8, p=1))


def audit(session, *actions: str) -> list[m.AuditLog]:
    query = select(m.AuditLog).where(m.AuditLog.entity == staff.ENTITY)
    if actions:
        query = query.where(m.AuditLog.action.in_(actions))
    return session.execute(query.order_by(m.AuditLog.id)).scalars().all()


def account(session, login: str) -> m.StaffAccount:
    return session.execute(select(m.StaffAccount).where(m.StaffAccount.login == login)).scalar_one()


def test_the_school_s_admins_and_teachers_get_accounts_once(session):
    result = staff.add_from_school(session, ACTOR)
    logins = {view.login: view for view in result.added}
    assert set(logins) == {"meera", "farhan", "rahul", "priya", "joseph", "arjun", "lakshmi", "imran"}
    assert (result.existing, result.skipped) == ([], [])
    meera, rahul = logins["meera"], logins["rahul"]
    assert (meera.role, meera.admin, meera.phone, meera.email) == (
        "admin",
        "ADM-1",
        "+919800000001",
        "meera@hsm.example",
    )
    assert (rahul.role, rahul.teacher, rahul.phone, rahul.name) == ("teacher", "T-101", "+919811000101", "Rahul Menon")
    assert not meera.has_password and meera.active
    again = staff.add_from_school(session, ACTOR)
    assert (again.added, len(again.existing)) == ([], 8)
    assert len(audit(session, "staff.added")) == 8
    view, made = staff.add_from_teacher(session, ACTOR, "T-101")
    assert (view.login, made) == ("rahul", False)


def test_a_teacher_who_left_gets_no_account_and_names_collide_politely(session):
    teacher = session.execute(select(m.Teacher).where(m.Teacher.employee_id == "T-106")).scalar_one()
    teacher.active = False
    staff.add_account(session, ACTOR, login="rahul", name="Rahul Someone Else", role="staff")
    result = staff.add_from_school(session, ACTOR)
    assert "imran" not in {view.login for view in result.added}
    by_teacher = {view.teacher: view.login for view in result.added if view.teacher}
    assert by_teacher["T-101"] == "rahul.menon"  # the first name was taken
    with pytest.raises(Conflict, match="has left"):
        staff.add_from_teacher(session, ACTOR, "T-106")
    with pytest.raises(NotFound):
        staff.add_from_admin(session, ACTOR, "ADM-9")


def test_fields_are_checked(session):
    staff.add_account(session, ACTOR, login="Desk", name="  Front   Desk ", role="staff", phone="98450 00099")
    desk = account(session, "desk")
    assert (desk.name, desk.phone) == ("Front Desk", "+919845000099")
    refused = [
        ({"login": "x"}, RecordError, "login"),
        ({"login": "9lives"}, RecordError, "login"),
        ({"login": "a b c"}, RecordError, "login"),
        ({"role": "owner"}, RecordError, "role"),
        ({"role": "teacher"}, RecordError, "teacher"),  # a teacher account needs its teacher
        ({"phone": "12"}, RecordError, "phone"),
        ({"email": "nobody"}, RecordError, "email"),
        ({"name": "   "}, RecordError, "name"),
        ({"teacher": "T-999"}, NotFound, "teacher"),
        ({"login": "desk"}, Conflict, "login"),
        ({"phone": "+919845000099"}, Conflict, "phone"),
    ]
    for change, error, field in refused:
        fields = {"login": "other", "name": "Other", "role": "staff", **change}
        with pytest.raises(error) as raised:
            staff.add_account(session, ACTOR, **fields)
        assert raised.value.field == field, change
    assert session.execute(select(m.StaffAccount.login)).scalars().all() == ["desk"]


def test_the_last_active_admin_account_stays(session):
    staff.add_from_admin(session, ACTOR, "ADM-1")
    with pytest.raises(Conflict) as refused:
        staff.deactivate(session, ACTOR, "meera")
    assert refused.value.code == "last_admin"
    with pytest.raises(Conflict):
        staff.update_account(session, ACTOR, "meera", {"role": "staff"})
    staff.add_from_admin(session, ACTOR, "ADM-2")
    staff.deactivate(session, ACTOR, "meera")  # farhan remains
    with pytest.raises(Conflict, match="last active admin"):
        staff.update_account(session, ACTOR, "farhan", {"role": "staff"})
    with pytest.raises(Conflict, match="already deactivated"):
        staff.deactivate(session, ACTOR, "meera")
    staff.reactivate(session, ACTOR, "meera")
    staff.update_account(session, ACTOR, "farhan", {"role": "staff"})
    assert account(session, "farhan").role == "staff"
    with pytest.raises(Conflict, match="is active"):
        staff.reactivate(session, ACTOR, "meera")


def test_an_admin_account_whose_admin_has_left_does_not_count_as_another_admin(session):
    """The API refuses the tokens of an account whose admin has left: it cannot be the admin who remains."""
    staff.add_from_admin(session, ACTOR, "ADM-1")
    staff.add_from_admin(session, ACTOR, "ADM-2")
    farhan = account(session, "farhan")
    session.get(m.Admin, farhan.admin_id).active = False  # the admin farhan is has left (hsm people deactivate)
    session.flush()
    with pytest.raises(Conflict) as refused:
        staff.deactivate(session, ACTOR, "meera")
    assert refused.value.code == "last_admin"
    with pytest.raises(Conflict, match="last active admin"):
        staff.update_account(session, ACTOR, "meera", {"role": "staff"})
    farhan.admin_id = None  # an admin account linked to nobody counts
    session.flush()
    staff.deactivate(session, ACTOR, "meera")


def test_two_admins_deactivating_each_other_at_once_do_not_deadlock(school_db, backend, monkeypatch):
    """Each deactivation locks every admin account in id order first: the second waits, counts again and is refused
    (before, each locked its own row and then the other's: PostgreSQL found a deadlock)."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time; the row locks are PostgreSQL's")
    with session_scope(school_db) as session:
        staff.add_from_admin(session, ACTOR, "ADM-1")
        staff.add_from_admin(session, ACTOR, "ADM-2")
    both_checking = threading.Barrier(2)
    keep_an_admin = staff._keep_an_admin

    def meet_then_check(session, account):  # both reach the check at once, if the locks let them
        try:
            both_checking.wait(timeout=3)
        except threading.BrokenBarrierError:
            pass
        keep_an_admin(session, account)

    monkeypatch.setattr(staff, "_keep_an_admin", meet_then_check)
    outcomes: dict[str, object] = {}

    def deactivate(who: str, login: str) -> None:
        try:
            with session_scope(school_db) as session:
                staff.deactivate(session, f"cli:{who}", login)
            outcomes[login] = "deactivated"
        except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
            outcomes[login] = error

    threads = [threading.Thread(target=deactivate, args=(w, t)) for w, t in (("meera", "farhan"), ("farhan", "meera"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    results = sorted(outcomes.values(), key=str)
    assert len(results) == 2 and "deactivated" in results, outcomes
    (refused,) = [result for result in results if result != "deactivated"]
    assert isinstance(refused, Conflict) and refused.code == "last_admin", outcomes


def test_updates_are_audited_field_by_field(session):
    staff.add_from_teacher(session, ACTOR, "T-101")
    view = staff.update_account(session, ACTOR, "rahul", {"email": "rahul@hsm.example", "phone": None})
    assert (view.email, view.phone) == ("rahul@hsm.example", None)
    (row,) = audit(session, "staff.updated")
    assert (row.actor, row.entity_id) == (ACTOR, "rahul")
    assert row.before == {"email": None, "phone": "+919811000101"}
    assert row.after == {"email": "rahul@hsm.example", "phone": None}
    staff.update_account(session, ACTOR, "rahul", {"email": "rahul@hsm.example"})  # no change, no row
    assert len(audit(session, "staff.updated")) == 1
    with pytest.raises(RecordError, match="needs its teacher"):
        staff.update_account(session, ACTOR, "rahul", {"teacher": None})
    with pytest.raises(RecordError):
        staff.update_account(session, ACTOR, "rahul", {"password_hash": "x"})
    with pytest.raises(NotFound):
        staff.update_account(session, ACTOR, "nobody", {"name": "X"})


def test_passwords_follow_the_rules_and_are_kept_only_as_a_hash(session):
    staff.add_from_admin(session, ACTOR, "ADM-1")
    for weak, words in [
        ("short", "at least 12"),
        ("a" * 20, "one character"),
        ("MEERA", "at least 12"),
        ("x" * 300, "at most 256"),
    ]:
        with pytest.raises(RecordError, match=words) as refused:
            staff.set_password(session, ACTOR, "meera", weak)
        assert refused.value.field == "password" and weak not in refused.value.message
    with pytest.raises(passwords.PasswordRejected, match="the login"):
        passwords.check_rules("Meera.Krishnan", "meera.krishnan")
    staff.set_password(session, ACTOR, "meera", PASSWORD)
    stored = account(session, "meera").password_hash
    assert stored.startswith("scrypt$n=1024,r=8,p=1$") and PASSWORD not in stored
    assert passwords.verify(PASSWORD, stored) and not passwords.verify(PASSWORD + "!", stored)
    assert passwords.hash_password(PASSWORD) != stored  # a fresh salt each time
    rows = audit(session)
    text = json.dumps([[row.before, row.after] for row in rows])
    assert PASSWORD not in text and stored.split("$")[-1] not in text and "scrypt" not in text
    assert [row.action for row in rows] == ["staff.added", "staff.password_set"]


def test_the_real_cost_is_owasp_s(monkeypatch):
    monkeypatch.undo()  # the real COST
    stored = passwords.hash_password(PASSWORD)
    assert stored.startswith("scrypt$n=32768,r=8,p=3$")
    assert passwords.verify(PASSWORD, stored) and not passwords.needs_rehash(stored)
    for broken in (None, "", "plain", "scrypt$n=3,r=8,p=1$AAAA$AAAA", "scrypt$n=1073741824,r=8,p=1$AAAA$AAAA"):
        assert not passwords.verify(PASSWORD, broken)


def test_signing_in_counts_failures_and_locks(session):
    staff.add_from_admin(session, ACTOR, "ADM-1")
    assert sign_in.verify_password(session, "meera", PASSWORD).outcome == "wrong"  # no password yet
    staff.set_password(session, ACTOR, "meera", PASSWORD)
    now = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
    signed = sign_in.verify_password(session, " Meera ", PASSWORD, now=now)
    assert signed.ok and signed.account.login == "meera"
    assert account(session, "meera").last_sign_in_at is not None
    assert sign_in.verify_password(session, "nobody", PASSWORD).outcome == "wrong"
    assert sign_in.verify_password(session, "'; drop table x", PASSWORD).outcome == "wrong"
    for attempt in range(1, sign_in.MAX_FAILED_SIGN_INS):
        assert sign_in.verify_password(session, "meera", "wrong password!", now=now).outcome == "wrong"
        assert account(session, "meera").failed_sign_ins == attempt
    locked = sign_in.verify_password(session, "meera", "wrong password!", now=now)
    assert (locked.outcome, locked.locked_until) == ("locked", now + sign_in.LOCKOUT)
    # While locked, even the right password is not checked.
    assert sign_in.verify_password(session, "meera", PASSWORD, now=now + timedelta(minutes=14)).outcome == "locked"
    assert sign_in.verify_password(session, "meera", PASSWORD, now=now + timedelta(minutes=16)).ok
    assert account(session, "meera").failed_sign_ins == 0
    actions = [row.action for row in audit(session)]
    assert actions.count("staff.sign_in_failed") == 1 + sign_in.MAX_FAILED_SIGN_INS - 1  # with no password set too
    assert actions.count("staff.locked") == 1 and actions.count("staff.signed_in") == 2
    assert actions.count("staff.sign_in_refused") == 1  # the right password while locked
    # Setting a password lifts a lockout.
    for _ in range(sign_in.MAX_FAILED_SIGN_INS):
        sign_in.verify_password(session, "meera", "wrong password!", now=now)
    staff.set_password(session, ACTOR, "meera", PASSWORD + "2")
    assert sign_in.verify_password(session, "meera", PASSWORD + "2", now=now).ok


def test_who_has_left_cannot_sign_in(session):
    staff.add_from_school(session, ACTOR)
    staff.set_password(session, ACTOR, "rahul", PASSWORD)
    staff.set_password(session, ACTOR, "farhan", PASSWORD)
    staff.deactivate(session, ACTOR, "farhan")
    assert sign_in.verify_password(session, "farhan", PASSWORD).outcome == "inactive"
    teacher = session.execute(select(m.Teacher).where(m.Teacher.employee_id == "T-101")).scalar_one()
    teacher.active = False  # the teacher left the school's records
    assert sign_in.verify_password(session, "rahul", PASSWORD).outcome == "inactive"
    refused = [row for row in audit(session) if row.action == "staff.sign_in_refused"]
    assert [(row.entity_id, row.after) for row in refused] == [
        ("farhan", {"reason": "inactive"}),
        ("rahul", {"reason": "inactive"}),
    ]


def test_a_stronger_cost_rehashes_at_the_next_sign_in(session, monkeypatch):
    staff.add_from_admin(session, ACTOR, "ADM-1")
    staff.set_password(session, ACTOR, "meera", PASSWORD)
    monkeypatch.setattr(passwords, "COST", passwords.ScryptCost(n=2**11, r=8, p=1))
    assert sign_in.verify_password(session, "meera", PASSWORD).ok
    assert account(session, "meera").password_hash.startswith("scrypt$n=2048,")


def test_a_dry_run_changes_nothing(school_db):
    with staff.change_scope(dry_run=True) as session:
        assert len(staff.add_from_school(session, ACTOR).added) == 8
    with session_scope() as session:
        assert session.execute(select(m.StaffAccount)).first() is None
        assert audit(session) == []


def test_deactivating_revokes_the_account_s_tokens(session):
    staff.add_from_school(session, ACTOR)
    meera = account(session, "meera")
    now = datetime.now(timezone.utc)
    for jti, role in (("a" * 32, "admin"), ("b" * 32, "staff")):
        session.add(
            m.AdminToken(
                jti=jti,
                subject="meera",
                role=role,
                staff_account_id=meera.id,
                issued_at=now,
                expires_at=now + timedelta(hours=1),
                issued_by=ACTOR,
            )
        )
    session.flush()
    staff.update_account(session, ACTOR, "meera", {"role": "staff"})  # farhan stays admin
    tokens = {t.jti[0]: t for t in session.execute(select(m.AdminToken)).scalars()}
    session.refresh(tokens["a"])
    assert tokens["a"].revoked_at is not None and tokens["b"].revoked_at is None  # the staff one stays
    staff.deactivate(session, ACTOR, "meera")
    session.refresh(tokens["b"])
    assert tokens["b"].revoked_by == ACTOR
    (row,) = audit(session, "staff.deactivated")
    (revocation,) = session.execute(select(m.AdminTokenRevocation)).scalars().all()
    assert (revocation.subject, revocation.revoked_by) == ("meera", ACTOR)
    assert (row.after["active"], row.after["tokens_revoked"]) == (False, 1)
    assert row.after["revoked_before"][:19] == revocation.revoked_before.isoformat()[:19]
