"""WhatsApp templates: load the repository's template file into `whatsapp_templates` (idempotent)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Extra, Field, ValidationError, validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from hsm.infra import models as m
from hsm.infra.config import PROJECT_ROOT
from hsm.infra.db import session_scope

TEMPLATES_FILE = PROJECT_ROOT / "templates" / "whatsapp_templates.yaml"


class TemplateEntry(BaseModel):
    class Config:
        extra = Extra.forbid

    name: str = Field(..., regex=r"^[a-z0-9_]{1,100}$")
    category: str = Field(..., regex=r"^(UTILITY|MARKETING|AUTHENTICATION)$")
    type: str | None = None
    language: str = "en"
    status: str = Field("pending", regex=r"^(pending|approved|rejected)$")
    variables: list[str] = []
    header: str | None = Field(None, regex=r"^DOCUMENT$")  # a document the sender attaches (a receipt's PDF)
    content: str = Field(..., min_length=1, max_length=1024)

    @validator("content")
    def _placeholders_match_variables(cls, content: str, values: dict) -> str:
        count = len(values.get("variables") or [])
        for number in range(1, count + 1):
            if f"{{{{{number}}}}}" not in content:
                raise ValueError(f"content lacks {{{{{number}}}}} for variable {number}")
        if f"{{{{{count + 1}}}}}" in content:
            raise ValueError(f"content uses {{{{{count + 1}}}}} but only {count} variables are declared")
        return content


class TemplateFileError(ValueError):
    pass


def load_templates(path: Path = TEMPLATES_FILE) -> list[TemplateEntry]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries = raw.get("templates") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise TemplateFileError(f"{path}: expected a 'templates' list")
    problems, templates = [], []
    for index, entry in enumerate(entries):
        try:
            templates.append(TemplateEntry.parse_obj(entry))
        except ValidationError as error:
            name = entry.get("name") if isinstance(entry, dict) else None
            problems += [
                f"templates[{index}] {name}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            ]
    if problems:
        raise TemplateFileError("; ".join(problems))
    return templates


def sync_templates(session: Session, templates: list[TemplateEntry]) -> int:
    """Insert or update by name; returns how many rows changed."""
    changed = 0
    for entry in templates:
        row = session.execute(select(m.WhatsAppTemplate).filter_by(template_name=entry.name)).scalar_one_or_none()
        values = {
            "template_type": entry.type,
            "category": entry.category,
            "language": entry.language,
            "content": entry.content,
            "variables": list(entry.variables),
            "status": entry.status,
            "header_format": entry.header,
        }
        if row is None:
            session.add(m.WhatsAppTemplate(template_name=entry.name, **values))
            changed += 1
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            changed += 1
    return changed


def import_templates(path: Path = TEMPLATES_FILE, database_url: str | None = None) -> int:
    templates = load_templates(path)
    with session_scope(database_url) as session:
        return sync_templates(session, templates)
