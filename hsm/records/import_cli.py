"""`hsm import-school`, `hsm import-sheet` and `hsm export-sheet`: the school's records in and out of files.
`hsm.cli` registers them with `add_import_commands(commands)`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hsm.records.changes import RecordError, add_by_option


def _merge_options(args: argparse.Namespace):  # noqa: ANN202 - MergeOptions, imported lazily
    from hsm.records.merge import MergeOptions, parse_overwrite

    return MergeOptions(
        overwrite=parse_overwrite(args.overwrite),
        deactivate_missing=args.deactivate_missing,
        dry_run=args.dry_run,
        actor=f"cli:{args.by} import:{args.file.name}" if args.by else None,
    )


def _tell_makeup_families(report) -> None:  # noqa: ANN001 - MergeReport, imported lazily
    """Send the notices of the makeups the import cancelled, now that it is committed; a failure to send is said,
    and does not undo or fail the import."""
    if not report.notices or report.dry_run:
        return
    from hsm.outreach.notify import deliver_now

    try:
        print(deliver_now(report.notices).line("makeup notices", len(report.notices)))
    except Exception as error:  # noqa: BLE001 - the import stands; the office learns who was not told
        print(
            f"the import is committed, but the {len(report.notices)} makeup notice(s) were not sent ({error}): "
            "tell those families yourself",
            file=sys.stderr,
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
    _tell_makeup_families(report)
    return 0


def _cmd_import_sheet(args: argparse.Namespace) -> int:
    from hsm.records.sheets import SheetFileError, SheetRefused, import_sheet, parse_complete

    try:
        result = import_sheet(
            args.file,
            options=_merge_options(args),
            kind=args.kind,
            skip_bad=args.skip_bad,
            complete=parse_complete(args.complete),
            allow_shared_phones=args.allow_shared_phones,
        )
    except SheetRefused as error:
        print(
            f"refused {args.file.name}: {len(error.problems)} bad row(s), nothing was imported "
            "(fix them, or --skip-bad to import the good rows):",
            file=sys.stderr,
        )
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except (SheetFileError, RecordError) as error:
        message = error.message if isinstance(error, RecordError) else str(error)
        print(f"refused {args.file.name}: {message}; nothing was imported.", file=sys.stderr)
        return 2
    for note in result.notes:
        print(f"note: {note}")
    print(result.report.render(verbose=args.verbose))
    _tell_makeup_families(result.report)
    return 0


def _cmd_export_sheet(args: argparse.Namespace) -> int:
    from hsm.infra.db import session_scope
    from hsm.records.sheets.export import export_sheet
    from hsm.records.sheets.reading import SheetFileError

    kinds = [k.strip() for k in args.kind.split(",") if k.strip()] if args.kind else None
    try:
        with session_scope() as session:
            written = export_sheet(session, args.file, kinds)
    except (SheetFileError, OSError) as error:
        print(f"export-sheet: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.file}: " + ", ".join(f"{n} {kind} row(s)" for kind, n in written.items()))
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
    add_by_option(
        parser, "who is importing, for the audit trail (cli:NAME import:<file>; default: import:<file>)", default=None
    )


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

    sheet = commands.add_parser(
        "import-sheet",
        help="merge the office's spreadsheet (XLSX or CSV) of students, teachers, batches or payments",
        description="Import an XLSX workbook (a sheet per kind: Students, Teachers, Batches, Payments; or one flat "
        "sheet of students, one row per student and batch, with the parent's columns) or a CSV file of one kind. "
        "Columns are matched forgivingly (Student Name, Mobile, Parent Name, Enrolment ID, DOB, Batch, Classes Left, "
        "Due Date, Fee, Plan, Amount, Paid On, Mode, UTR...). Every bad row is listed with its row number; nothing "
        "is written unless every row is good, or --skip-bad is given. The rows are merged as import-school does.",
    )
    sheet.add_argument("file", type=Path)
    sheet.add_argument("--kind", choices=("students", "teachers", "batches", "payments"), help="what a CSV file holds")
    sheet.add_argument("--skip-bad", action="store_true", help="import the good rows and list the bad ones")
    sheet.add_argument(
        "--complete",
        metavar="KINDS",
        help="kinds the file lists in full (students, teachers, batches): the database's other rows of those kinds "
        "are reported as 'would deactivate'",
    )
    sheet.add_argument(
        "--allow-shared-phones", action="store_true", help="import even when two families share a phone number"
    )
    _add_merge_arguments(sheet)
    sheet.set_defaults(handler=_cmd_import_sheet)

    export = commands.add_parser(
        "export-sheet",
        help="write students, teachers, batches and payments to an XLSX workbook or one kind to a CSV file",
        description="Export in the shapes import-sheet reads: importing the export again changes nothing.",
    )
    export.add_argument("file", type=Path, help="an .xlsx (a sheet per kind) or .csv (one kind) file to write")
    export.add_argument("--kind", help="the kinds to write, comma-separated (default: all; a CSV needs exactly one)")
    export.set_defaults(handler=_cmd_export_sheet)
