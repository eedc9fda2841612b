"""Reading an office's files: an XLSX workbook (openpyxl; one sheet per kind, or one flat sheet of students) or a
CSV file (the csv module; the kind from --kind or its headers), as tables of rows numbered as Excel shows them."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from hsm.records.sheets.columns import KINDS, REQUIRED, kind_of_headers, kind_of_sheet_name, match_columns

HEADER_SEARCH_ROWS = 10  # a title or a blank line or two may sit above the headers


class SheetFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, no sheet of a known kind, a required column missing)."""


@dataclass
class Table:
    sheet: str  # the sheet's name, or the CSV file's
    kind: str
    fields: list[str | None]  # the field of each column
    rows: list[tuple[int, list[Any]]]  # (row number as the office sees it, the cells)
    ignored_columns: list[str] = field(default_factory=list)

    def records(self) -> list[tuple[int, dict[str, Any]]]:
        """Each non-empty row as {field: cell}."""
        result = []
        for number, cells in self.rows:
            record = {name: cells[i] for i, name in enumerate(self.fields) if name and i < len(cells)}
            if any(value not in (None, "") for value in cells):
                result.append((number, record))
        return result


def _table(sheet: str, raw_rows: list[tuple[int, list[Any]]], kind: str | None, notes: list[str]) -> Table | None:
    """Find the header row, the kind and the columns of one sheet; None for a sheet of no known kind."""
    kind = kind or kind_of_sheet_name(sheet)
    for position, (number, cells) in enumerate(raw_rows[:HEADER_SEARCH_ROWS]):
        header_kind = kind or kind_of_headers(cells)
        if header_kind is None:
            continue
        fields = match_columns(header_kind, cells)
        if len([f for f in fields if f]) < 2 and not set(REQUIRED[header_kind]) <= set(fields):
            continue
        missing = [name for name in REQUIRED[header_kind] if name not in fields]
        if missing:
            raise SheetFileError(
                f"{sheet}: no {', '.join(missing).replace('_', ' ')} column in the headers (row {number})"
            )
        ignored = [str(cell) for cell, f in zip(cells, fields, strict=True) if f is None and cell not in (None, "")]
        if ignored:
            notes.append(f"{sheet}: columns not imported: {', '.join(ignored)}")
        return Table(sheet, header_kind, fields, raw_rows[position + 1 :], ignored)
    if kind is not None:
        raise SheetFileError(
            f"{sheet}: no header row with the columns of {kind} in its first {HEADER_SEARCH_ROWS} rows"
        )
    notes.append(f"{sheet}: sheet skipped (no students, teachers, batches or payments columns)")
    return None


def read_tables(path: Path, kind: str | None = None) -> tuple[list[Table], list[str]]:
    """The tables of a .xlsx or .csv file and notes for the office (skipped sheets, columns not imported).
    `kind` names the kind of a CSV file (otherwise guessed from its headers) or of a workbook's only sheet."""
    if kind is not None and kind not in KINDS:
        raise SheetFileError(f"unknown kind {kind!r} (expected {', '.join(KINDS)})")
    suffix = path.suffix.lower()
    notes: list[str] = []
    if suffix == ".csv":
        table = _table(path.name, _csv_rows(path), kind, notes)
        if table is None:
            raise SheetFileError(f"{path.name}: cannot tell what the file holds: give --kind ({', '.join(KINDS)})")
        return [table], notes
    if suffix not in (".xlsx", ".xlsm"):
        raise SheetFileError(f"{path.name}: expected an .xlsx or .csv file")
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (OSError, InvalidFileException, zipfile.BadZipFile, KeyError) as error:
        raise SheetFileError(f"cannot read {path.name}: {error}") from None
    try:
        sheets = workbook.worksheets
        tables = []
        for sheet in sheets:
            rows = [(n, list(cells)) for n, cells in enumerate(sheet.iter_rows(values_only=True), start=1)]
            table = _table(sheet.title, rows, kind if len(sheets) == 1 else None, notes)
            if table is not None:
                tables.append(table)
    finally:
        workbook.close()
    if not tables:
        raise SheetFileError(f"{path.name}: no sheet of students, teachers, batches or payments")
    return tables, notes


def _csv_rows(path: Path) -> list[tuple[int, list[Any]]]:
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        content = path.read_text(encoding="cp1252")  # Excel's "CSV" on Windows
    except OSError as error:
        raise SheetFileError(f"cannot read {path.name}: {error.strerror}") from None
    try:
        dialect: Any = csv.Sniffer().sniff(content[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(content, newline=""), dialect)
    return [(n, [cell if cell.strip() else None for cell in cells]) for n, cells in enumerate(reader, start=1)]
