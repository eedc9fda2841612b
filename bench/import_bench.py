"""Benchmark: importing an office's spreadsheet of 400 students (scripts/make_school_sheet.py, 12 bad rows) into a
fresh database that has the demo school, on SQLite and (when reachable) PostgreSQL.

    .venv/bin/python bench/import_bench.py [--students 400] [--runs 3]

Times two imports the way `hsm import-sheet` runs them (reading the XLSX, checking every row, merging in one
transaction): the all-or-nothing check (must refuse, naming every bad row, writing nothing) and `--skip-bad` (must
import the good students). Each run starts from a fresh copy of the database; prints the median of the runs.
Target: under 10 s each.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hsm.infra.config import PROJECT_ROOT, set_environment  # noqa: E402

TARGET_SECONDS = 10.0
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"  # where scratch databases are made: --postgres-url


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_school_sheet", PROJECT_ROOT / "scripts" / "make_school_sheet.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Backend:
    """A migrated database with the demo school, copied fresh for each run."""

    def __init__(self, kind: str, workdir: Path):
        from hsm.infra.db import get_engine, upgrade_to_head
        from hsm.records.school_import import import_school_file

        self.kind, self.workdir, self.copies = kind, workdir, []
        self.template = self._new_url()
        upgrade_to_head(self.template)
        import_school_file(PROJECT_ROOT.parent / "shared" / "fixtures" / "school.yaml", self.template)
        get_engine(self.template).dispose()

    def _new_url(self, template: str | None = None) -> str:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        if self.kind == "sqlite":
            target = self.workdir / f"hsm-{uuid.uuid4().hex[:8]}.sqlite3"
            if template:
                shutil.copyfile(make_url(template).database, target)
            return f"sqlite:///{target}"
        name = f"hsm_bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(POSTGRES_URL, future=True, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            suffix = f' TEMPLATE "{make_url(template).database}"' if template else ""
            connection.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
        admin.dispose()
        self.copies.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def fresh(self) -> str:
        return self._new_url(self.template)

    def drop_all(self) -> None:
        from sqlalchemy import create_engine, text

        if self.kind != "postgres":
            return
        admin = create_engine(POSTGRES_URL, future=True, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in self.copies:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def students(url: str) -> int:
    from sqlalchemy import func, select

    from hsm.infra import models as m
    from hsm.infra.db import session_scope

    with session_scope(url) as session:
        return session.execute(select(func.count()).select_from(m.Student)).scalar_one()


def run(backend: Backend, sheet: Path, bad_rows: list[int], good_students: int, runs: int) -> tuple[float, float]:
    from hsm.infra.db import get_engine
    from hsm.records.sheets import SheetRefused, import_sheet

    refuse, skip = [], []
    for _ in range(runs):
        url = backend.fresh()
        before = students(url)
        started = time.perf_counter()
        try:
            import_sheet(sheet, url)
            raise SystemExit("the all-or-nothing import did not refuse the bad rows")
        except SheetRefused as error:
            refuse.append(time.perf_counter() - started)
            reported = sorted(problem.row for problem in error.problems)
            if reported != bad_rows:
                raise SystemExit(f"bad rows reported {reported}, expected {bad_rows}") from None
        if students(url) != before:
            raise SystemExit("the refused import wrote something")
        started = time.perf_counter()
        result = import_sheet(sheet, url, skip_bad=True)
        skip.append(time.perf_counter() - started)
        created = result.report.counts(result.report.created).get("students", 0)
        if created != good_students or students(url) != before + good_students:
            raise SystemExit(f"--skip-bad created {created} students, expected {good_students}")
        get_engine(url).dispose()
    return statistics.median(refuse), statistics.median(skip)


def main() -> int:
    global POSTGRES_URL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres-url", help=f"a server where scratch databases may be made ({POSTGRES_URL})")
    args = parser.parse_args()
    if args.postgres_url:
        POSTGRES_URL = args.postgres_url
    workdir = Path(tempfile.mkdtemp(prefix="hsm-import-bench-"))
    set_environment(DATABASE_URL=f"sqlite:///{workdir / 'unused.sqlite3'}")
    generator = _generator()
    rows, bad = generator.student_rows(args.students, 19)
    sheet = workdir / f"school-{args.students}.xlsx"
    generator.write_workbook(sheet, rows)
    bad_rows = sorted(number for number, _ in bad)
    print(
        f"{sheet.name}: {args.students} students in {len(rows)} rows, {len(bad)} bad rows; median of {args.runs} runs"
    )
    print(f"{'database':<11} {'all-or-nothing (refused)':>25} {'--skip-bad':>12}")
    over = False
    for kind in ("sqlite", "postgres"):
        try:
            backend = Backend(kind, workdir)
        except Exception as error:  # noqa: BLE001 - PostgreSQL not reachable: SQLite only
            print(f"{kind:<11} skipped: {str(error).splitlines()[0]}")
            continue
        try:
            refuse, skip = run(backend, sheet, bad_rows, args.students - len(bad), args.runs)
        finally:
            backend.drop_all()
        over |= max(refuse, skip) > TARGET_SECONDS
        print(f"{kind:<11} {refuse:>24.2f}s {skip:>11.2f}s")
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"target: under {TARGET_SECONDS:.0f} s each: {'MISSED' if over else 'met'}")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
