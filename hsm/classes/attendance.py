"""Attendance (UC-1): which class the teacher means, the draft in `attendance_drafts`, names matched against that
batch's roster (with the makeups booked into that day's class), and saving exactly once (re-marking corrects
balances instead of counting twice); makeup classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hsm.classes import absences, closures, past_class
from hsm.classes.attendance_text import AttendanceStatement
from hsm.classes.dates import short_day_label
from hsm.classes.makeup_slots import booked_students
from hsm.classes.roster_match import NameMatch, RosterEntry, match_name
from hsm.classes.schedule import ClassMeeting, batch_roster, teacher_classes_on
from hsm.infra import clock, metrics
from hsm.infra import models as m
from hsm.records.changes import record_change

PRESENT, ABSENT = "present", "absent"
# A class counts as "the one just taught" from 15 minutes before it starts to 90 minutes after it ends.
CURRENT_BEFORE = timedelta(minutes=15)
CURRENT_AFTER = timedelta(minutes=90)
NEAR_TIME = timedelta(minutes=30)  # "guitar 5pm" also finds a class at 5:15


class AttendanceError(ValueError):
    """Something the teacher can fix; the message is written for them."""


def time_text(value: time | datetime) -> str:
    return value.strftime("%I:%M %p").lstrip("0")


def class_label(meeting: ClassMeeting) -> str:
    return f"{meeting.batch.name} {time_text(meeting.starts_at)}"


# ------------------------------------------------------------------------------------------------ which class


@dataclass(frozen=True)
class ClassChoice:
    """The class the teacher means, or the classes to choose from, or why there is none."""

    meeting: ClassMeeting | None = None
    options: tuple[ClassMeeting, ...] = ()
    problem: str | None = None


def _matches_instrument(meeting: ClassMeeting, instrument: str) -> bool:
    wanted = instrument.strip().lower()
    course = meeting.batch.course
    names = [course.name.lower(), course.code.lower(), meeting.batch.name.lower(), *(a.lower() for a in course.aliases)]
    return any(wanted in name or name in wanted for name in names)


def _matches_level(meeting: ClassMeeting, level: str) -> bool:
    """'intermediate', 'inter', 'Int.' name the Intermediate batch: the first three letters decide."""
    wanted = "".join(ch for ch in level.lower() if ch.isalpha())[:3]
    return len(wanted) == 3 and (meeting.batch.level or "").lower().startswith(wanted)


def _matches_time(meeting: ClassMeeting, at: time) -> bool:
    start = meeting.starts_at
    wanted = start.replace(hour=at.hour, minute=at.minute)
    return abs(start - wanted) <= NEAR_TIME


def _list_classes(meetings: list[ClassMeeting]) -> str:
    return ", ".join(class_label(mt) for mt in meetings)


def _why_not_held(meeting: ClassMeeting) -> str:
    """'school closed: heavy rain', 'holiday: Christmas', 'teacher on leave'."""
    return meeting.closed.labelled if meeting.closed is not None else (meeting.note or "cancelled")


def _not_held_problem(meetings: list[ClassMeeting], when: str) -> ClassChoice:
    """The clear reply for a class that is not held (closed, a holiday, leave): nothing to mark."""
    if len(meetings) == 1:
        meeting = meetings[0]
        return ClassChoice(
            problem=f"{class_label(meeting)} {when} is cancelled ({_why_not_held(meeting)}), "
            "so there is no attendance to mark."
        )
    reasons = list(dict.fromkeys(_why_not_held(mt) for mt in meetings))
    return ClassChoice(problem=f"Your classes {when} are not held: {'; '.join(reasons)}. Nothing to mark.")


def choose_class(
    session: Session,
    teacher_id: int,
    now: datetime | None = None,
    *,
    instrument: str | None = None,
    at: time | None = None,
    batch_code: str | None = None,
    level: str | None = None,
    day: date | None = None,
) -> ClassChoice:
    """The teacher's class that they mean, today or on a past `day` within the correction window: named by batch
    code (a button), instrument, level and/or time, or implied (their only class, or the one in progress / just
    finished). Others' batches are never offered; a class that is not held (closed by the office, a holiday, the
    teacher's leave) gets a clear reply."""
    now = now or clock.now()
    day = day or now.date()
    refused = past_class.refusal(day, now.date())
    if refused:
        return ClassChoice(problem=refused)
    today = teacher_classes_on(session, teacher_id, day)
    held = [mt for mt in today if mt.held]
    when = past_class.when(day, now.date())
    short_when = when.split(" (")[0]  # "today", "yesterday", "on Monday, Nov 30"
    if not held:
        if today:
            return _not_held_problem(today, when)
        return ClassChoice(problem=f"You have no classes {when}, so there is no attendance to mark.")
    if batch_code:
        chosen = [mt for mt in held if mt.batch.code == batch_code]
        if not chosen:
            cancelled = [mt for mt in today if mt.batch.code == batch_code]
            if cancelled:
                return _not_held_problem(cancelled[:1], when)
            return ClassChoice(
                problem=f"That batch isn't one of your classes {short_when}. "
                f"Your classes {short_when}: {_list_classes(held)}."
            )
        return ClassChoice(meeting=chosen[0])

    def named(meeting: ClassMeeting) -> bool:
        return (
            (not instrument or _matches_instrument(meeting, instrument))
            and (not at or _matches_time(meeting, at))
            and (not level or _matches_level(meeting, level))
        )

    candidates = [mt for mt in held if named(mt)]
    if (instrument or at or level) and not candidates:
        cancelled = [mt for mt in today if not mt.held and named(mt)]
        if cancelled:
            return _not_held_problem(cancelled, when)
        asked = " ".join(
            part
            for part in (
                instrument.title() if instrument else None,
                level.title() if level else None,
                "batch",
                f"at {time_text(at)}" if at else None,
            )
            if part
        )
        return ClassChoice(
            problem=f"I couldn't find a {asked} {short_when}. Your classes {short_when}: {_list_classes(held)}."
        )
    if len(candidates) == 1:
        return ClassChoice(meeting=candidates[0])
    current = [mt for mt in candidates if mt.starts_at - CURRENT_BEFORE <= now <= mt.ends_at + CURRENT_AFTER]
    if len(current) == 1:
        return ClassChoice(meeting=current[0])
    return ClassChoice(options=tuple(candidates))


