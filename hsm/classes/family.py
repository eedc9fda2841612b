"""Answers for students and guardians about their own classes: next class (UC-4), classes left and dues (UC-5, UC-7).

Every answer is built only from the students the caller's phone may see (`identity.students_for`): a guardian's
children, or a student themselves. A child's name is matched among those students only, so a name from another
family gets exactly the answer a made-up name gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hsm.classes import schedule
from hsm.infra import clock
from hsm.infra import models as m
from hsm.money import billing
from hsm.people.identity import Identity, students_for

FAMILY_ROLES = ("student", "guardian")
NAME_MATCH_MIN = 80  # rapidfuzz ratio (0-100) for a typed name to count as one of the caller's children
NAME_TIE_MARGIN = 5  # children scoring within this of the best are all candidates
ALL_CHILDREN_WORDS = {
    "all",
    "both",
    "everyone",
    "all of them",
    "both of them",
    "kids",
    "children",
    "my kids",
    "my children",
}
HORIZON_DAYS = 35  # how far ahead "next class" looks (five weeks covers a holiday week)


@dataclass(frozen=True)
class Answer:
    """A reply text; `choices` (child first name, student enrollment_id) when the caller must pick a child."""

    text: str
    choices: list[tuple[str, str]] = field(default_factory=list)


# ---------------------------------------------------------------- formatting shared by the family answers


def money(amount: int) -> str:
    return f"₹{amount}"


def time_text(moment: datetime) -> str:
    """'5:00 PM', '10:00 AM'."""
    return moment.strftime("%I:%M %p").lstrip("0")


def day_text(day: date, today: date) -> str:
    """'Today', 'Tomorrow', or 'Sat, Dec 5' (with the year when it is not this year)."""
    if day == today:
        return "Today"
    if day == today + timedelta(days=1):
        return "Tomorrow"
    text = f"{day:%a}, {day:%b} {day.day}"
    return text if day.year == today.year else f"{text}, {day.year}"


def date_text(day: date, today: date) -> str:
    """'Dec 20', or 'Feb 10, 2027' when not this year."""
    text = f"{day:%b} {day.day}"
    return text if day.year == today.year else f"{text}, {day.year}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 class', '2 classes', '7 seats'."""
    return f"{count} {word}" if count == 1 else f"{count} {many or word + 's'}"


def first_name(student: m.Student) -> str:
    return student.name.split()[0]


def _display_names(students: list[m.Student]) -> dict[int, str]:
    """First names, or full names where two of the caller's students share a first name."""
    firsts = [first_name(s) for s in students]
    return {s.id: (first_name(s) if firsts.count(first_name(s)) == 1 else s.name) for s in students}


# ---------------------------------------------------------------- who the caller is asking about


def _family_identity(identity: Identity) -> Identity | None:
    """The caller as a student or guardian: their active role, else another role their number holds; else None."""
    if identity.role in FAMILY_ROLES:
        return identity
    for role in FAMILY_ROLES:
        if role in identity.roles:
            return identity.as_role(role)
    return None


def refusal_text(identity: Identity) -> str:
    """Why a caller who is not a student or guardian gets no family answers."""
    if identity.role == "teacher":
        return 'This is for students and parents. For your own classes, ask me "my classes today".'
    if identity.role == "admin":
        return 'This is for students and parents. To look up a student, ask me "student info" with their name.'
    return (
        "I couldn't find a student linked to this number. If you'd like to join the school, ask me about our "
        'courses, e.g. "piano classes".'
    )


def _name_score(query: str, student: m.Student) -> float:
    candidates = [student.name.lower(), *student.name.lower().split()]
    return max(fuzz.ratio(query, candidate) for candidate in candidates)


def resolve_children(session: Session, identity: Identity, child_name: str | None) -> list[m.Student]:
    """The caller's students that `child_name` names (all of them when None or "both"); [] when it names none.

    Only the caller's own students are searched, so a name from another family can never match.
    """
    family = _family_identity(identity)
    if family is None:
        return []
    students = students_for(session, family)
    if not _names_someone(child_name):
        return students
    query = " ".join((child_name or "").lower().split())
    scores = {s.id: _name_score(query, s) for s in students}
    best = max(scores.values(), default=0)
    if best < NAME_MATCH_MIN:
        return []
    return [s for s in students if scores[s.id] >= max(NAME_MATCH_MIN, best - NAME_TIE_MARGIN)]


