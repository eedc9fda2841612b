"""Linking an unknown WhatsApp number to a student, by a one-time code mailed to the address on file.

"I'm Mary Thomas's mother, enrollment ID HSM-24-002" -> `parse_link_request` -> `begin_link` (database: issue the
code, sync) -> `send_mail` (SMTP, in a worker thread) -> the user replies with the code -> `verify_code` links the
number: as that student's guardian (a `guardians` row with this phone and a `student_guardians` row with the
relation), or for "self" as the student's own phone. `start_link` and `complete_link` do the same from asyncio.

Rules:
- codes are 6 digits from `secrets`, stored only as a salted HMAC-SHA256 keyed with `HSM_LINK_SECRET`; they expire
  after 15 minutes, work once, allow 5 wrong tries, and a number may ask for 3 per day; one student's address gets
  at most 5 codes a day, however many numbers ask (further requests get the usual reply and no mail);
- the reply to a request is the same whether the enrollment ID exists or not and whether it has an e-mail address
  or not, and so is every later reply (wrong code, expired, too many tries): they depend only on what this number
  itself did, never on the student. The per-number counters therefore live in `audit_log` rows keyed by a keyed
  hash of the number, written for every request, matched or not;
- the student's e-mail address never appears in a reply or a log line; phone numbers are masked in logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.infra.config import DEFAULT_SMTP_PORT, DEFAULT_SMTP_SENDER, SettingsError, get_settings
from hsm.infra.phone import InvalidPhoneNumber, mask_phone, normalise_phone
from hsm.records.changes import record_change

log = logging.getLogger("hsm.people.linking")

CODE_TTL = timedelta(minutes=15)
MAX_ATTEMPTS = 5
MAX_CODES_PER_DAY = 3
MAX_MAILS_PER_STUDENT_PER_DAY = 5  # many numbers asking for one student: stop mailing them (silently)
RELATIONS = ("mother", "father", "guardian", "self")

LINK_SENT_REPLY = (
    "If that enrollment ID is ours, we've emailed a 6-digit code to the address on file. "
    "Reply with the code to link this number."
)
TOO_MANY_REQUESTS_REPLY = (
    "You've asked for the most codes allowed in a day. Please try again tomorrow, or contact the school office."
)
NOT_A_CODE_REPLY = "Please reply with just the 6-digit code."
NO_PENDING_REPLY = (
    "There's no code waiting for this number. Send your enrollment ID and your relation "
    '(for example "I\'m the mother of" and the ID) to get one.'
)
EXPIRED_REPLY = "That code has expired. Send your enrollment ID again to get a new one."
LOCKED_REPLY = "Too many wrong codes. Send your enrollment ID again to get a new code."
USED_REPLY = "That code has already been used."
WRONG_REPLY = "That code isn't right. You can try {left} more time{s}."
LEFT_NUMBER_REPLY = (
    "This number belonged to someone the school has marked as left, so it can't be linked here. "
    "Please contact the school office."
)
STUDENT_LEFT_REPLY = (
    "That enrollment is no longer active, so this number can't be linked to it. Please contact the school office."
)

_REQUESTED, _FAILED, _LINKED = "link_code_requested", "link_code_failed", "identity_linked"
_AUDIT_ENTITY = "link_request"


class MailError(RuntimeError):
    """The e-mail could not be sent (SMTP not configured, unreachable, or refused)."""


@dataclass(frozen=True)
class LinkRequest:
    enrollment_id: str  # "HSM-24-002"
    relation: str  # one of RELATIONS
    claimed_name: str | None = None  # "Mary Thomas" as the sender wrote it; never checked against the records


@dataclass(frozen=True)
class PendingMail:
    to: str = field(repr=False)
    subject: str
    body: str = field(repr=False)  # holds the code: never log it

    def __repr__(self) -> str:
        return f"PendingMail(to={mask_email_address(self.to)!r}, subject={self.subject!r})"


def mask_email_address(address: str | None) -> str:
    """'john.doe@email.com' -> 'j***@email.com'."""
    if not address or "@" not in address:
        return "<none>"
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


# ------------------------------------------------------------------------------------------------ parsing

_ENROLLMENT_ID = re.compile(r"(?<![A-Za-z0-9])HSM[\s_-]*(\d{2})[\s_-]*(\d{3})(?!\d)", re.IGNORECASE)
_RELATION_WORDS = (
    ("mother", r"mother|mom|mum|mummy|mommy|amma|ammi|maa"),
    ("father", r"father|dad|daddy|papa|nanna|abba|appa"),
    ("guardian", r"guardian|parent|grand(?:mother|father|ma|pa)|uncle|aunt(?:y|ie)?|son|daughter|child|kid|ward"),
)
_RELATION = [(relation, re.compile(rf"\b(?:{words})s?\b", re.IGNORECASE)) for relation, words in _RELATION_WORDS]
_SELF = re.compile(
    r"\b(?:i\s*'?\s*a?m\s+(?:the\s+|a\s+)?student|myself|my\s+own|it'?s\s+me|i\s*'?\s*a?m\s+HSM|"
    r"my\s+(?:enrollment|enrolment|student)\s+(?:id|number|no)|self)\b",
    re.IGNORECASE,
)
_LINK_CUE = re.compile(
    r"\b(?:link|connect|register|verify|add\s+(?:this|my)\s+number|i\s*'?\s*a?m|my)\b", re.IGNORECASE
)
_ANY_RELATION = "(?i:" + "|".join(words for _, words in _RELATION_WORDS) + ")"
_NAME = r"([A-Z][a-z][\w.-]*(?:\s+[A-Z][\w.-]*){0,3})"
_CLAIMED_NAME = re.compile(r"\b" + _NAME + r"\s*'s\s+" + _ANY_RELATION + r"\b")
_OF_NAME = re.compile(r"\b" + _ANY_RELATION + r"\s+(?i:of)\s+" + _NAME)


def parse_link_request(text: str) -> LinkRequest | None:
    """A request to link this number to an enrollment ID, with the sender's relation; None if it isn't one.

    "I'm Mary Thomas's mother, enrollment ID HSM-24-002" -> (HSM-24-002, mother, "Mary Thomas");
    "i am father of HSM-24-005" -> (HSM-24-005, father); "my enrollment id is HSM-24-001" -> (HSM-24-001, self).
    A bare ID with no word about linking or relation ("fees for HSM-24-002?") is no request.
    """
    if not isinstance(text, str) or len(text) > 500:
        return None
    text = text.replace("’", "'").replace("‘", "'")
    ids = {f"HSM-{a}-{b}" for a, b in _ENROLLMENT_ID.findall(text)}
    if len(ids) != 1:
        return None
    (enrollment_id,) = ids
    without_id = _ENROLLMENT_ID.sub(" ", text)
    relation = next((rel for rel, pattern in _RELATION if pattern.search(without_id)), None)
    if relation is None and _SELF.search(text):
        relation = "self"
    if relation is None:
        if not _LINK_CUE.search(without_id):
            return None
        relation = "guardian"
    claimed = _CLAIMED_NAME.search(without_id) or _OF_NAME.search(without_id)
    words = claimed.group(1).split() if claimed else []
    while words and words[0].lower() in {"im", "hi", "hello", "hey", "am", "dear"}:
        words.pop(0)
    name = " ".join(words) or None
    return LinkRequest(enrollment_id, relation, name)


_CODE = re.compile(r"^\D{0,40}?(\d{3})[\s-]?(\d{3})\D{0,40}$")


def parse_code(text: str) -> str | None:
    """The 6-digit code in a short reply ("123456", "123 456", "code: 123456"), else None."""
    if not isinstance(text, str) or len(text) > 100:
        return None
    match = _CODE.match(text.strip())
    return match.group(1) + match.group(2) if match else None


# ------------------------------------------------------------------------------------------------ secrets

_ephemeral_secret: bytes | None = None


def _secret() -> bytes:
    global _ephemeral_secret
    configured = get_settings().linking.secret
    if configured:
        return configured.encode()
    if _ephemeral_secret is None:
        _ephemeral_secret = secrets.token_bytes(32)
        log.warning("HSM_LINK_SECRET is not set: link codes only work in this process until it restarts")
    return _ephemeral_secret


def hash_code(phone: str, code: str, salt: str | None = None) -> str:
    """'v1$<salt>$<hmac>' of the code bound to the number: a code from one number is useless from another."""
    salt = salt or secrets.token_hex(8)
    digest = hmac.new(_secret(), f"{salt}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()
    return f"v1${salt}${digest}"


def _code_matches(stored: str, phone: str, code: str) -> bool:
    try:
        version, salt, _digest = stored.split("$", 2)
    except ValueError:
        return False
    return version == "v1" and hmac.compare_digest(stored, hash_code(phone, code, salt))


def phone_ref(phone: str) -> str:
    """A keyed pseudonym of the number for audit rows and counters (no number in clear)."""
    return hmac.new(_secret(), f"phone:{phone}".encode(), hashlib.sha256).hexdigest()[:40]


# ------------------------------------------------------------------------------------------------ request


def _normalised(phone: str) -> str | None:
    try:
        return normalise_phone(phone)
    except (InvalidPhoneNumber, TypeError):
        return None


def _audit(
    session: Session,
    action: str,
    address: str,
    now: datetime,
    after: dict | None = None,
    entity: str = _AUDIT_ENTITY,
    entity_id: str | None = None,
) -> m.AuditLog:
    row = record_change(
        session, f"whatsapp:{mask_phone(address)}", action, entity, entity_id or phone_ref(address), None, after, at=now
    )
    session.flush()
    return row


def _school_name(session: Session) -> str:
    name = session.execute(select(m.School.name).order_by(m.School.id).limit(1)).scalar_one_or_none()
    return name or "Hyderabad School of Music"


def _mail_for(session: Session, student: m.Student, address: str, relation: str, code: str) -> PendingMail:
    school = _school_name(session)
    as_whom = "as the student themself" if relation == "self" else f"as {relation}"
    body = (
        f"Hello,\n\nSomeone using the WhatsApp number {mask_phone(address)} asked to link it to "
        f"{student.name}'s record at {school}, {as_whom}.\n\n"
        f"Your code is: {code}\n\n"
        f"It expires in {int(CODE_TTL.total_seconds() // 60)} minutes and works once. Reply with it on "
        "WhatsApp to finish.\nIf you didn't ask for this, ignore this email: nothing changes without the code.\n"
    )
    return PendingMail(to=student.email, subject=f"Your {school} WhatsApp link code", body=body)


def _mails_today(session: Session, student: m.Student, now: datetime) -> int:
    return session.execute(
        select(func.count())
        .select_from(m.LinkCode)
        .where(m.LinkCode.student_id == student.id, m.LinkCode.created_at > now - timedelta(days=1))
    ).scalar_one()


def begin_link(session: Session, phone: str, request: LinkRequest) -> tuple[str, PendingMail | None]:
    """Issue a code for this number if the enrollment ID has an e-mail on file; the reply never says whether."""
    now = clock.utcnow()
    address = _normalised(phone)
    if address is None or request.relation not in RELATIONS:
        return LINK_SENT_REPLY, None  # nothing we could link; the same words as always
    ref = phone_ref(address)
    requests_today = session.execute(
        select(func.count())
        .select_from(m.AuditLog)
        .where(
            m.AuditLog.action == _REQUESTED,
            m.AuditLog.entity == _AUDIT_ENTITY,
            m.AuditLog.entity_id == ref,
            m.AuditLog.created_at > now - timedelta(days=1),
        )
    ).scalar_one()
    if requests_today >= MAX_CODES_PER_DAY:
        log.info("link request from %s refused: %d codes asked for today", mask_phone(address), requests_today)
        return TOO_MANY_REQUESTS_REPLY, None
    enrollment_id = str(request.enrollment_id).strip().upper()[:20]
    student = session.execute(
        select(m.Student).where(m.Student.enrollment_id == enrollment_id, m.Student.active.is_(True))
    ).scalar_one_or_none()  # a student who left is nobody to link to
    mail = None
    mailable = student is not None and bool(student.email) and "@" in student.email
    if mailable and _mails_today(session, student, now) < MAX_MAILS_PER_STUDENT_PER_DAY:
        # One live code per number: a new request retires the previous ones.
        session.execute(
            update(m.LinkCode)
            .where(m.LinkCode.phone_number == address, m.LinkCode.used_at.is_(None), m.LinkCode.expires_at > now)
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )
        code = f"{secrets.randbelow(1_000_000):06d}"
        session.add(
            m.LinkCode(
                phone_number=address,
                student_id=student.id,
                relation=request.relation,
                code_hash=hash_code(address, code),
                expires_at=now + CODE_TTL,
                attempts=0,
                created_at=now,
            )
        )
        mail = _mail_for(session, student, address, request.relation, code)
    _audit(
        session,
        _REQUESTED,
        address,
        now,
        {"enrollment_id": enrollment_id, "relation": request.relation, "emailed": mail is not None},
    )
    log.info(
        "link code requested by %s for %s (emailed: %s)", mask_phone(address), enrollment_id, "yes" if mail else "no"
    )
    return LINK_SENT_REPLY, mail


# ------------------------------------------------------------------------------------------------ verify


def verify_code(session: Session, phone: str, code: str) -> str:
    """Check a code from this number; on success link the number and mark the code used. Returns the reply."""
    now = clock.utcnow()
    address = _normalised(phone)
    if address is None:
        return NO_PENDING_REPLY
    digits = parse_code(code) if isinstance(code, str) else None
    if digits is None:
        return NOT_A_CODE_REPLY
    ref = phone_ref(address)
    latest = session.execute(
        select(m.AuditLog)
        .where(m.AuditLog.action == _REQUESTED, m.AuditLog.entity == _AUDIT_ENTITY, m.AuditLog.entity_id == ref)
        .order_by(m.AuditLog.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if latest is None:
        return NO_PENDING_REPLY
    failures = session.execute(
        select(func.count())
        .select_from(m.AuditLog)
        .where(
            m.AuditLog.action == _FAILED,
            m.AuditLog.entity == _AUDIT_ENTITY,
            m.AuditLog.entity_id == ref,
            m.AuditLog.id > latest.id,
        )
    ).scalar_one()
    recent_codes = (
        session.execute(
            select(m.LinkCode)
            .where(m.LinkCode.phone_number == address, m.LinkCode.created_at > now - timedelta(days=2))
            .order_by(m.LinkCode.id.desc())
            .with_for_update()
        )
        .scalars()
        .all()
    )  # one verification at a time
    matched = next((row for row in recent_codes if _code_matches(row.code_hash, address, digits)), None)
    if matched is not None:
        if matched.used_at is not None:
            return USED_REPLY
        if clock.as_utc(matched.expires_at) <= now:
            return EXPIRED_REPLY
        if matched.attempts >= MAX_ATTEMPTS:
            return LOCKED_REPLY
        return _link(session, matched, address, now)
    # A wrong code. Every answer from here on depends only on this number's own requests and tries.
    if clock.as_utc(latest.created_at) + CODE_TTL <= now:
        return EXPIRED_REPLY
    if failures >= MAX_ATTEMPTS:
        return LOCKED_REPLY
    _audit(session, _FAILED, address, now)
    live = next((row for row in recent_codes if row.used_at is None and clock.as_utc(row.expires_at) > now), None)
    if live is not None:
        live.attempts = (live.attempts or 0) + 1
    left = MAX_ATTEMPTS - failures - 1
    log.info("wrong link code from %s (%d tries left)", mask_phone(address), left)
    if left <= 0:
        return LOCKED_REPLY
    return WRONG_REPLY.format(left=left, s="" if left == 1 else "s")


def _link(session: Session, link: m.LinkCode, address: str, now: datetime) -> str:
    student = session.get(m.Student, link.student_id)
    relation = link.relation if link.relation in RELATIONS else "guardian"
    link.used_at = now
    refused = _refusal(session, student, relation, address)
    if refused is not None:
        log.info("link of %s to %s refused: %s", mask_phone(address), getattr(student, "enrollment_id", "?"), refused)
        session.flush()
        return STUDENT_LEFT_REPLY if refused == "student left" else LEFT_NUMBER_REPLY
    first_name = student.name.split()[0] if student.name else "your child"
    before: dict[str, str | None] | None
    if relation == "self":
        before = {"phone": mask_phone(student.phone) if student.phone else None}
        student.phone = address
        after = {"relation": "self", "phone": mask_phone(address)}
        reply = (
            f"✅ Done: this number is now linked to your enrollment, {first_name}. "
            "Ask me about your next class, classes left or fees any time."
        )
    else:
        guardian = _guardian_of(session, address)
        if guardian is None:
            guardian = m.Guardian(name=f"{relation.capitalize()} of {student.name}", phone=address)
            session.add(guardian)
            session.flush()
        tie = session.get(m.StudentGuardian, (student.id, guardian.id))
        before = {"relation": tie.relation} if tie else None
        if tie is None:
            session.add(m.StudentGuardian(student_id=student.id, guardian_id=guardian.id, relation=relation))
        else:
            tie.relation = relation
        after = {"relation": relation, "guardian_id": guardian.id, "phone": mask_phone(address)}
        reply = (
            f"✅ Done: this number is now linked to {first_name} (you as {relation}). "
            f"Ask me about {first_name}'s next class, classes left or fees any time."
        )
    record_change(
        session, f"whatsapp:{mask_phone(address)}", _LINKED, "student", student.enrollment_id, before, after, at=now
    )
    session.flush()
    log.info("linked %s to %s as %s", mask_phone(address), student.enrollment_id, relation)
    return reply


def _guardian_of(session: Session, address: str) -> m.Guardian | None:
    return session.execute(select(m.Guardian).where(m.Guardian.phone == address)).scalar_one_or_none()


def _refusal(session: Session, student: m.Student | None, relation: str, address: str) -> str | None:
    """Why a verified code may not link, or None. The student left since the code was sent; or the number is a
    guardian's the school has marked as left (identity ignores them: linking would say "Done" and change nothing;
    bringing them back is the office's, through the people lifecycle)."""
    if student is None or not student.active:
        return "student left"
    if relation != "self":
        guardian = _guardian_of(session, address)
        if guardian is not None and not guardian.active:
            return "guardian left"
    return None


