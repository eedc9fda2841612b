"""The settings of classes (sections of `hsm.infra.config`, in a module of their own): how far back teachers correct
attendance, absence alerts, and the makeup policy (`HSM_MAKEUP_*`)."""

from __future__ import annotations

from dataclasses import dataclass

from hsm.infra.settings_values import Section, Variables

DEFAULT_TEACHER_CORRECTION_DAYS = 7
DEFAULT_MAKEUP_NOTICE_HOURS = 4.0
DEFAULT_MAKEUP_CREDIT_DAYS = 30
DEFAULT_MAKEUP_CREDITS_PER_MONTH = 2


@dataclass(frozen=True)
class Attendance(Section):
    """How many days back a teacher may correct their own classes (the office may correct any); whether families are
    told of an absence without notice (hsm.classes.absence_alerts)."""

    VARIABLES = ("HSM_TEACHER_CORRECTION_DAYS", "HSM_ABSENCE_ALERTS")
    teacher_correction_days: int = DEFAULT_TEACHER_CORRECTION_DAYS
    absence_alerts: bool = True

    @classmethod
    def read(cls, env: Variables) -> Attendance:
        return cls(
            teacher_correction_days=env.number("HSM_TEACHER_CORRECTION_DAYS", DEFAULT_TEACHER_CORRECTION_DAYS),
            absence_alerts=env.flag("HSM_ABSENCE_ALERTS", True),
        )


@dataclass(frozen=True)
class Makeups(Section):
    """The school's makeup policy (hsm.classes.makeups): a class missed with notice at least `notice_hours` before
    it starts earns a credit, usable for `credit_days` days after the missed class, at most `credits_per_month`
    credits for missed classes in one calendar month."""

    VARIABLES = ("HSM_MAKEUP_NOTICE_HOURS", "HSM_MAKEUP_CREDIT_DAYS", "HSM_MAKEUP_CREDITS_PER_MONTH")
    notice_hours: float = DEFAULT_MAKEUP_NOTICE_HOURS
    credit_days: int = DEFAULT_MAKEUP_CREDIT_DAYS
    credits_per_month: int = DEFAULT_MAKEUP_CREDITS_PER_MONTH

    @classmethod
    def read(cls, env: Variables) -> Makeups:
        return cls(
            notice_hours=env.number(
                "HSM_MAKEUP_NOTICE_HOURS",
                DEFAULT_MAKEUP_NOTICE_HOURS,
                float,
                what="a number of hours",
                minimum=0.0,
                maximum=720.0,
            ),
            credit_days=env.number(
                "HSM_MAKEUP_CREDIT_DAYS", DEFAULT_MAKEUP_CREDIT_DAYS, what="a whole number of days", minimum=1
            ),
            credits_per_month=env.number(
                "HSM_MAKEUP_CREDITS_PER_MONTH", DEFAULT_MAKEUP_CREDITS_PER_MONTH, minimum=0, maximum=31
            ),
        )
