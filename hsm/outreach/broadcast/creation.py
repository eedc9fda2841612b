"""Making a broadcast: its text or template checked against Meta's limits, stored with one row per recipient."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hsm.infra import clock
from hsm.infra import models as m
from hsm.outreach.broadcast.audience import OPTED_OUT, _chunks, plan_audience
from hsm.outreach.broadcast.errors import AudienceError, BroadcastError
from hsm.records.changes import record_change

log = logging.getLogger("hsm.outreach.broadcast")

TEXT_LIMIT = 4096
PARAMETER_LIMIT = 1024


def check_text(text: Any) -> str | None:
    """The text stripped (None stays None); raises BroadcastError when it is empty or longer than WhatsApp allows."""
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        raise BroadcastError("text", "the text is empty", "empty_text")
    text = text.strip()
    if len(text) > TEXT_LIMIT:
        raise BroadcastError(
            "text", f"the text has {len(text)} characters; WhatsApp allows {TEXT_LIMIT}", "text_too_long"
        )
    return text


def _positional(name: str, variables: list[str], params: Mapping[str, Any]) -> list[Any]:
    """Named parameters ({"student_name": "Asha", ...}) in the order the template declares them."""
    declared = ", ".join(map(str, variables)) or "none"
    unknown = [key for key in params if key not in variables]
    if unknown:
        raise BroadcastError(
            f"template_params.{unknown[0]}",
            f"template {name!r} has no parameter {', '.join(map(repr, unknown))} (its parameters: {declared})",
            "unknown_parameter",
            {"unknown": unknown, "declared": variables},
        )
    missing = [variable for variable in variables if variable not in params]
    if missing:
        raise BroadcastError(
            f"template_params.{missing[0]}",
            f"template {name!r} also needs {', '.join(map(repr, missing))} (its parameters: {declared})",
            "missing_parameter",
            {"missing": missing, "declared": variables},
        )
    return [params[variable] for variable in variables]


def _check_template(session: Session, name: Any, params: Any) -> tuple[m.WhatsAppTemplate | None, list[str]]:
    named = isinstance(params, Mapping)
    if name is None:
        if params:
            raise BroadcastError("template_params", "parameters need a template_name", "parameters_without_template")
        return None, []
    if not isinstance(name, str) or not name.strip():
        raise BroadcastError("template_name", "the template name is empty", "invalid")
    template = (
        session.execute(select(m.WhatsAppTemplate).where(m.WhatsAppTemplate.template_name == name.strip()))
        .scalars()
        .first()
    )
    if template is None:
        raise BroadcastError("template_name", f"no template named {name!r}", "unknown_template")
    if template.status != "approved":
        raise BroadcastError(
            "template_name", f"template {name!r} is {template.status}, not approved by Meta", "template_not_approved"
        )
    if template.header_format:
        raise BroadcastError(
            "template_name",
            f"template {name!r} needs a document attached; a broadcast has none",
            "template_needs_media",
        )
    variables = list(template.variables or [])
    params = _positional(template.template_name, variables, params) if named else list(params or ())
    if len(params) != len(variables):
        listed = f" ({', '.join(map(str, variables))})" if variables else ""
        raise BroadcastError(
            "template_params",
            f"template {name!r} takes {len(variables)} parameters{listed}, got {len(params)}",
            "wrong_parameter_count",
        )
    for index, param in enumerate(params):
        field = f"template_params.{variables[index]}" if named else f"template_params[{index}]"
        if not isinstance(param, str) or not param.strip():
            raise BroadcastError(field, "must be a non-empty string", "invalid_parameter")
        if "\n" in param or "\t" in param or "    " in param or len(param) > PARAMETER_LIMIT:
            raise BroadcastError(
                field,
                "Meta refuses parameters with new lines, tabs, four "
                f"spaces in a row or over {PARAMETER_LIMIT} characters",
                "invalid_parameter",
            )
    return template, [param.strip() for param in params]


def audience_summary(audience: dict) -> dict:
    """The audience without a custom list's numbers (for logs, audit and progress)."""
    summary = {key: value for key, value in audience.items() if key != "phones"}
    if "phones" in audience:
        summary["phones"] = len(audience["phones"]) if isinstance(audience["phones"], list) else 0
    return summary


def create_broadcast(
    session: Session,
    created_by: str,
    audience: dict,
    text: str | None = None,
    template_name: str | None = None,
    template_params: Sequence[str] | Mapping[str, str] = (),
) -> m.Broadcast:
    """A queued broadcast with one pending recipient per number (opted-out ones stored as skipped), in the caller's
    transaction; raises BroadcastError (unknown or unapproved template, wrong parameters, empty or long text,
    invalid numbers, nobody to message)."""
    text = check_text(text)
    template, params = _check_template(session, template_name, template_params)
    if text is None and template is None:
        raise BroadcastError("text", "give a text, a template_name, or both", "missing_content")
    plan = plan_audience(session, audience)
    if plan.invalid:
        raise AudienceError(
            "audience.phones",
            f"not valid phone numbers: {', '.join(plan.invalid)}",
            "invalid_phone",
            {"invalid": plan.invalid},
        )
    if not plan.recipients:
        raise AudienceError("audience", f"nobody to message ({len(plan.opted_out)} opted out)", "empty_audience")
    broadcast = m.Broadcast(
        created_by=created_by,
        audience=dict(audience),
        text=text,
        template_name=template.template_name if template else None,
        template_params=params,
        status="queued",
    )
    session.add(broadcast)
    session.flush()
    now = clock.utcnow()
    # Every row with the same keys: an executemany takes its columns from the first row.
    rows = [
        {
            "broadcast_id": broadcast.id,
            "phone_number": r.phone,
            "name": r.name,
            "status": "pending",
            "attempts": 0,
            "error_message": None,
            "updated_at": now,
        }
        for r in plan.recipients
    ]
    rows += [
        {
            "broadcast_id": broadcast.id,
            "phone_number": r.phone,
            "name": r.name,
            "status": "skipped",
            "attempts": 0,
            "error_message": OPTED_OUT,
            "updated_at": now,
        }
        for r in plan.opted_out
    ]
    for chunk in _chunks(rows, 1000):
        session.execute(insert(m.BroadcastRecipient), list(chunk))
    record_change(
        session,
        created_by,
        "broadcast.created",
        "broadcasts",
        broadcast.id,
        None,
        {
            "audience": audience_summary(audience),
            "recipients": len(plan.recipients),
            "opted_out": len(plan.opted_out),
            "text": text,
            "template_name": broadcast.template_name,
            "template_params": params,
        },
    )
    session.flush()
    log.info(
        "broadcast %d by %s: %d recipients, %d opted out (%s)",
        broadcast.id,
        created_by,
        len(plan.recipients),
        len(plan.opted_out),
        audience_summary(audience),
    )
    return broadcast
