"""Makeups whose host class the school calls off, against the demo school (SQLite and PostgreSQL), "now" Tuesday
1 Dec 2026 16:30: the teacher's leave, a whole-school closure and a batch's closure cancel the makeups booked into
those classes in their own transaction (credit back, audited), the families are told once, the class is not offered
again, reopening or withdrawing restores nothing, a failure rolls everything back, and a booking and a calling off
at the same instant go one after the other (PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from hsm.classes import closures, leave, leave_withdraw, makeup_cancel
from hsm.classes.makeup_bookings import book
from hsm.classes.makeup_slots import open_slots
from hsm.classes.makeups import grant_credit_for_notice
from hsm.infra import models as m
from hsm.infra.db import session_factory, session_scope
from hsm.outreach import closure_notices
from hsm.records.changes import Conflict
from hsm.whatsapp.templates import TEMPLATES_FILE, import_templates

IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 12, 1, 16, 30, tzinfo=IST)
SATURDAY = date(2026, 12, 5)  # Keyboard Kids (Anika, Meghana) meets Saturdays at 10:00
WEDNESDAY, FRIDAY = date(2026, 12, 2), date(2026, 12, 4)  # Keyboard Beginner (Ms. Priya) meets Mon/Wed/Fri 18:00
HOST = "KEY-BEG-MWF18"
KAVITHA, SUNITHA = "+919845000007", "+919845000024"  # Anika's and Meghana's mothers
ACTOR = "test:makeup-cancel"


def student(session, enrollment_id):
    return session.execute(select(m.Student).filter_by(enrollment_id=enrollment_id)).scalar_one()


def batch(session, code):
    return session.execute(select(m.Batch).filter_by(code=code)).scalar_one()


def granted(session, enrollment_id, *, missed=SATURDAY, noticed_at=NOW):
    """A makeup credit for the student's Keyboard Kids class on `missed`."""
    return grant_credit_for_notice(
        session,
        student_id=student(session, enrollment_id).id,
        batch_id=batch(session, "KEY-KIDS-SA10").id,
        class_date=missed,
        noticed_at=noticed_at,
        actor=ACTOR,
    )


def booked(session, enrollment_id, day, *, missed=SATURDAY, noticed_at=NOW):
    """A credit for the student's Keyboard Kids class on `missed`, used for the host's class on `day`."""
    credit = granted(session, enrollment_id, missed=missed, noticed_at=noticed_at)
    return book(session, credit_id=credit.id, batch_id=batch(session, HOST).id, class_date=day, actor=ACTOR, now=NOW)


def cancellations(session):
    return list(session.execute(select(m.AuditLog).filter_by(action="makeup.cancelled")).scalars())


def offered(session, credit):
    return [(s.batch.code, s.class_date) for s in open_slots(session, credit, NOW)]


def priya(session):
    return batch(session, HOST).teacher


# ------------------------------------------------------------------------------------------------ leave


def test_the_host_teachers_leave_cancels_the_makeup_gives_the_credit_back_and_tells_the_family(session):
    anika = booked(session, "HSM-24-008", WEDNESDAY)
    meghana = booked(session, "HSM-24-024", FRIDAY)  # another day: not touched
    teacher = priya(session)

    _, notices = leave.record_leave_days(session, teacher.id, [WEDNESDAY], "fever", "teacher:T-102")

    assert (anika.status, anika.seat, anika.cancelled_at is not None) == ("cancelled", None, True)
    assert anika.credit.status == "open" and anika.credit.expires_on == SATURDAY + timedelta(days=30)  # not cut short
    assert (meghana.status, meghana.credit.status) == ("booked", "used")
    (audit,) = cancellations(session)
    assert (audit.actor, audit.entity_id, audit.before["status"], audit.after["status"]) == (
        "teacher:T-102",
        str(anika.id),
        "booked",
        "cancelled",
    )
    assert audit.after["why"] == "Ms. Priya is on leave" and "credit_expires_on" not in audit.after

    told = [n for n in notices if n.template == makeup_cancel.FAMILY_TEMPLATE]
    assert [(n.phone, n.audience) for n in told] == [(KAVITHA, "guardian")]
    assert told[0].text == (
        "Hi Kavitha, Anika's makeup class, Keyboard Beginner on Wed, Dec 2 at 6:00 PM, is cancelled because the "
        'class is not running (Ms. Priya is on leave). The makeup credit is back, to use by Mon, Jan 4: say "makeup" '
        "to book another class."
    )
    assert told[0].template_params == (
        "Kavitha",
        "Anika's Keyboard Beginner on Wed, Dec 2 at 6:00 PM",
        "Ms. Priya is on leave",
        "Mon, Jan 4",
    )
    assert SUNITHA not in {n.phone for n in notices}
    # The class is not offered again, with the credit that is back; Friday's still is.
    assert (HOST, WEDNESDAY) not in offered(session, anika.credit) and (HOST, FRIDAY) in offered(session, anika.credit)

    # The same leave reported again tells nobody again; withdrawn, it does not restore the booking.
    assert leave.record_leave_days(session, teacher.id, [WEDNESDAY], "fever", "teacher:T-102")[1] == []
    withdrawal = leave_withdraw.withdraw_leave(session, teacher.id, [WEDNESDAY], "teacher:T-102")
    assert all(n.template != makeup_cancel.FAMILY_TEMPLATE for n in withdrawal.notices)
    session.refresh(anika)
    assert anika.status == "cancelled" and anika.credit.status == "open" and len(cancellations(session)) == 1
    assert (HOST, WEDNESDAY) in offered(session, anika.credit)  # held again: bookable again