# ------------------------------------------------------------------------------------------------ drafts


@dataclass
class DraftView:
    """A draft as the teacher sees it: everyone on the roster with ✓/✗ (or ? when not said yet)."""

    draft: m.AttendanceDraft
    meeting_label: str
    roster: list[m.Student]
    marks: dict[int, str]
    pending: list[dict] = field(default_factory=list)  # {"query", "status", "candidates": [student ids]}
    unknown: list[str] = field(default_factory=list)
    informed: set[int] = field(default_factory=set)  # absent with notice (hsm.classes.absences): pre-marked absent
    guests: frozenset[int] = frozenset()  # students booked into this class as a makeup (hsm.classes.makeup_bookings)
    asked: str = PRESENT  # what a bare list of names answers: "Who was present?" or "Who was absent?"

    @property
    def complete(self) -> bool:
        return all(s.id in self.marks for s in self.roster) and not self.pending

    def counts(self) -> tuple[int, int]:
        statuses = list(self.marks.values())
        return statuses.count(PRESENT), statuses.count(ABSENT)


class DraftIncomplete(AttendanceError):
    """A yes before every student is marked (or a name is still unclear): nothing is saved, the draft stays open,
    and `view` says what is still missing, so that the teacher can be asked for it."""

    def __init__(self, current: DraftView) -> None:
        super().__init__("Some students are still unclear; I can't save yet.")
        self.view = current


def roster_entries(students: list[m.Student]) -> list[RosterEntry]:
    return [RosterEntry(student_id=s.id, name=s.name) for s in students]


def saved_marks(session: Session, batch_id: int, class_date: date) -> dict[int, str]:
    rows = session.execute(
        select(m.AttendanceRecord).where(
            m.AttendanceRecord.batch_id == batch_id,
            m.AttendanceRecord.class_date == class_date,
            m.AttendanceRecord.is_makeup.is_(False),
        )
    ).scalars()
    return {row.student_id: row.status for row in rows}


