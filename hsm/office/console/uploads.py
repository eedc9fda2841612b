"""Files uploaded to the console, kept server-side between a dry run and its apply: each in a private temporary
directory named by a random id, bound to the session that sent it, deleted after apply or after IDLE unused."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hsm.office.console.sessions import IDLE, id_hash

ROOT = Path(tempfile.gettempdir()) / "hsm-console-uploads"
MAX_BYTES = 2 * 1024 * 1024
SUFFIXES = (".csv", ".xlsx")
NAME_MAX_CHARS = 80
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
META = "upload.json"


class UploadError(ValueError):
    """The file cannot be kept: a wrong type, empty or too large."""


@dataclass(frozen=True)
class Upload:
    id: str
    path: Path  # the file, under its (cleaned) original name: the importer names its sheets and report after it
    options: dict[str, Any]


def clean_name(filename: str | None) -> str:
    """The file's own name, without folders or unusual characters; UploadError unless it is .csv or .xlsx."""
    name = re.sub(r"[^\w .()-]", "_", Path((filename or "").replace("\\", "/")).name).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUFFIXES or not stem:
        raise UploadError("choose a spreadsheet saved as .xlsx (Excel) or .csv")
    return f"{stem[: NAME_MAX_CHARS - 6]}.{suffix.lower()}"


def _directory(upload_id: str) -> Path:
    return ROOT / upload_id


def sweep(now: float | None = None) -> None:
    """Delete the uploads nobody used for IDLE (a session's own idle expiry)."""
    cutoff = (now or time.time()) - IDLE.total_seconds()
    if not ROOT.is_dir():
        return
    for directory in ROOT.iterdir():
        meta = directory / META
        if directory.is_dir() and (not meta.exists() or meta.stat().st_mtime < cutoff):
            shutil.rmtree(directory, ignore_errors=True)


def _private_root() -> None:
    """The uploads' folder, made private to this user; one that someone else made (or a link) is refused."""
    ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = ROOT.lstat()
    if ROOT.is_symlink() or status.st_uid != os.getuid() or status.st_mode & 0o077:
        raise UploadError(f"{ROOT} is not a private folder of this server: remove it and try again")


def keep(session_id: str, filename: str | None, content: bytes, options: dict[str, Any]) -> Upload:
    """Keep `content` for this session; UploadError for a wrong type, an empty or a too large file."""
    name = clean_name(filename)
    if not content:
        raise UploadError("the file is empty")
    if len(content) > MAX_BYTES:
        raise UploadError(f"the file is over {MAX_BYTES // (1024 * 1024)} MB")
    sweep()
    _private_root()
    upload_id = secrets.token_urlsafe(16)
    directory = _directory(upload_id)
    directory.mkdir(mode=0o700)
    (directory / name).write_bytes(content)
    upload = Upload(upload_id, directory / name, options)
    _write_meta(upload, session_id)
    return upload


def _write_meta(upload: Upload, session_id: str) -> None:
    meta = {"session": id_hash(session_id), "name": upload.path.name, "options": upload.options}
    (upload.path.parent / META).write_text(json.dumps(meta), encoding="utf-8")


def find(session_id: str, upload_id: str) -> Upload | None:
    """The session's upload with this id, still fresh; None for any other (another session's, expired, made up)."""
    if not UPLOAD_ID.match(upload_id or ""):
        return None
    meta_path = _directory(upload_id) / META
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        fresh = meta_path.stat().st_mtime >= time.time() - IDLE.total_seconds()
    except (OSError, ValueError):
        return None
    if not fresh or not secrets.compare_digest(meta.get("session", ""), id_hash(session_id)):
        return None
    upload = Upload(upload_id, _directory(upload_id) / str(meta["name"]), dict(meta.get("options", {})))
    return upload if upload.path.is_file() else None


def update(session_id: str, upload: Upload, options: dict[str, Any]) -> Upload:
    """The upload with new options (a dry run again leaving out the bad rows), its expiry renewed."""
    changed = Upload(upload.id, upload.path, {**upload.options, **options})
    _write_meta(changed, session_id)
    return changed


def drop(upload: Upload) -> None:
    shutil.rmtree(upload.path.parent, ignore_errors=True)
