"""Enrollment inquiries (UC-6): course facts from the school's data, batches that fit, honest age answers, leads.

"I want to enroll my child in piano classes" → `course_info` → `course_info_text` → ask only what is missing
(`missing_details`) → `fitting_batches` → "Would you like an administrator to call you?" → `create_lead`, whose
notices go to every active admin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

import phonenumbers
from rapidfuzz import fuzz
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hsm.classes.schedule import teacher_label
from hsm.infra import models as m
from hsm.infra.phone import InvalidPhoneNumber, normalise_phone
from hsm.outreach.leads import lead_created
from hsm.outreach.notices import Notice, office_admins, staff_quote
from hsm.records.changes import record_change

COURSE_MATCH_MIN = 85  # rapidfuzz ratio for a word or phrase to name a course ("guitaar" → Guitar)
LEVELS = ("Beginner", "Intermediate", "Advanced")
DEFAULT_LEVEL = "Beginner"
KIDS_BATCH_WORDS = ("kids", "children", "junior")
KIDS_MAX_AGE = 12  # a batch called "Keyboard Kids" is offered to children up to this age only
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LEAD_TEMPLATE = "new_lead_admin"  # templates/whatsapp_templates.yaml: "New lead: {{1}}" (the summary)

# Everyday names for the school's courses, by course code, on top of the `aliases` in the school file.
COMMON_ALIASES: dict[str, tuple[str, ...]] = {
    "KEYBOARD": ("keys", "key board", "keyboards", "synth", "synthesizer", "casio"),
    "GUITAR": ("guitars", "acoustic guitar", "electric guitar"),
    "PIANO": ("pianos", "pianoforte"),
    "DRUMS": ("drum", "drum kit", "drumming"),
    "VIOLIN": ("fiddle", "violins"),
    "CARNATIC_VOCAL": ("vocal", "carnatic vocal", "classical singing"),
}
COURSE_EMOJI = {
    "PIANO": "🎹",
    "KEYBOARD": "🎹",
    "GUITAR": "🎸",
    "VIOLIN": "🎻",
    "DRUMS": "🥁",
    "CARNATIC_VOCAL": "🎤",
    "TABLA": "🪘",
}


@dataclass(frozen=True)
class PlanInfo:
    plan: str
    fee: int
    classes: int


@dataclass(frozen=True)
class CourseInfo:
    code: str
    name: str
    min_age: int | None
    plans: tuple[PlanInfo, ...]
    levels: tuple[str, ...]  # levels the school runs batches at
    other_courses: tuple[tuple[str, int | None], ...] = ()  # (name, min_age) of the school's other courses


# ---------------------------------------------------------------- which course


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


def _course_names(course: m.Course) -> set[str]:
    names = {course.name, course.code.replace("_", " "), *(course.aliases or []), *COMMON_ALIASES.get(course.code, ())}
    return {_normalise(name) for name in names if name}


def _phrases(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + size]) for size in (3, 2, 1) for i in range(len(words) - size + 1)]


def _match_score(phrase: str, name: str) -> float:
    if phrase == name:
        return 101.0  # an exact name beats any fuzzy one
    if len(phrase) < 4 or len(name) < 4:
        return 0.0  # "in", "my", "keys": short words must be exact
    return fuzz.ratio(phrase, name)


def find_course(session: Session, course_text: str | None) -> m.Course | None:
    """The course `course_text` names: a name, code or alias, typos allowed, also inside a sentence."""
    text = _normalise(course_text or "")
    if not text:
        return None
    best: tuple[float, int, m.Course] | None = None
    for course in session.execute(select(m.Course).order_by(m.Course.id)).scalars():
        for name in _course_names(course):
            score = max((_match_score(phrase, name) for phrase in [text, *_phrases(text)]), default=0.0)
            if score >= COURSE_MATCH_MIN and (best is None or (score, len(name)) > best[:2]):
                best = (score, len(name), course)
    return best[2] if best else None


def course_info(session: Session, course_text: str | None) -> CourseInfo | None:
    """Fees per plan, minimum age and levels of the course `course_text` names; None if the school doesn't teach it."""
    course = find_course(session, course_text)
    if course is None:
        return None
    levels = (
        session.execute(
            select(m.Batch.level).where(m.Batch.course_id == course.id, m.Batch.active.is_(True)).distinct()
        )
        .scalars()
        .all()
    )
    others = session.execute(
        select(m.Course.name, m.Course.min_age).where(m.Course.id != course.id).order_by(m.Course.id)
    ).all()
    return CourseInfo(
        code=course.code,
        name=course.name,
        min_age=course.min_age,
        plans=tuple(PlanInfo(p.plan, p.fee, p.classes) for p in sorted(course.plans, key=lambda p: p.classes)),
        levels=tuple(sorted({lv for lv in levels if lv}, key=_level_rank)),
        other_courses=tuple((name, min_age) for name, min_age in others),
    )


