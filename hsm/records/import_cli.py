"""`hsm import-school`, `hsm import-sheet` and `hsm export-sheet`: the school's records in and out of files.
`hsm.cli` registers them with `add_import_commands(commands)`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hsm.records.changes import RecordError


def _merge_options(args: argparse.Namespace):  # noqa: ANN202 - MergeOptions, imported lazily
    from hsm.records.merge import MergeOptions, parse_overwrite

    return MergeOptions(
        overwrite=parse_overwrite(args.overwrite),
        deactivate_missing=args.deactivate_missing,
        dry_run=args.dry_run,
    )


def _cmd_import_school(args: argparse.Namespace) -> int:
    from hsm.records.school_file import SchoolFileError
    from hsm.records.school_import import import_school_file

    try:
        options = _merge_options(args)
        report = import_school_file(args.file, allow_shared_phones=args.allow_shared_phones, options=options)
    except SchoolFileError as error:
        print(f"refused {args.file}: nothing was imported.", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except RecordError as error:
        print(f"refused {args.file}: {error.message}; nothing was imported.", file=sys.stderr)
        return 2
    print(report.render(verbose=args.verbose))
    return 0


def _add_merge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print what would change and change nothing")
    parser.add_argument(
        "--overwrite",
        metavar="FIELDS",
        help="live state the file may overwrite, comma-separated: classes_remaining, next_due, status, attendance, "
        "payments (otherwise a differing value is reported as a conflict and the database keeps its own)",
    )
    parser.add_argument(
        "--deactivate-missing",
        action="store_true",
        help="deactivate the people and batches the file no longer has (reported as 'would deactivate' otherwise)",
    )
    parser.add_argument("--verbose", action="store_true", help="list every row in the report (not the first 10)")


def add_import_commands(commands: argparse._SubParsersAction) -> None:
    importer = commands.add_parser(
        "import-school",
        help="merge a school file into the database (all or nothing; never resets live state)",
        description="Merge a school file (YAML) into the database: adds and updates names, contacts, batches, "
        "plans, schedules, FAQs, holidays and courses; never overwrites classes remaining, due dates, enrollment "
        "status, attendance or payments unless --overwrite names them; reports people and batches missing from "
        "the file as 'would deactivate'.",
    )
    importer.add_argument("file", type=Path)
    importer.add_argument(
        "--allow-shared-phones",
        action="store_true",
        help="import even when two families' guardians, or two students, share a phone (they are merged)",
    )
    _add_merge_arguments(importer)
    importer.set_defaults(handler=_cmd_import_school)