def test_a_credit_near_its_expiry_stays_open_a_week_after_the_cancelled_class(session):
    missed = date(2026, 11, 28)  # last Saturday's class, notice given the day before
    anika = booked(session, "HSM-24-008", WEDNESDAY, missed=missed, noticed_at=NOW - timedelta(days=4))
    anika.credit.expires_on = WEDNESDAY  # the last day it could be used
    session.flush()

    _, notices = leave.record_leave_days(session, priya(session).id, [WEDNESDAY], None, "teacher:T-102")

    assert anika.credit.status == "open" and anika.credit.expires_on == WEDNESDAY + timedelta(days=7)
    (audit,) = cancellations(session)
    assert (audit.before["credit_expires_on"], audit.after["credit_expires_on"]) == ("2026-12-02", "2026-12-09")
    (told,) = [n for n in notices if n.template == makeup_cancel.FAMILY_TEMPLATE]
    assert "to use by Wed, Dec 9" in told.text and told.template_params[3] == "Wed, Dec 9"


def test_a_leave_over_several_days_tells_a_family_of_several_makeups_in_one_message(session):
    wednesday = booked(session, "HSM-24-008", WEDNESDAY)
    friday = booked(session, "HSM-24-008", FRIDAY, missed=date(2026, 12, 12))  # Anika's second credit

    _, notices = leave.record_leave_days(session, priya(session).id, [WEDNESDAY, FRIDAY], None, "teacher:T-102")

    assert (wednesday.status, friday.status) == ("cancelled", "cancelled")
    (told,) = [n for n in notices if n.template == makeup_cancel.FAMILY_TEMPLATE]
    assert told.phone == KAVITHA and told.text == (
        "Hi Kavitha, these makeup classes are cancelled because the classes are not running (Ms. Priya is on "
        "leave): Anika's Keyboard Beginner on Wed, Dec 2 at 6:00 PM; Anika's Keyboard Beginner on Fri, Dec 4 at "
        '6:00 PM. The makeup credits are back (the first to use by Mon, Jan 4): say "makeup" to book others.'
    )


# ------------------------------------------------------------------------------------------------ closures


def test_a_whole_school_closure_cancels_the_makeups_that_day_and_tells_their_families_once(session, school_db):
    import_templates(TEMPLATES_FILE, school_db)
    anika = booked(session, "HSM-24-008", WEDNESDAY)
    meghana = booked(session, "HSM-24-024", WEDNESDAY)
    friday = booked(session, "HSM-24-025", FRIDAY)  # Advik, another day

    made = closure_notices.close(session, ACTOR, WEDNESDAY, None, "elections")

    assert made.makeups_cancelled == 2 and made.broadcast_id is not None  # the enrolled families: the broadcast
    assert [b.status for b in (anika, meghana, friday)] == ["cancelled", "cancelled", "booked"]
    assert [b.credit.status for b in (anika, meghana, friday)] == ["open", "open", "used"]
    assert {a.after["why"] for a in cancellations(session)} == {"the school is closed: elections"}
    assert sorted((n.phone, n.template) for n in made.notices) == [
        (KAVITHA, "makeup_cancelled"),
        (SUNITHA, "makeup_cancelled"),
    ]
    assert "Meghana's makeup class, Keyboard Beginner on Wed, Dec 2 at 6:00 PM, is cancelled" in next(
        n.text for n in made.notices if n.phone == SUNITHA
    )
    assert (HOST, WEDNESDAY) not in offered(session, anika.credit)

    closure_notices.reopen(session, ACTOR, made.closure.id)  # reopened: the bookings stay cancelled
    session.refresh(anika)
    assert anika.status == "cancelled" and len(cancellations(session)) == 2