def course_info_text(info: CourseInfo) -> str:
    """'🎹 Piano: monthly ₹2500 (8 classes), quarterly ₹7000 (24 classes). Minimum age 6.'"""
    plans = ", ".join(f"{p.plan} ₹{p.fee} ({p.classes} classes)" for p in info.plans)
    text = f"{COURSE_EMOJI.get(info.code, '🎵')} {info.name}: {plans}."
    if info.min_age:
        text += f" Minimum age {info.min_age}."
    return text


def unknown_course_text(session: Session, course_text: str | None) -> str:
    """The honest answer for a course the school does not teach, with what it does teach."""
    names = session.execute(select(m.Course.name).order_by(m.Course.id)).scalars().all()
    asked = (course_text or "").strip()
    lead = f"Sorry, we don't teach {asked}." if asked else "Which course are you interested in?"
    return f"{lead} We teach {', '.join(names[:-1])} and {names[-1]}." if names else lead


# ---------------------------------------------------------------- age


def _years(count: int) -> str:
    return {1: "in a year", 2: "in a couple of years"}.get(count, f"in {count} years")


def age_check(info: CourseInfo, age: int | None) -> str | None:
    """None when the age is fine (or unknown); otherwise the honest answer, with a course that fits sooner."""
    if age is None or info.min_age is None or age >= info.min_age:
        return None
    if age < 1:
        return "Could you tell me the student's age in years?"
    text = f"{info.name} starts at age {info.min_age}; we'd love to see your child {_years(info.min_age - age)}"
    ready = sorted((min_age or 0, name) for name, min_age in info.other_courses if (min_age or 0) <= age)
    youngest = sorted((min_age or 0, name) for name, min_age in info.other_courses)
    if ready:
        return f"{text} — {ready[0][1]} starts at {ready[0][0]}."
    if youngest and youngest[0][0] < info.min_age:
        return f"{text} — {youngest[0][1]} starts even earlier, at {youngest[0][0]}."
    return f"{text}."


# ---------------------------------------------------------------- level and preferred time


def _level_rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


def normalise_level(text: str | None) -> str:
    """'beginner', 'new', 'none', 'some experience', 'advanced'... → one of LEVELS; unknown → Beginner."""
    words = _normalise(text or "")
    if not words:
        return DEFAULT_LEVEL
    if re.search(r"\b(advanced|expert|professional|grade [5-8])\b", words):
        return "Advanced"
    if re.search(r"\b(intermediate|medium)\b", words):
        return "Intermediate"
    if re.search(r"\b(no|never|none|not|zero|new|beginners?|basic|basics|starting|fresher)\b", words):
        return DEFAULT_LEVEL
    if re.search(r"\b(some|played|plays|years?|months|grade [1-4])\b", words):
        return "Intermediate"
    for level in LEVELS:
        if fuzz.ratio(words, level.lower()) >= COURSE_MATCH_MIN:
            return level
    return DEFAULT_LEVEL


@dataclass(frozen=True)
class Preference:
    """Days (0 = Monday) and a start-time window wanted; None = anything."""

    days: frozenset[int] | None = None
    earliest: time | None = None
    latest: time | None = None  # exclusive

    @property
    def empty(self) -> bool:
        return self.days is None and self.earliest is None and self.latest is None

    def fits(self, weekday: int, start: time) -> bool:
        return (
            (self.days is None or weekday in self.days)
            and (self.earliest is None or start >= self.earliest)
            and (self.latest is None or start < self.latest)
        )