def _who(session: Session, identity: Identity, child_name: str | None) -> tuple[list[m.Student], Answer | None]:
    """The students to answer about, or the answer to give instead (refusal, not found, which child)."""
    family = _family_identity(identity)
    if family is None:
        return [], Answer(refusal_text(identity))
    everyone = students_for(session, family)
    if not everyone:
        return [], Answer("I couldn't find any enrolled student on your number. Please contact the office.")
    chosen = resolve_children(session, family, child_name)
    noun = "child" if family.role == "guardian" else "student"
    names = _display_names(everyone)
    all_choices = [(names[s.id], s.enrollment_id) for s in everyone]
    if not chosen:
        text = f"I couldn't find a {noun} called {(child_name or '').strip()[:40]} on your number."
        if family.role == "guardian" and len(everyone) > 1:
            return [], Answer(f"{text} Which child do you mean: {_or_list([n for n, _ in all_choices])}?", all_choices)
        if family.role == "guardian":
            return [], Answer(f"{text} I can tell you about {names[everyone[0].id]}.", all_choices)
        return [], Answer(text)
    if len(chosen) > 1 and _names_someone(child_name):
        choices = [(names[s.id], s.enrollment_id) for s in chosen]
        return [], Answer(f"Which child do you mean: {_or_list([n for n, _ in choices])}?", choices)
    return chosen, None


def _names_someone(child_name: str | None) -> bool:
    query = " ".join((child_name or "").lower().split())
    return bool(query) and query not in ALL_CHILDREN_WORDS


def _or_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" or {words[-1]}"


def _grouped(
    students: list[m.Student],
    lines_for: dict[int, list[str]],
    single_title: str,
    family_title: str,
    several: bool,
    sep: str = ": ",
) -> str:
    """One student: the title and their lines. Several: the family title and 'Name: line' for each line."""
    if not several:
        return "\n".join([single_title, *(f"• {line}" for line in lines_for[students[0].id])])
    names = _display_names(students)
    out = [family_title]
    for student in students:
        out.extend(f"• {names[student.id]}{sep}{line}" for line in lines_for[student.id])
    return "\n".join(out)


def _is_guardian(identity: Identity) -> bool:
    family = _family_identity(identity)
    return family is not None and family.role == "guardian"


# ---------------------------------------------------------------- UC-4: next class


def _enrollments(session: Session, student_id: int, statuses: tuple[str, ...]) -> list[m.Enrollment]:
    return list(
        session.execute(
            select(m.Enrollment)
            .where(m.Enrollment.student_id == student_id, m.Enrollment.status.in_(statuses))
            .options(
                selectinload(m.Enrollment.batch).selectinload(m.Batch.slots),
                selectinload(m.Enrollment.batch).selectinload(m.Batch.course),
                selectinload(m.Enrollment.batch).selectinload(m.Batch.teacher),
            )
            .order_by(m.Enrollment.id)
        ).scalars()
    )


def _class_label(batch: m.Batch) -> str:
    """'Keyboard (Ms. Priya)', or 'Keyboard (no teacher)' while its teacher has left."""
    return f"{batch.course.name} ({schedule.teacher_label(batch)})"


def _why_skipped(meeting: schedule.ClassMeeting) -> str:
    """'Christmas holiday', 'school closed (heavy rain)', 'teacher on leave'."""
    return meeting.closed.phrase if meeting.closed is not None else (meeting.note or "cancelled")


def _day_word(day: date, today: date) -> str:
    label = day_text(day, today)
    return label.lower() if label in ("Today", "Tomorrow") else label


def _skip_notes(skipped: list[schedule.ClassMeeting], today: date) -> list[str]:
    """Why each skipped class is skipped; a run of them for the same reason (a closure of a week) is one note."""
    runs: list[list[schedule.ClassMeeting]] = []
    for meeting in skipped:
        same = bool(runs) and (runs[-1][-1].closed or runs[-1][-1].note) == (meeting.closed or meeting.note)
        if same and meeting.closed is not None:
            runs[-1].append(meeting)
        else:
            runs.append([meeting])
    notes = []
    for run in runs:
        first, last = run[0].class_date, run[-1].class_date
        if first == last:
            when = _day_word(first, today)
            notes.append(f"no class {when if when in ('today', 'tomorrow') else 'on ' + when}: {_why_skipped(run[0])}")
        else:
            notes.append(
                f"no classes from {_day_word(first, today)} to {day_text(last, today)}: {_why_skipped(run[0])}"
            )
    return notes