def test_a_batch_closure_cancels_only_that_batchs_makeups_and_without_notify_tells_nobody(session):
    wednesday = booked(session, "HSM-24-008", WEDNESDAY)
    friday = booked(session, "HSM-24-024", FRIDAY)
    other = closure_notices.close(session, ACTOR, WEDNESDAY, FRIDAY, "repairs", ["GTR-BEG-TT17"])
    assert other.makeups_cancelled == 0 and other.notices == [] and wednesday.status == "booked"

    made = closure_notices.close(session, ACTOR, FRIDAY, None, "piano tuning", [HOST], notify=False)

    assert (made.makeups_cancelled, made.notices, made.not_told) == (1, [], "not asked to")
    assert (wednesday.status, friday.status, friday.credit.status) == ("booked", "cancelled", "open")
    (audit,) = cancellations(session)
    assert audit.entity_id == str(friday.id) and audit.after["why"] == "piano tuning" and audit.actor == ACTOR
    assert (HOST, FRIDAY) not in offered(session, friday.credit)


def test_a_makeup_class_already_under_way_is_not_undone(session):
    anika = booked(session, "HSM-24-008", WEDNESDAY)
    closure = closures.create_closure(session, ACTOR, WEDNESDAY, None, "power cut", [HOST])
    started = datetime(2026, 12, 2, 18, 5, tzinfo=IST)
    assert makeup_cancel.cancel_for_closure(session, closure, ACTOR, now=started).bookings == []
    assert anika.status == "booked" and cancellations(session) == []
    assert makeup_cancel.cancel_for_closure(session, closure, ACTOR, now=NOW).bookings == [anika]


def test_an_announced_closure_marked_from_whatsapp_tells_the_makeup_families(session):
    anika = booked(session, "HSM-24-008", FRIDAY)
    announcement = closure_notices.broadcast.create_broadcast(
        session, "admin:ADM-1", {"kind": "course", "code": "KEYBOARD"}, text="No keyboard classes on 4 Dec, recital"
    )
    offer = closure_notices.offer_for(session, announcement.id, announcement.audience, announcement.text)
    assert offer is not None

    lines, notices = closure_notices.accept_offer(session, "admin:ADM-1", offer)

    assert anika.status == "cancelled" and anika.credit.status == "open"
    assert "1 makeup booking(s) in those classes cancelled, credits back" in lines[0]
    assert [(n.phone, n.template) for n in notices] == [(KAVITHA, "makeup_cancelled")]


# ------------------------------------------------------------------------------------------------ all or nothing


def _fail_on_second_release(monkeypatch):
    calls: list[int] = []
    real = makeup_cancel.release

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(makeup_cancel, "release", flaky)
    return calls


def _state(url):
    with session_scope(url) as s:
        statuses = sorted(s.execute(select(m.MakeupBooking.status)).scalars())
        credits = sorted(s.execute(select(m.MakeupCredit.status)).scalars())
        audits = s.execute(select(func.count()).select_from(m.AuditLog).filter_by(action="makeup.cancelled"))
        leaves = s.execute(select(func.count()).select_from(m.TeacherLeave)).scalar_one()
        closed = s.execute(select(func.count()).select_from(m.Closure)).scalar_one()
        return statuses, credits, audits.scalar_one(), leaves, closed