_DAY_WORDS = {
    0: ("mon", "monday", "mondays"),
    1: ("tue", "tues", "tuesday", "tuesdays"),
    2: ("wed", "weds", "wednesday", "wednesdays"),
    3: ("thu", "thur", "thurs", "thursday", "thursdays"),
    4: ("fri", "friday", "fridays"),
    5: ("sat", "saturday", "saturdays"),
    6: ("sun", "sunday", "sundays"),
}
_PARTS_OF_DAY = {
    "morning": (time(6), time(12)),
    "mornings": (time(6), time(12)),
    "afternoon": (time(12), time(16)),
    "afternoons": (time(12), time(16)),
    "evening": (time(16), time(21)),
    "evenings": (time(16), time(21)),
    "night": (time(18), time(23)),
    "nights": (time(18), time(23)),
}
_CLOCK = re.compile(r"\b(after|before|around|at|from)\s+(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?\b")
_BARE_CLOCK = re.compile(r"(?<!\w)()(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)\b")  # "10am", "6:30 pm": around then


def _clock_time(hour: int, minute: int, meridiem: str | None) -> time | None:
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    elif meridiem is None and 1 <= hour <= 8:
        hour += 12  # "after 5": the school teaches 10:00-20:00, so small hours mean the evening
    return time(hour, minute) if 0 <= hour <= 23 and 0 <= minute <= 59 else None


def parse_preference(text: str | None) -> Preference:
    """'weekends', 'evenings', 'saturday morning', 'after 5pm', 'Tue or Thu before 6'."""
    words = _normalise(text or "")
    tokens = set(words.split())
    days: set[int] = set()
    if tokens & {"weekend", "weekends"}:
        days |= {5, 6}
    if tokens & {"weekday", "weekdays"}:
        days |= {0, 1, 2, 3, 4}
    for weekday, names in _DAY_WORDS.items():
        if tokens & set(names):
            days.add(weekday)
    earliest: time | None = None
    latest: time | None = None

    def narrow(start: time | None, end: time | None) -> None:
        nonlocal earliest, latest
        if start is not None:
            earliest = start if earliest is None else max(earliest, start)
        if end is not None:
            latest = end if latest is None else min(latest, end)

    for word in tokens & set(_PARTS_OF_DAY):
        narrow(*_PARTS_OF_DAY[word])
    spoken = " ".join(
        re.sub(r"[^a-z0-9:. ]+", " ", (text or "").lower().replace("p.m.", "pm").replace("a.m.", "am")).split()
    )
    times = _CLOCK.findall(spoken) or _BARE_CLOCK.findall(spoken)
    for keyword, hour, minute, meridiem in times:
        at = _clock_time(int(hour), int(minute or 0), meridiem or None)
        if at is None:
            continue
        if keyword in ("after", "from"):
            narrow(at, None)
        elif keyword == "before":
            narrow(None, at)
        else:  # around / at: within an hour either side
            narrow(time(max(at.hour - 1, 0), at.minute), time(min(at.hour + 1, 23), at.minute, 1))
    return Preference(frozenset(days) if days else None, earliest, latest)


# ---------------------------------------------------------------- batches that fit


@dataclass(frozen=True)
class BatchOption:
    code: str
    name: str
    course: str
    level: str
    teacher: str  # "Ms. Priya"
    schedule: str  # "Sat 10:00 AM", "Tue/Thu 5:00 PM"
    free_seats: int
    fits_preference: bool  # False: nothing fit the stated preference, so these are the other batches

    @property
    def text(self) -> str:
        """'Sat 10:00 AM, Ms. Priya, 7 seats free'."""
        seats = "1 seat" if self.free_seats == 1 else f"{self.free_seats} seats"
        return f"{self.schedule}, {self.teacher}, {seats} free"


def _clock_text(start: time) -> str:
    return start.strftime("%I:%M %p").lstrip("0")