# ------------------------------------------------------------------------------------------------ mail


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int = DEFAULT_SMTP_PORT
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = DEFAULT_SMTP_SENDER
    starttls: bool = True
    timeout_s: float = 15.0

    @classmethod
    def from_env(cls) -> SmtpSettings:
        """The HSM_SMTP_* settings (hsm.infra.config); a bad one is a MailError, like a failed send."""
        try:
            smtp = get_settings().smtp
        except SettingsError as error:
            raise MailError(str(error)) from None
        return cls(
            host=smtp.host,
            port=smtp.port,
            user=smtp.user,
            password=smtp.password,
            sender=smtp.sender,
            starttls=smtp.starttls,
        )


def send_mail(mail: PendingMail, settings: SmtpSettings | None = None) -> None:
    """Send one e-mail over SMTP (blocking: run it in a thread from async code). Raises MailError."""
    settings = settings or SmtpSettings.from_env()
    if not settings.host:
        raise MailError("HSM_SMTP_HOST is not set")
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="hsm.whatsapp")
    message.set_content(mail.body)
    try:
        client: smtplib.SMTP
        if settings.port == 465:
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with client:
            if settings.starttls and settings.port != 465:
                client.starttls(context=ssl.create_default_context())
            if settings.user:
                client.login(settings.user, settings.password or "")
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        # smtplib's messages can quote the recipient: name only the kind of failure.
        raise MailError(f"sending to {mask_email_address(mail.to)} failed: {type(error).__name__}") from None


