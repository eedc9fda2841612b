"""The office's own tables: the audit trail, staff accounts, admin API tokens and revocations, console sessions and
one-time sign-in codes."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import relationship

from hsm.infra.models.base import PHONE, Base, TimestampMixin, _in, _utcnow


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)
    id = Column(Integer, primary_key=True)
    actor = Column(String(60), nullable=False)  # "teacher:T-101", "admin:ADM-1", "system:import"
    action = Column(String(60), nullable=False)
    entity = Column(String(60), nullable=False)
    entity_id = Column(String(60))
    before = Column(JSON)
    after = Column(JSON)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow, index=True)


class AdminTokenRevocation(Base):
    """Every admin API token of `subject` issued before `revoked_before` is refused (`hsm staff tokens revoke
    --subject`, POST /api/admin/tokens/revoke). One row per revocation: the latest counts, the others are its
    history."""

    __tablename__ = "admin_token_revocations"
    id = Column(Integer, primary_key=True)
    subject = Column(String(255), nullable=False, index=True)  # the tokens' `sub`
    revoked_before = Column(DateTime(timezone=True), nullable=False)  # the real clock (tokens' iat is), not HSM_NOW
    revoked_by = Column(String(60), nullable=False)  # "api:<sub>", "cli:<name>"
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)


STAFF_ROLES = ("admin", "staff", "teacher")
API_ROLES = ("admin", "staff")  # the roles an admin API token may carry


class StaffAccount(TimestampMixin, Base):
    """Someone of the staff who signs in to the office (hsm.office.staff); deactivated, never deleted. Only a salted
    scrypt hash of the password is kept; `failed_sign_ins` and `locked_until` are the lockout (hsm.office.sign_in)."""

    __tablename__ = "staff_accounts"
    __table_args__ = (
        CheckConstraint(_in("role", STAFF_ROLES), name="role_known"),
        CheckConstraint("role <> 'teacher' OR teacher_id IS NOT NULL", name="teacher_linked"),
        CheckConstraint("failed_sign_ins >= 0", name="failed_sign_ins_not_negative"),
    )
    id = Column(Integer, primary_key=True)
    login = Column(String(40), nullable=False, unique=True)  # "meera": lower case, also the API tokens' `sub`
    name = Column(String(200), nullable=False)
    phone = Column(PHONE, unique=True)  # E.164: where the console's one-time sign-in code goes
    email = Column(String(200))
    role = Column(String(10), nullable=False)
    teacher_id = Column(ForeignKey("teachers.id"), unique=True)  # required for role teacher
    admin_id = Column(ForeignKey("admins.id"), unique=True)
    password_hash = Column(String(255))  # "scrypt$n=...,r=...,p=...$salt$hash"; None: no password set
    failed_sign_ins = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime(timezone=True))
    active = Column(Boolean, nullable=False, default=True)
    deactivated_at = Column(DateTime(timezone=True))
    last_sign_in_at = Column(DateTime(timezone=True))
    teacher = relationship("Teacher")
    admin = relationship("Admin")


class AdminToken(Base):
    """An admin API token we issued, by its `jti` (the token itself is shown once, never stored); refused once
    revoked or its staff account deactivated (hsm.office.admin_api.auth, .tokens)."""

    __tablename__ = "admin_tokens"
    __table_args__ = (CheckConstraint(_in("role", API_ROLES), name="role_known"),)
    id = Column(Integer, primary_key=True)
    jti = Column(String(64), nullable=False, unique=True)
    subject = Column(String(255), nullable=False, index=True)  # the token's `sub`
    role = Column(String(10), nullable=False)
    staff_account_id = Column(ForeignKey("staff_accounts.id"), index=True)
    label = Column(String(100))
    issued_at = Column(DateTime(timezone=True), nullable=False)  # the token's `iat` (the real clock)
    expires_at = Column(DateTime(timezone=True), nullable=False)  # its `exp`
    issued_by = Column(String(60), nullable=False)  # "cli:<name>", "api:<sub>"
    revoked_at = Column(DateTime(timezone=True))
    revoked_by = Column(String(60))
    last_used_at = Column(DateTime(timezone=True))  # updated at most every few minutes
    staff_account = relationship("StaffAccount")


class ConsoleSession(Base):
    """A signed-in session of the office console (hsm.office.console.sessions): the cookie carries a random id,
    only its SHA-256 is kept. Refused once revoked (signed out), past `expires_at`, or idle too long since
    `last_seen_at`. Times are the real clock, not HSM_NOW."""

    __tablename__ = "console_sessions"
    id = Column(Integer, primary_key=True)
    id_hash = Column(String(64), nullable=False, unique=True)  # hex SHA-256 of the cookie's session id
    staff_account_id = Column(ForeignKey("staff_accounts.id"), nullable=False, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    last_seen_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    expires_at = Column(DateTime(timezone=True), nullable=False)  # the absolute end, however active
    revoked_at = Column(DateTime(timezone=True))  # signed out
    staff_account = relationship("StaffAccount")


class ConsoleSignInCode(Base):
    """A one-time sign-in code sent over WhatsApp (hsm.office.sign_in_codes): only its keyed hash is kept; it works
    once, until `expires_at`, and is void after too many wrong tries. Times are the real clock, not HSM_NOW."""

    __tablename__ = "console_sign_in_codes"
    __table_args__ = (CheckConstraint("tries >= 0", name="tries_not_negative"),)
    id = Column(Integer, primary_key=True)
    staff_account_id = Column(ForeignKey("staff_accounts.id"), nullable=False, index=True)
    code_hash = Column(String(64), nullable=False)  # hex HMAC-SHA256 of the code, keyed from ADMIN_JWT_SECRET
    created_at = Column(DateTime(timezone=True), nullable=False, default=_utcnow)
    expires_at = Column(DateTime(timezone=True), nullable=False)
    tries = Column(Integer, nullable=False, default=0)  # wrong codes typed against it
    used_at = Column(DateTime(timezone=True))  # signed in with it (or replaced by a newer code)
    staff_account = relationship("StaffAccount")