@pytest.mark.parametrize("what", ["leave", "closure"])
def test_a_failure_half_way_leaves_nothing_written(school_db, monkeypatch, what):
    with session_scope(school_db) as s:
        booked(s, "HSM-24-008", WEDNESDAY)
        booked(s, "HSM-24-024", WEDNESDAY)
        teacher_id = priya(s).id
    before = _state(school_db)
    assert before == (["booked", "booked"], ["used", "used"], 0, 0, 0)
    calls = _fail_on_second_release(monkeypatch)

    with pytest.raises(RuntimeError, match="went away"), session_scope(school_db) as s:
        if what == "leave":
            leave.record_leave_days(s, teacher_id, [WEDNESDAY], "fever", "teacher:T-102")
        else:
            closure_notices.close(s, ACTOR, WEDNESDAY, None, "elections", [HOST])

    assert len(calls) == 2  # the first booking was cancelled in the transaction, then it failed
    assert _state(school_db) == before  # no leave, no closure, both makeups booked with their credits used


# ------------------------------------------------------------------------------------------------ at the same instant


def in_a_thread(url, work) -> tuple[threading.Thread, dict]:
    """`work(session)` in its own transaction on another thread; what it returned or raised lands in the dict."""
    result: dict = {}

    def run() -> None:
        try:
            with session_scope(url) as s:
                result["value"] = work(s)
        except Exception as error:  # noqa: BLE001 - handed to the test
            result["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def waiting_for_a_lock(url: str, timeout_s: float = 10.0) -> bool:
    """Whether another connection to the test database comes to wait for a lock within `timeout_s` (PostgreSQL's
    pg_stat_activity, read in a new transaction each time: it is a snapshot per transaction)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with session_scope(url) as s:
            waiting = s.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting:
            return True
        time.sleep(0.05)
    return False


def open_credit(school_db):
    """Anika's credit (committed), the host batch's id, Ms. Priya's id."""
    with session_scope(school_db) as s:
        return granted(s, "HSM-24-008").id, batch(s, HOST).id, priya(s).id


def second_waits_for_first(url: str, first, second) -> tuple[object, dict]:
    """`first(session)` in a transaction held open while `second(session)` runs on another thread; the second is
    seen waiting for a lock, then the first commits. What `first` returned, and the second's result (in_a_thread)."""
    session = session_factory(url)()
    try:
        done = first(session)
        thread, result = in_a_thread(url, second)
        assert waiting_for_a_lock(url)  # the second waits for the first's transaction
        session.commit()
    finally:
        session.close()
    thread.join(30)
    return done, result


def booking_into_wednesday(credit_id: int, host_id: int):
    return lambda s: book(s, credit_id=credit_id, batch_id=host_id, class_date=WEDNESDAY, actor=ACTOR, now=NOW)


def test_a_booking_made_while_the_leave_is_recorded_waits_and_then_finds_the_class_off(school_db, backend):
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time; the row locks are PostgreSQL's")
    credit_id, host_id, teacher_id = open_credit(school_db)
    _, result = second_waits_for_first(
        school_db,
        lambda s: leave.record_leave_days(s, teacher_id, [WEDNESDAY], "fever", "teacher:T-102"),
        booking_into_wednesday(credit_id, host_id),
    )
    assert isinstance(result.get("error"), Conflict) and result["error"].code == "makeup_full"
    with session_scope(school_db) as s:
        assert s.execute(select(func.count()).select_from(m.MakeupBooking)).scalar_one() == 0
        assert s.get(m.MakeupCredit, credit_id).status == "open"


@pytest.mark.parametrize("what", ["leave", "closure"])
def test_a_class_called_off_while_a_makeup_is_booked_waits_and_then_cancels_it(school_db, backend, what):
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time; the row locks are PostgreSQL's")
    credit_id, host_id, teacher_id = open_credit(school_db)

    def call_off(s):
        if what == "leave":
            return leave.record_leave_days(s, teacher_id, [WEDNESDAY], "fever", "teacher:T-102")[1]
        return closure_notices.close(s, ACTOR, WEDNESDAY, None, "elections", [HOST], notify=False).makeups_cancelled

    booking, result = second_waits_for_first(school_db, booking_into_wednesday(credit_id, host_id), call_off)
    booking_id = booking.id
    assert "error" not in result, result
    if what == "leave":
        assert KAVITHA in {notice.phone for notice in result["value"] if notice.template == "makeup_cancelled"}
    else:
        assert result["value"] == 1
    with session_scope(school_db) as s:
        assert s.get(m.MakeupBooking, booking_id).status == "cancelled"
        assert s.get(m.MakeupCredit, credit_id).status == "open"