def _send_logged(mail: PendingMail) -> bool:
    try:
        send_mail(mail)
    except MailError as error:
        log.error("link code mail not sent: %s", error)
        return False
    log.info("link code mailed to %s", mask_email_address(mail.to))
    return True


# ------------------------------------------------------------------------------------------------ async

_background: set[asyncio.Task] = set()


async def start_link(
    phone: str, request: LinkRequest, *, database_url: str | None = None, wait_for_mail: bool = False
) -> str:
    """`begin_link` in a worker thread, then the mail in another; returns the reply at once (so its timing
    says nothing about the ID either) unless `wait_for_mail`."""
    from hsm.infra.db import session_scope

    def issue() -> tuple[str, PendingMail | None]:
        with session_scope(database_url) as session:
            return begin_link(session, phone, request)

    reply, mail = await asyncio.to_thread(issue)
    if mail is not None:
        task = asyncio.ensure_future(asyncio.to_thread(_send_logged, mail))
        if wait_for_mail:
            await task
        else:
            _background.add(task)
            task.add_done_callback(_background.discard)
    return reply


async def complete_link(phone: str, text: str, *, database_url: str | None = None) -> str:
    """`verify_code` in a worker thread."""
    from hsm.infra.db import session_scope

    def verify() -> str:
        with session_scope(database_url) as session:
            return verify_code(session, phone, text)

    return await asyncio.to_thread(verify)