def _next_class_lines(session: Session, student: m.Student, now: datetime) -> list[str]:
    today = now.date()
    timed: list[tuple[datetime, str]] = []
    undated: list[str] = []
    for enrollment in _enrollments(session, student.id, ("active",)):
        upcoming = [
            meeting
            for meeting in schedule.meetings_between(
                session, [enrollment.batch], today, today + timedelta(days=HORIZON_DAYS)
            )
            if meeting.starts_at > now
        ]
        meeting = next((mt for mt in upcoming if mt.held), None)
        skipped = [mt for mt in upcoming if not mt.held and (meeting is None or mt.starts_at < meeting.starts_at)]
        why = f" ({'; '.join(_skip_notes(skipped, today))})" if skipped else ""
        if meeting is None:
            undated.append(f"{_class_label(enrollment.batch)} - no class in the next {HORIZON_DAYS // 7} weeks{why}")
            continue
        when = f"{day_text(meeting.class_date, today)} {time_text(meeting.starts_at)}"
        timed.append((meeting.starts_at, f"{_class_label(enrollment.batch)} - {when}{why}"))
    paused = [f"⏸️ {e.batch.name} is paused" for e in _enrollments(session, student.id, ("paused",))]
    return [line for _, line in sorted(timed, key=lambda pair: pair[0])] + undated + paused


@dataclass(frozen=True)
class _DayEntry:
    text: str
    held: bool


def _day_entries(session: Session, student: m.Student, day: date, now: datetime) -> list[_DayEntry]:
    """The student's classes on `day`: held ones, and ones that will not happen (holiday, closure, leave, paused)."""
    entries = []
    for meeting in schedule.meetings_between(
        session, [e.batch for e in _enrollments(session, student.id, ("active",))], day, day
    ):
        label = f"{_class_label(meeting.batch)} - {time_text(meeting.starts_at)}"
        if meeting.closed is not None:  # "(holiday: Christmas)", "(school closed: heavy rain)"
            entries.append(_DayEntry(f"{label} ({meeting.closed.labelled})", False))
        elif not meeting.held:
            entries.append(_DayEntry(f"{label} (cancelled: {meeting.note or 'no class'})", False))
        else:
            entries.append(_DayEntry(label + (" (already over)" if meeting.ends_at <= now else ""), True))
    entries.extend(
        _DayEntry(f"⏸️ {e.batch.name} is paused", False)
        for e in _enrollments(session, student.id, ("paused",))
        if any(slot.weekday == day.weekday() for slot in e.batch.slots)
    )
    return entries


def _day_phrase(day: date, today: date) -> str:
    """'today (Tue, Dec 1)', 'tomorrow (Wed, Dec 2)', 'on Sat, Dec 5'."""
    label = day_text(day, today)
    dated = f"{day:%a}, {day:%b} {day.day}"
    return f"{label.lower()} ({dated})" if label in ("Today", "Tomorrow") else f"on {label}"


def _title(guardian: bool, students: list[m.Student], own: str, childs: str) -> str:
    """'📅 Your next class:' for a student; '📅 Anika's next class:' for a guardian of one child."""
    if guardian and len(students) == 1:
        return childs.format(name=_display_names(students)[students[0].id])
    return own


def next_classes_text(
    session: Session, identity: Identity, child_name: str | None = None, day: date | None = None
) -> Answer:
    """UC-4: each course's next class with teacher and local time; or, with `day`, that day's classes only."""
    students, early = _who(session, identity, child_name)
    if early:
        return early
    now = clock.now()
    guardian = _is_guardian(identity)
    several = guardian and len(students) > 1
    if day is None:
        lines = {s.id: _next_class_lines(session, s, now) or ["no classes scheduled"] for s in students}
        dated = sum(1 for ls in lines.values() for ln in ls if not ln.startswith(("⏸️", "no classes")))
        classes = "class" if dated == 1 else "classes"
        title = _title(guardian, students, f"📅 Your next {classes}:", f"📅 {{name}}'s next {classes}:")
        if dated == 0 and not several:
            title = _title(guardian, students, "📅 You have no upcoming classes.", "📅 {name} has no upcoming classes.")
            lines = {sid: [ln for ln in ls if ln != "no classes scheduled"] for sid, ls in lines.items()}
        return Answer(_grouped(students, lines, title, "📅 Next classes:", several))
    phrase = _day_phrase(day, now.date())
    entries = {s.id: _day_entries(session, s, day, now) for s in students}
    if not any(entry.held for items in entries.values() for entry in items):
        names = _display_names(students)
        whom = f" for {' or '.join(names[s.id] for s in students)}" if several else ""
        text = f"No class {phrase}{whom}."
        notes = [(names[sid] + ": " if several else "") + e.text for sid, items in entries.items() for e in items]
        return Answer("\n".join([text, *(f"• {note}" for note in notes)]))
    lines = {sid: [e.text for e in items] or ["no class"] for sid, items in entries.items()}
    title = f"📅 {phrase[0].upper()}{phrase[1:]}:".replace("📅 On ", "📅 ")
    return Answer(_grouped(students, lines, title, title, several))


