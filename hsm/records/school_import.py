"""`hsm import-school FILE`: merge a school file into the database (hsm.records.merge) in one transaction.

Every row is found by its business key (course/batch code, employee id, enrollment id, guardian phone, ...): a
second import of the same file changes nothing, live state is never reset, and any error rolls the whole import
back. A dry run merges in the transaction and rolls it back.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy.orm import Session

from hsm.infra.db import session_factory
from hsm.records.merge import MergeOptions, merge
from hsm.records.merge_input import MergeInput, from_school_file
from hsm.records.merge_report import MergeReport
from hsm.records.school_file import SchoolFile, load_school_file


def import_school(
    school: SchoolFile, session: Session, options: MergeOptions | None = None, source: str = "school file"
) -> MergeReport:
    """Merge `school` through `session` (the caller owns the transaction)."""
    return merge(session, from_school_file(school, source), options or MergeOptions())


def run_merge(data: MergeInput, database_url: str | None, options: MergeOptions) -> MergeReport:
    """Merge `data` in one transaction: committed, or rolled back on any error and for a dry run."""
    session = session_factory(database_url)()
    try:
        report = merge(session, data, options)
        if options.dry_run:
            session.rollback()
        else:
            session.commit()
        return report
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def import_school_file(
    path: str | Path,
    database_url: str | None = None,
    allow_shared_phones: bool = False,
    options: MergeOptions | None = None,
) -> MergeReport:
    """Validate the whole file first (phones shared across families, within the file and with the records,
    refused unless `allow_shared_phones`), then merge it in a single transaction."""
    school = load_school_file(path, allow_shared_phones)
    options = replace(options or MergeOptions(), allow_shared_phones=allow_shared_phones)
    return run_merge(from_school_file(school, Path(path).name), database_url, options)