def schedule_text(batch: m.Batch) -> str:
    """'Mon/Wed/Fri 6:00 PM'; days grouped by start time when they differ."""
    by_time: dict[time, list[int]] = {}
    for slot in sorted(batch.slots, key=lambda s: (s.weekday, s.start_time)):
        by_time.setdefault(slot.start_time, []).append(slot.weekday)
    return ", ".join(
        f"{'/'.join(WEEKDAY_NAMES[d] for d in days)} {_clock_text(start)}"
        for start, days in sorted(by_time.items(), key=lambda item: item[1][0])
    )


def _is_kids_batch(batch: m.Batch) -> bool:
    return any(word in batch.name.lower() for word in KIDS_BATCH_WORDS)


def _taken_seats(session: Session, batch_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(m.Enrollment.batch_id, func.count(m.Enrollment.id))
        .join(m.Student, m.Student.id == m.Enrollment.student_id)
        .where(m.Enrollment.batch_id.in_(batch_ids), m.Enrollment.status == "active", m.Student.active.is_(True))
        .group_by(m.Enrollment.batch_id)
    ).all()
    return {batch_id: count for batch_id, count in rows}


def fitting_batches(
    session: Session, course_code: str, age: int | None, level: str | None, preferred: str | None
) -> list[BatchOption]:
    """Batches of the course at the level (unknown → Beginner) with a free seat, for the age; preference first.

    If none fits the stated preference, the others come back with `fits_preference=False`.
    """
    course = session.execute(select(m.Course).where(m.Course.code == course_code)).scalar_one_or_none()
    if course is None or (age is not None and course.min_age is not None and age < course.min_age):
        return []
    wanted_level = normalise_level(level)
    batches = [
        b
        for b in session.execute(
            select(m.Batch)
            .where(m.Batch.course_id == course.id, m.Batch.active.is_(True))
            .options(selectinload(m.Batch.slots), selectinload(m.Batch.teacher))
            .order_by(m.Batch.code)
        ).scalars()
        if (b.level or DEFAULT_LEVEL).lower() == wanted_level.lower()
        and not (age is not None and age > KIDS_MAX_AGE and _is_kids_batch(b))
    ]
    taken = _taken_seats(session, [b.id for b in batches])
    open_batches = [b for b in batches if b.capacity - taken.get(b.id, 0) > 0]
    preference = parse_preference(preferred)
    fitting = [b for b in open_batches if any(preference.fits(s.weekday, s.start_time) for s in b.slots)]
    chosen, fits = (fitting, True) if fitting or preference.empty else (open_batches, False)
    child = age is not None and age <= KIDS_MAX_AGE

    def order(batch: m.Batch) -> tuple:
        first = min((s.weekday, s.start_time) for s in batch.slots) if batch.slots else (7, time(0))
        return (not (child and _is_kids_batch(batch)), first, batch.code)

    return [
        BatchOption(
            code=b.code,
            name=b.name,
            course=course.name,
            level=b.level or DEFAULT_LEVEL,
            teacher=teacher_label(b),
            schedule=schedule_text(b),
            free_seats=b.capacity - taken.get(b.id, 0),
            fits_preference=fits,
        )
        for b in sorted(chosen, key=order)
    ]


def batches_text(info: CourseInfo, options: list[BatchOption], level: str | None = None) -> str:
    """The batches offered, then the question that leads to a lead."""
    wanted = normalise_level(level)
    if not options:
        return (
            f"We have no open {wanted} {info.name} batch right now. Would you like an administrator to call "
            f"you about the next one?"
        )
    lines = [f"• {option.name}: {option.text}" for option in options]
    if options[0].fits_preference:
        intro = f"These {info.name} batches fit:" if len(options) > 1 else f"This {info.name} batch fits:"
    else:
        intro = f"Nothing matches that time, but these {info.name} batches have seats:"
    return "\n".join([intro, *lines, "", "Would you like an administrator to call you?"])


def missing_details(age: int | None, level: str | None, preferred: str | None) -> list[str]:
    """What to ask next, in order: 'age', 'level', 'preferred_slot'."""
    return [
        name for name, value in (("age", age), ("level", level), ("preferred_slot", preferred)) if value in (None, "")
    ]


# ---------------------------------------------------------------- leads


def _a_or_an(age: int) -> str:
    spoken_vowel = str(age).startswith("8") or age in (11, 18)
    return "an" if spoken_vowel else "a"