def open_draft(session: Session, teacher_id: int) -> m.AttendanceDraft | None:
    """The teacher's draft still waiting for a yes (there is at most one)."""
    return session.execute(
        select(m.AttendanceDraft)
        .where(m.AttendanceDraft.teacher_id == teacher_id, m.AttendanceDraft.status == "draft")
        .order_by(m.AttendanceDraft.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def start_draft(
    session: Session, teacher_id: int, meeting: ClassMeeting, original_message: str | None, makeup: bool = False
) -> m.AttendanceDraft:
    """A fresh draft for this class; any other open draft of the teacher is dropped (one conversation at a time)."""
    session.execute(
        update(m.AttendanceDraft)
        .where(m.AttendanceDraft.teacher_id == teacher_id, m.AttendanceDraft.status == "draft")
        .values(status="rejected")
        .execution_options(synchronize_session=False)
    )
    draft = m.AttendanceDraft(
        batch_id=meeting.batch.id,
        teacher_id=teacher_id,
        attendance_date=meeting.class_date,
        parsed_data={
            "marks": {},
            "pending": [],
            "unknown": [],
            "makeup": makeup,
            "starts_at": meeting.starts_at.isoformat(),
            "informed": []
            if makeup
            else sorted(absences.informed_students(session, meeting.batch.id, meeting.class_date)),
        },
        original_message=(original_message or "")[:2000],
        status="draft",
    )
    session.add(draft)
    session.flush()
    return draft


def view(session: Session, draft: m.AttendanceDraft) -> DraftView:
    data = draft.parsed_data or {}
    batch = session.get(m.Batch, draft.batch_id)
    starts_at = datetime.fromisoformat(data["starts_at"]) if data.get("starts_at") else None
    label = f"{batch.name} {time_text(starts_at)}" if starts_at else batch.name
    if draft.attendance_date != clock.today():  # a past class: the day is part of its name
        label = f"{label} on {short_day_label(draft.attendance_date)}"
    if data.get("makeup"):
        ids = [int(i) for i in data.get("marks", {})]
        roster = [session.get(m.Student, i) for i in ids]
        label = f"makeup in {label}"
        guests: list[m.Student] = []
    else:
        roster = batch_roster(session, draft.batch_id)
        enrolled = {s.id for s in roster}
        guests = [s for s in booked_students(session, draft.batch_id, draft.attendance_date) if s.id not in enrolled]
    informed = {int(i) for i in data.get("informed", [])} & {s.id for s in roster}
    marks = {int(k): v for k, v in data.get("marks", {}).items()}
    return DraftView(
        draft,
        label,
        roster + guests,
        {**{i: ABSENT for i in informed}, **marks},
        list(data.get("pending", [])),
        list(data.get("unknown", [])),
        informed,
        frozenset(s.id for s in guests),
        data.get("asked", PRESENT),
    )


def _store(draft: m.AttendanceDraft, current: DraftView) -> None:
    draft.parsed_data = {
        **(draft.parsed_data or {}),
        "marks": {str(k): v for k, v in current.marks.items()},
        "pending": current.pending,
        "unknown": current.unknown,
        "asked": current.asked,
    }


def _blanket(current: DraftView, status: str) -> dict[int, str]:
    """Everyone marked `status`, except that an informed absence stays absent until the teacher names the student."""
    return {s.id: ABSENT if s.id in current.informed else status for s in current.roster}


def ask(session: Session, draft: m.AttendanceDraft, status: str) -> DraftView:
    """The bot asks "Who was <status>?": a bare list of names in reply is read as that."""
    current = view(session, draft)
    current.asked = status
    _store(draft, current)
    return current


def apply_statement(session: Session, draft: m.AttendanceDraft, statement: AttendanceStatement) -> DraftView:
    """Fold what the teacher said into the draft. A first list implies the rest ("only John came" = the others
    were absent); once everyone is marked, names only change those students ("Sarah was also present")."""
    current = view(session, draft)
    entries = roster_entries(current.roster)
    first_word = not set(current.marks) - current.informed
    if statement.everyone in (PRESENT, ABSENT):
        current.marks = _blanket(current, statement.everyone)
    elif first_word and statement.present and not statement.absent:
        current.marks = _blanket(current, ABSENT)
    elif first_word and statement.absent and not statement.present:
        current.marks = _blanket(current, PRESENT)
    current.unknown = []
    for status, names in ((PRESENT, statement.present), (ABSENT, statement.absent)):
        for name in names:
            found: NameMatch = match_name(name, entries)
            if found.resolved:
                current.marks[found.resolved.student_id] = status
                current.pending = [p for p in current.pending if found.resolved.student_id not in p["candidates"]]
            elif found.ambiguous:
                current.pending.append(
                    {"query": name, "status": status, "candidates": [c.student_id for c in found.candidates]}
                )
            else:
                current.unknown.append(name)
                current.asked = status  # "Who did you mean by 'Priyanka'?": a name in reply has this status
    _store(draft, current)
    return current


def resolve_pending(session: Session, draft: m.AttendanceDraft, student_id: int) -> DraftView:
    """The teacher picked one of the students a name could mean (a button)."""
    current = view(session, draft)
    for item in list(current.pending):
        if student_id in item["candidates"]:
            current.marks[student_id] = item["status"]
            current.pending.remove(item)
            break
    _store(draft, current)
    return current


MAKEUP = re.compile(r"\bmake\s*-?\s*up\b", re.IGNORECASE)
_NOT_NAMES = re.compile(
    r"\b(mark|makeup|make|up|attendance|class|classes|for|today|came|come|in|at|the|a|an|"
    r"batch|student|please|pls|of|with|my|\d{1,2}(?::\d{2})?\s*(?:am|pm)?)\b",
    re.IGNORECASE,
)


def makeup_student(session: Session, meeting: ClassMeeting, text: str) -> m.Student | None:
    """The student a makeup request names ("mark makeup attendance for Daniel in guitar"): looked up only among
    the active students of the class's course (a batch the teacher teaches); None when the name fits nobody or
    several, so nobody outside that course is found or named."""
    course = meeting.batch.course
    words = {course.name.lower(), course.code.lower(), *(a.lower() for a in course.aliases)}
    name = _NOT_NAMES.sub(" ", text)
    name = " ".join(w for w in name.split() if w.lower().strip(",.!?") not in words)
    course_students = (
        session.execute(
            select(m.Student)
            .join(m.Enrollment)
            .join(m.Batch, m.Batch.id == m.Enrollment.batch_id)
            .where(m.Batch.course_id == course.id, m.Enrollment.status == "active", m.Student.active.is_(True))
        )
        .scalars()
        .unique()
        .all()
    )
    found = match_name(name, roster_entries(list(course_students)))
    return session.get(m.Student, found.resolved.student_id) if found.resolved else None


def draft_for_makeup(
    session: Session, teacher_id: int, meeting: ClassMeeting, student: m.Student, original_message: str | None
) -> DraftView:
    draft = start_draft(session, teacher_id, meeting, original_message, makeup=True)
    draft.parsed_data = {**draft.parsed_data, "marks": {str(student.id): PRESENT}}
    return view(session, draft)


# ------------------------------------------------------------------------------------------------ saving


@dataclass(frozen=True)
class SaveResult:
    label: str
    present: int
    absent: int
    replaced: bool
    already_saved: bool
    no_classes_left: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        counts = f"({self.present} present, {self.absent} absent)"
        if self.already_saved:
            return f"That attendance is already saved for {self.label} ✓ {counts}."
        verb = "updated" if self.replaced else "saved"
        text = f"Attendance {verb} for {self.label} ✓ {counts}"
        if self.no_classes_left:
            text += "\n⚠️ No classes left for " + ", ".join(self.no_classes_left) + ": please remind them to renew."
        return text


def _enrollment_for(session: Session, student_id: int, batch: m.Batch, makeup: bool) -> m.Enrollment | None:
    query = select(m.Enrollment).where(m.Enrollment.student_id == student_id)
    if makeup:  # a makeup class is taken from the student's enrollment in the same course
        query = query.join(m.Batch, m.Batch.id == m.Enrollment.batch_id).where(
            m.Batch.course_id == batch.course_id, m.Enrollment.status == "active"
        )
    else:
        query = query.where(m.Enrollment.batch_id == batch.id)
    # Only the enrollment's row: a lock on the joined batch rows, taken in roster order, would deadlock with the
    # makeups' batch locks, taken in id order (makeup_bookings.hold_batches).
    locked = query.order_by(m.Enrollment.id).limit(1).with_for_update(of=m.Enrollment)
    return session.execute(locked).scalar_one_or_none()


def _flag_makeup(
    session: Session,
    actor: str,
    batch: m.Batch,
    day: date,
    student: m.Student,
    enrollment: m.Enrollment | None,
    status: str,
) -> None:
    """Every makeup class is written to `audit_log` marked for the office's review (a class taken from an
    enrollment in another batch)."""
    record_change(
        session,
        actor,
        "attendance.makeup",
        "attendance_records",
        f"{batch.code}:{day}:{student.enrollment_id}",
        None,
        {"status": status, "from_batch": enrollment.batch.code if enrollment is not None else None, "review": True},
    )


def confirm(session: Session, draft_id: int, actor: str) -> SaveResult:
    """Save the draft exactly once: only the request that flips it from draft to confirmed writes anything;
    a repeated yes, a duplicate delivery or a concurrent confirmation gets the saved result back."""
    draft = session.get(m.AttendanceDraft, draft_id)
    if draft is None:
        raise AttendanceError("I couldn't find that attendance draft any more. Please start again.")
    if draft.status == "draft":
        day = draft.attendance_date  # closed by the office after the draft was started: the class is not held
        why = closures.closed_days(session, day, day, {draft.batch_id}).why(draft.batch_id, day)
        if why is not None:
            raise AttendanceError(
                f"{view(session, draft).meeting_label} is cancelled ({why.labelled}), so there is no attendance "
                "to save. Say 'cancel' to drop it."
            )
        unfinished = view(session, draft)
        if unfinished.pending or not unfinished.complete:  # a yes too early: the draft stays open
            raise DraftIncomplete(unfinished)
    flipped = (
        session.execute(
            update(m.AttendanceDraft)
            .where(m.AttendanceDraft.id == draft_id, m.AttendanceDraft.status == "draft")
            .values(status="confirmed", confirmed_at=clock.utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    session.refresh(draft)
    current = view(session, draft)
    present, absent = current.counts()
    if not flipped:
        if draft.status != "confirmed":
            raise AttendanceError("That attendance was cancelled, so nothing was saved.")
        return SaveResult(current.meeting_label, present, absent, replaced=False, already_saved=True)

    batch = session.get(m.Batch, draft.batch_id)
    makeup_draft = bool((draft.parsed_data or {}).get("makeup"))
    source = past_class.source_for(draft.attendance_date, clock.today())
    before: dict[str, str] = {}
    empty: list[str] = []
    for student in current.roster:
        status = current.marks[student.id]
        record = session.execute(
            select(m.AttendanceRecord)
            .where(
                m.AttendanceRecord.student_id == student.id,
                m.AttendanceRecord.batch_id == batch.id,
                m.AttendanceRecord.class_date == draft.attendance_date,
            )
            .with_for_update()
        ).scalar_one_or_none()
        previous = record.status if record else None
        if previous:
            before[student.enrollment_id] = previous
        if previous == status:
            continue
        makeup = makeup_draft or student.id in current.guests  # a class taken from their own batch's balance
        enrollment = _enrollment_for(session, student.id, batch, makeup)
        if makeup:
            _flag_makeup(session, actor, batch, draft.attendance_date, student, enrollment, status)
        if enrollment is not None:
            if status == PRESENT:
                if enrollment.classes_remaining > 0:
                    enrollment.classes_remaining -= 1
                else:
                    empty.append(student.name)
            elif previous == PRESENT:  # corrected from present to absent: give the class back
                enrollment.classes_remaining += 1
        if record is None:
            session.add(
                m.AttendanceRecord(
                    student_id=student.id,
                    batch_id=batch.id,
                    class_date=draft.attendance_date,
                    status=status,
                    is_makeup=makeup,
                    marked_by=actor.split(":")[-1],
                    source=source,
                )
            )
        else:
            record.status, record.marked_by, record.source = status, actor.split(":")[-1], source
        metrics.ATTENDANCE_SAVED.labels(source).inc()
    if not makeup_draft:
        absences.link_informed_records(session, batch.id, draft.attendance_date)
    after = {s.enrollment_id: current.marks[s.id] for s in current.roster}
    record_change(
        session,
        actor,
        "attendance.replaced" if before else "attendance.saved",
        "attendance_records",
        f"{batch.code}:{draft.attendance_date}",
        before or None,
        after,
    )
    session.flush()
    return SaveResult(
        current.meeting_label, present, absent, replaced=bool(before), already_saved=False, no_classes_left=tuple(empty)
    )


def cancel(session: Session, teacher_id: int) -> bool:
    """Drop the teacher's open draft; True when there was one."""
    return (
        session.execute(
            update(m.AttendanceDraft)
            .where(m.AttendanceDraft.teacher_id == teacher_id, m.AttendanceDraft.status == "draft")
            .values(status="rejected")
            .execution_options(synchronize_session=False)
        ).rowcount
        > 0
    )


# ------------------------------------------------------------------------------------------------ wording


def summary_text(current: DraftView, saved: dict[int, str] | None = None) -> str:
    """The confirmation message: everyone with ✓/✗, then what still needs an answer."""
    lines = [f"📝 Attendance for {current.meeting_label}:"]
    for student in current.roster:
        mark = current.marks.get(student.id)
        symbol = {"present": "✓", "absent": "✗"}.get(mark or "", "?")
        informed = " (informed)" if mark == ABSENT and student.id in current.informed else ""
        makeup = " (makeup)" if student.id in current.guests else ""
        lines.append(f"{symbol} {student.name}{informed}{makeup}")
    present, absent = current.counts()
    lines.append(f"\n{present} present, {absent} absent.")
    if saved:
        lines.append("⚠️ This class was already marked; saving replaces it (balances are corrected).")
    if current.unknown:
        lines.append("I couldn't find " + ", ".join(f"'{n}'" for n in current.unknown) + " in this batch.")
    return "\n".join(lines)
