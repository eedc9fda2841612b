"""Import and export from the console (admins only): an XLSX or CSV file's dry run (hsm.records.sheets.import_sheet,
as `hsm import-sheet --dry-run`) shown as a diff, then applied from the copy kept server-side (uploads), audited as
console:<login> (the families of makeups it cancels are told once it is committed); and the export workbook of
`hsm export-sheet`."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from hsm.infra import clock
from hsm.infra.db import session_scope
from hsm.office.console import uploads
from hsm.office.console.guard import page, upload_page
from hsm.office.console.render import USER, html
from hsm.office.console.sessions import ConsoleUser
from hsm.outreach.notify import deliver
from hsm.records.changes import RecordError
from hsm.records.merge import MergeOptions
from hsm.records.merge_report import show
from hsm.records.sheets import SheetFileError, SheetRefused, import_sheet
from hsm.records.sheets.export import export_sheet

CSV_KINDS = ("students", "teachers", "batches", "payments")
COMPLETE_KINDS = ("students", "teachers", "batches")
UPLOAD_LIMIT = uploads.MAX_BYTES + 64 * 1024  # the file and the rest of the form
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
log = logging.getLogger("hsm.office.console.imports")


def _admin(request: web.Request) -> ConsoleUser:
    user: ConsoleUser = request[USER]
    if user.role != "admin":
        raise web.HTTPForbidden()
    return user


def _options(form: Any) -> dict[str, Any]:
    """The importer's options from the form: a CSV's kind, the kinds listed in full, whether to leave out bad rows."""
    kind = str(form.get("kind", ""))
    return {
        "kind": kind if kind in CSV_KINDS else None,
        "complete": [k for k in COMPLETE_KINDS if form.get(f"complete_{k}") == "1"],
        "skip_bad": form.get("skip_bad") == "1",
    }


def run(user: ConsoleUser, upload: uploads.Upload, dry_run: bool) -> dict[str, Any]:
    """The importer on the kept file: {"report", "notes"}, or {"problems"} (bad rows: nothing imported) or
    {"refused"} (the file as a whole)."""
    options = upload.options
    try:
        result = import_sheet(
            upload.path,
            options=MergeOptions(dry_run=dry_run, actor=user.actor),
            kind=options.get("kind"),
            skip_bad=bool(options.get("skip_bad")),
            complete=frozenset(options.get("complete", ())),
        )
    except SheetRefused as error:
        return {"problems": error.problems, "good_rows": error.good_rows}
    except (SheetFileError, RecordError) as error:
        return {"refused": error.message if isinstance(error, RecordError) else str(error)}
    return {"report": result.report, "notes": result.notes}


def _form_page(request: web.Request, problem: str | None = None, status: int = 200) -> web.Response:
    return html(request, "import.html", status=status, title="Import and export", problem=problem,
                csv_kinds=CSV_KINDS, complete_kinds=COMPLETE_KINDS)  # fmt: skip


def _preview(request: web.Request, upload: uploads.Upload, outcome: dict[str, Any]) -> web.Response:
    if "refused" in outcome:
        uploads.drop(upload)
        return _form_page(request, f"{upload.path.name}: {outcome['refused']}; nothing was imported.", 400)
    return html(request, "import_preview.html", title="Import: what would change", upload=upload,
                name=upload.path.name, show=show, applied=False, **outcome)  # fmt: skip


@page
async def get_import(request: web.Request) -> web.StreamResponse:
    _admin(request)
    return _form_page(request)


@upload_page(UPLOAD_LIMIT)
async def post_import(request: web.Request) -> web.StreamResponse:
    user = _admin(request)
    form = await request.post()
    sent = form.get("file")
    if not isinstance(sent, FileField):
        return _form_page(request, "Choose a file to import.", 400)
    try:
        upload = await asyncio.to_thread(
            uploads.keep, user.session_id, sent.filename, sent.file.read(uploads.MAX_BYTES + 1), _options(form)
        )
    except uploads.UploadError as error:
        return _form_page(request, f"{error}.", 400)
    return _preview(request, upload, await asyncio.to_thread(run, user, upload, True))


def _kept(request: web.Request, user: ConsoleUser) -> uploads.Upload:
    upload = uploads.find(user.session_id, request.match_info["upload_id"])
    if upload is None:
        raise web.HTTPNotFound()
    return upload


@page
async def post_preview(request: web.Request) -> web.StreamResponse:
    """The dry run again, leaving out the bad rows (the importer's --skip-bad)."""
    user = _admin(request)
    form = await request.post()
    upload = uploads.update(user.session_id, _kept(request, user), {"skip_bad": form.get("skip_bad") == "1"})
    return _preview(request, upload, await asyncio.to_thread(run, user, upload, True))


@page
async def post_apply(request: web.Request) -> web.StreamResponse:
    user = _admin(request)
    upload = _kept(request, user)
    outcome = await asyncio.to_thread(run, user, upload, False)
    uploads.drop(upload)
    if "refused" in outcome:
        return _form_page(request, f"{upload.path.name}: {outcome['refused']}; nothing was imported.", 400)
    if "report" in outcome:
        outcome["families_told"] = await _tell_makeup_families(outcome["report"].notices)
    return html(request, "import_preview.html", title="Import: done", upload=upload, name=upload.path.name,
                show=show, applied=True, **outcome)  # fmt: skip


async def _tell_makeup_families(notices: list) -> int:
    """Send the notices of the makeups the import cancelled (it is committed: a failure is only logged and shown
    as fewer told); how many were delivered."""
    if not notices:
        return 0
    try:
        return (await deliver(notices)).delivered
    except Exception as error:  # noqa: BLE001 - the import stands; the page shows who was not told
        log.error("import: makeup notices not sent (%s)", error)
        return 0


def _export() -> bytes:
    with tempfile.TemporaryDirectory(prefix="hsm-export-") as directory:
        path = Path(directory) / "records.xlsx"
        with session_scope() as session:
            export_sheet(session, path, None)
        return path.read_bytes()


@page
async def get_export(request: web.Request) -> web.StreamResponse:
    _admin(request)
    body = await asyncio.to_thread(_export)
    name = f"hsm-records-{clock.today().isoformat()}.xlsx"
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def add_import_routes(app: web.Application) -> None:
    app.router.add_get("/office/import", get_import, allow_head=False)
    app.router.add_post("/office/import", post_import)
    app.router.add_post("/office/import/{upload_id}/preview", post_preview)
    app.router.add_post("/office/import/{upload_id}/apply", post_apply)
    app.router.add_get("/office/export.xlsx", get_export, allow_head=False)