def _phone_display(phone: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(phone, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return phone


def lead_summary(lead: m.Lead) -> str:
    """'wants Piano for an 8-year-old beginner, prefers weekends'."""
    course = f"wants {lead.course.name}" if lead.course else "asked about classes"
    who = []
    if lead.student_age is not None:
        who.append(f"{lead.student_age}-year-old")
    if lead.level:
        who.append(lead.level.lower())
    text = course
    if who:
        article = _a_or_an(lead.student_age) if lead.student_age is not None else "a"
        text += f" for {article} {' '.join(who)}"
    if lead.preferred_slot:
        text += f", prefers {lead.preferred_slot}"
    return text


def _lead_state(lead: m.Lead) -> dict:
    return {
        "name": lead.name,
        "phone": lead.phone,
        "course_id": lead.course_id,
        "student_age": lead.student_age,
        "level": lead.level,
        "preferred_slot": lead.preferred_slot,
        "source": lead.source,
        "status": lead.status,
    }


def create_lead(
    session: Session,
    phone: str,
    name: str | None,
    course_code: str | None,
    age: int | None,
    level: str | None,
    preferred_slot: str | None,
    lessons_for: str | None = None,
) -> tuple[m.Lead, list[Notice]]:
    """A lead for the admins to call; one open ("new") lead per phone and course, updated when asked again.

    `lessons_for` ("self", "son", ...: hsm.outreach.enquiry.lessons_for) is told to the admins, not stored.
    """
    try:
        phone = normalise_phone(phone)
    except InvalidPhoneNumber:
        phone = str(phone).strip()
    course = (
        session.execute(select(m.Course).where(m.Course.code == course_code)).scalar_one_or_none()
        if course_code
        else None
    )
    course_id = course.id if course else None
    values = {
        "name": (name or "").strip() or None,
        "student_age": age,
        "level": normalise_level(level) if level else None,
        "preferred_slot": (preferred_slot or "").strip() or None,
    }
    lead = session.execute(
        select(m.Lead)
        .where(
            m.Lead.phone == phone,
            m.Lead.status == "new",
            m.Lead.course_id.is_(None) if course_id is None else m.Lead.course_id == course_id,
        )
        .order_by(m.Lead.id)
        .limit(1)
    ).scalar_one_or_none()
    if lead is None:
        lead = m.Lead(phone=phone, course=course, source="whatsapp", status="new", **values)
        session.add(lead)
        before, action = None, "lead.created"
    else:
        before, action = _lead_state(lead), "lead.updated"
        for key, value in values.items():
            if value is not None:
                setattr(lead, key, value)
    session.flush()
    if before is None:
        lead_created(session, lead)  # the first step of its history
    after = _lead_state(lead)
    if before == after:
        return lead, []  # asked again with nothing new: the admins already know
    record_change(session, f"whatsapp:{phone}", action, "leads", lead.id, before, after)
    session.flush()
    return lead, _lead_notices(session, lead, updated=before is not None, lessons_for=lessons_for)


def _for_whom(lessons_for: str | None) -> str:
    """' (for themselves)', ' (for their son)' or ''."""
    if not lessons_for:
        return ""
    return " (for themselves)" if lessons_for == "self" else f" (for their {lessons_for})"


def _lead_notices(session: Session, lead: m.Lead, updated: bool, lessons_for: str | None = None) -> list[Notice]:
    name = staff_quote(lead.name, 60)  # a WhatsApp profile name: the sender chose it
    who = name if name != staff_quote("") else "Someone"
    phone = _phone_display(lead.phone)
    summary = lead_summary(lead)
    icon, label = ("✏️", "Lead updated") if updated else ("🆕", "Lead")
    details = f"{who} ({phone}) {summary}{_for_whom(lessons_for)}"
    text = f"{icon} {label}: {details}."
    return [
        Notice(phone=admin.phone, audience="admin", text=text, template=LEAD_TEMPLATE, template_params=(details,))
        for admin in office_admins(session)
    ]


def lead_confirmation_text(lead: m.Lead) -> str:
    return f"Thank you! An administrator will call you on {_phone_display(lead.phone)} soon. 🙏"
