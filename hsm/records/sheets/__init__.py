"""The school's spreadsheets: `import_sheet` reads an office's XLSX or CSV file, reports every bad row, and merges
the rows through the same merge as the school file (hsm.records.merge); `export_sheet` (hsm.records.sheets.export)
writes the same shapes back."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from hsm.infra.db import session_scope
from hsm.records.changes import RecordError
from hsm.records.merge import MergeOptions
from hsm.records.merge_input import COMPLETE_KINDS
from hsm.records.merge_report import MergeReport
from hsm.records.school_import import run_merge
from hsm.records.sheets.reading import SheetFileError, read_tables
from hsm.records.sheets.rows import SheetProblem, known_keys, sheet_input

__all__ = ["SheetFileError", "SheetImport", "SheetRefused", "import_sheet", "parse_complete"]


class SheetRefused(RecordError):
    """Some rows are bad and --skip-bad was not given: nothing was written."""

    def __init__(self, problems: list[SheetProblem], good_rows: int):
        super().__init__(f"{len(problems)} bad row(s); nothing was imported", code="bad_rows")
        self.problems = problems
        self.good_rows = good_rows


@dataclass
class SheetImport:
    report: MergeReport
    notes: list[str] = field(default_factory=list)  # sheets skipped, columns not imported


def parse_complete(text: str | None) -> frozenset[str]:
    """`--complete students,teachers`: the kinds the file holds every row of (others: missing rows are not reported)."""
    names = frozenset(n.strip() for n in (text or "").split(",") if n.strip())
    unknown = sorted(names - set(COMPLETE_KINDS) - {"admins"})
    if unknown or "admins" in names:
        raise RecordError(
            f"--complete: unknown kind {', '.join(sorted(unknown or ['admins']))!r} (expected some of students, "
            "teachers, batches)",
            field="complete",
        )
    return names


def import_sheet(
    path: str | Path,
    database_url: str | None = None,
    options: MergeOptions | None = None,
    kind: str | None = None,
    skip_bad: bool = False,
    complete: frozenset[str] = frozenset(),
    allow_shared_phones: bool = False,
) -> SheetImport:
    """Read every row; refuse the whole file (SheetRefused, nothing written) when any row is bad, unless
    `skip_bad`: then merge the good rows in one transaction and list the bad ones in the report."""
    path = Path(path)
    tables, notes = read_tables(path, kind)
    with session_scope(database_url) as session:
        known = known_keys(session)
    parsed = sheet_input(tables, known, path.name, complete, allow_shared_phones)
    if parsed.problems and not skip_bad:
        raise SheetRefused(parsed.problems, parsed.good_rows)
    options = replace(options or MergeOptions(), allow_shared_phones=allow_shared_phones)
    report = run_merge(parsed.data, database_url, options)
    report.skipped_rows = [str(problem) for problem in parsed.problems]
    return SheetImport(report, notes)