# ---------------------------------------------------------------- UC-5: classes remaining


def _classes_left(balance: billing.Balance) -> str:
    if balance.classes_remaining == 0:
        return "⚠️ no classes left"
    if balance.low:
        return f"⚠️ only {plural(balance.classes_remaining, 'class', 'classes')} left"
    return f"{balance.classes_remaining} classes left"


def _due_phrase(balance: billing.Balance) -> str:
    if balance.next_due is None:
        return "no payment scheduled"
    if balance.overdue:
        return f"⚠️ {money(balance.fee)} overdue since {date_text(balance.next_due, balance.today)}"
    if balance.next_due == balance.today:
        return f"{money(balance.fee)} due today"
    return f"next payment {money(balance.fee)} due {date_text(balance.next_due, balance.today)}"


def _balance_line(balance: billing.Balance) -> str:
    if balance.status == "paused":
        return f"{balance.course} (paused): {_classes_left(balance)}"
    line = f"{balance.course}: {_classes_left(balance)}, {_due_phrase(balance)}"
    if balance.low and balance.overdue:  # one warning sign per line is enough
        line = line.replace(", ⚠️ ", ", ")
    return line


def balance_text(session: Session, identity: Identity, child_name: str | None = None) -> Answer:
    """UC-5: classes remaining per course and the next payment date; low balances and overdue fees pointed out."""
    students, early = _who(session, identity, child_name)
    if early:
        return early
    today = clock.today()
    guardian = _is_guardian(identity)
    lines: dict[int, list[str]] = {}
    attention = False
    for student in students:
        balances = billing.balances(session, student.id, today)
        lines[student.id] = [_balance_line(b) for b in balances] or ["no current enrollments"]
        attention = attention or any(b.status == "active" and (b.low or b.overdue) for b in balances)
    title = "📊 Your classes:"
    if guardian and len(students) == 1:
        title = f"📊 {_display_names(students)[students[0].id]}'s classes:"
    text = _grouped(students, lines, title, "📊 Classes remaining:", guardian and len(students) > 1, " – ")
    if attention:
        text += '\n\nReply "send payment link" to pay online.'
    return Answer(text)


# ---------------------------------------------------------------- UC-7: dues


def _due_line(balance: billing.Balance) -> str:
    assert balance.next_due is not None  # one of billing.dues(): each has a due date
    if balance.overdue:
        return f"{balance.course}: {money(balance.fee)} ⚠️ overdue since {date_text(balance.next_due, balance.today)}"
    when = "today" if balance.next_due == balance.today else date_text(balance.next_due, balance.today)
    return f"{balance.course}: {money(balance.fee)} due {when}"


def dues_text(session: Session, identity: Identity, child_name: str | None = None) -> Answer:
    """UC-7: what is due (overdue first), how much, for which course, by when; and the total."""
    students, early = _who(session, identity, child_name)
    if early:
        return early
    today = clock.today()
    guardian = _is_guardian(identity)
    owed = {
        s.id: sorted(billing.dues(session, s.id, today), key=lambda b: (not b.overdue, b.next_due)) for s in students
    }
    total = sum(b.fee for items in owed.values() for b in items)
    names = _display_names(students)
    if total == 0:
        upcoming = sorted(
            (b.next_due, names[s.id], b)
            for s in students
            for b in billing.balances(session, s.id, today)
            if b.status == "active" and b.next_due
        )
        text = "✅ Nothing is due in the next 30 days."
        if upcoming:
            due_on, name, balance = upcoming[0]
            whose = f"{name}'s " if guardian and len(students) > 1 else ""
            text += f" Next payment: {whose}{balance.course} {money(balance.fee)} on {date_text(due_on, today)}."
        return Answer(text)
    lines = {sid: [_due_line(b) for b in items] for sid, items in owed.items()}
    shown = [s for s in students if lines[s.id]]
    title = "💰 Payment due:"
    if guardian and len(shown) == 1:
        title = f"💰 {names[shown[0].id]}'s payment due:"
    text = _grouped(shown, lines, title, "💰 Payments due:", guardian and len(shown) > 1, " – ")
    count = sum(len(items) for items in owed.values())
    if count > 1:
        text += f"\nTotal: {money(total)}"
    if not guardian and len(students) == 1:
        last = billing.last_payment(session, students[0].id)
        if last is not None:
            course = f" for {last.course.name}" if last.course else ""
            text += f"\nLast payment: {money(last.amount)}{course} on {date_text(last.paid_on, today)}."
    return Answer(text + '\n\nReply "send payment link" to pay online.')
