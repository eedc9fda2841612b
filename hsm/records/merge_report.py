"""What an import did or would do, for an office person: created, updated (field: before → after), would
deactivate, conflicts between the file and live state; grouped by kind, lists capped unless verbose."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

# The order kinds are reported in, and their names in the report.
KINDS = (
    "school",
    "FAQs",
    "holidays",
    "courses",
    "course plans",
    "admins",
    "teachers",
    "batches",
    "students",
    "guardians",
    "enrollments",
    "payments",
    "attendance",
    "WhatsApp opt-outs",
    "makeup bookings",
)
LIST_CAP = 10


@dataclass
class Change:
    """A row created, updated or (to be) deactivated; `fields` holds before → after of an update."""

    kind: str
    label: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    note: str = ""
    key: str = ""  # the business key (of a row to deactivate)


@dataclass
class Disagreement:
    """A file value that differs from live state: kept (a conflict) or applied on request (--overwrite)."""

    kind: str
    label: str
    field: str
    database: Any
    file: Any
    hint: str = ""


@dataclass
class MergeReport:
    source: str
    dry_run: bool = False
    created: list[Change] = field(default_factory=list)
    updated: list[Change] = field(default_factory=list)
    would_deactivate: list[Change] = field(default_factory=list)
    deactivated: list[Change] = field(default_factory=list)
    conflicts: list[Disagreement] = field(default_factory=list)
    skipped_rows: list[str] = field(default_factory=list)  # bad spreadsheet rows left out (--skip-bad)
    # Makeups booked into classes the import calls off (a holiday, a batch's days moved or closed), cancelled with
    # it, and their families' notices (hsm.outreach.notices.Notice), to send once the import is committed.
    makeups_cancelled: list[Change] = field(default_factory=list)
    notices: list[Any] = field(default_factory=list)

    def counts(self, changes: list[Change] | list[Disagreement]) -> dict[str, int]:
        result: dict[str, int] = {}
        for change in changes:
            result[change.kind] = result.get(change.kind, 0) + 1
        return result

    @property
    def nothing_to_change(self) -> bool:
        return not (
            self.created
            or self.updated
            or self.would_deactivate
            or self.deactivated
            or self.conflicts
            or self.makeups_cancelled
        )

    def summary(self) -> str:
        """One line: "created 40 students, 44 enrollments; updated nothing; 2 conflicts"."""

        def fmt(counts: dict[str, int]) -> str:
            return ", ".join(f"{n} {kind}" for kind, n in _ordered(counts)) or "nothing"

        parts = [f"created {fmt(self.counts(self.created))}", f"updated {fmt(self.counts(self.updated))}"]
        if self.would_deactivate:
            parts.append(f"would deactivate {fmt(self.counts(self.would_deactivate))}")
        if self.deactivated:
            parts.append(f"deactivated {fmt(self.counts(self.deactivated))}")
        if self.conflicts:
            parts.append(f"{len(self.conflicts)} conflict(s) kept the database's value")
        if self.makeups_cancelled:
            would = "would cancel" if self.dry_run else "cancelled"
            parts.append(f"{would} {len(self.makeups_cancelled)} makeup booking(s) whose class is off")
        return "; ".join(parts)

    def render(self, verbose: bool = False) -> str:
        """The report as the office reads it."""
        cap = None if verbose else LIST_CAP
        head = f"{self.source}: " + ("dry run, nothing was changed" if self.dry_run else "imported")
        lines = [head]
        if self.nothing_to_change:
            lines.append("Nothing to change: the database already matches the file.")
        created_title = "Would create" if self.dry_run else "Created"
        updated_title = "Would update" if self.dry_run else "Updated"
        lines += _section(f"{created_title}:", self.created, cap, with_fields=False)
        lines += _section(f"{updated_title}:", self.updated, cap, with_fields=True)
        lines += _section(
            "Would deactivate (in the database but not in the file; --deactivate-missing deactivates them):",
            self.would_deactivate,
            cap,
            with_fields=False,
        )
        lines += _section("Deactivated:", self.deactivated, cap, with_fields=False)
        lines += _section(
            "Would cancel (makeups booked into classes that would no longer take place; credits back):"
            if self.dry_run
            else "Cancelled (makeups booked into classes that no longer take place; credits back, families told next):",
            self.makeups_cancelled,
            cap,
            with_fields=False,
        )
        if self.conflicts:
            lines.append(
                "Conflicts (the file differs from what happened since; the database keeps its value, "
                "--overwrite FIELD takes the file's):"
            )
            for kind, items in _grouped(self.conflicts):
                lines.append(f"  {kind} ({len(items)}):")
                shown = items if cap is None else items[:cap]
                for item in shown:
                    hint = f" ({item.hint})" if item.hint else ""
                    lines.append(
                        f"    {item.label}: {item.field} {show(item.database)} (database) → {show(item.file)} "
                        f"(file){hint}"
                    )
                lines += _more(len(items), len(shown))
        if self.skipped_rows:
            lines.append(f"Skipped {len(self.skipped_rows)} bad row(s) (--skip-bad):")
            lines += [f"  {row}" for row in self.skipped_rows]
        lines.append(f"In short: {self.summary()}")
        return "\n".join(lines)


def show(value: Any) -> str:
    """A value as the office reads it: dates as 20 Dec 2026, times as 17:00, empty as (empty)."""
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%d %b %Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d %b %Y")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value).strftime("%d %b %Y")
        except ValueError:
            return value
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


def _ordered(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: KINDS.index(item[0]) if item[0] in KINDS else len(KINDS))


def _grouped(items: list[Any]) -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(item.kind, []).append(item)
    return [(kind, groups[kind]) for kind, _ in _ordered({kind: 0 for kind in groups})]


def _more(total: int, shown: int) -> list[str]:
    return [f"    ... and {total - shown} more (--verbose lists all)"] if total > shown else []


def _section(title: str, changes: list[Change], cap: int | None, with_fields: bool) -> list[str]:
    if not changes:
        return []
    lines = [title]
    for kind, items in _grouped(changes):
        shown = items if cap is None else items[:cap]
        if not with_fields:
            lines.append(f"  {kind} ({len(items)}):")
            lines += [f"    {change.label}{f' ({change.note})' if change.note else ''}" for change in shown]
        else:
            lines.append(f"  {kind} ({len(items)}):")
            for change in shown:
                fields = "; ".join(f"{name} {show(old)} → {show(new)}" for name, (old, new) in change.fields.items())
                note = f" ({change.note})" if change.note else ""
                lines.append(f"    {change.label}: {fields}{note}")
        lines += _more(len(items), len(shown))
    return lines
