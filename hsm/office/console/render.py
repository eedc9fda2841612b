"""The console's HTML: the Jinja2 environment (autoescaped), its filters (school time zone, money) and responses."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from hsm.infra import clock
from hsm.office.admin_api.state import SECRET
from hsm.office.console import sessions

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
USER = "hsm.console.user"  # the request key holding the ConsoleUser
SCHOOL_NAME = web.AppKey("console_school_name", str)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def day_label(value: date | None) -> str:
    """'Tue 1 Dec 2026'."""
    if value is None:
        return ""
    return f"{value:%a} {value.day} {value:%b %Y}"


def time_label(value: datetime | None) -> str:
    """'17:00', in the school's time zone."""
    if value is None:
        return ""
    return clock.as_utc(value).astimezone(clock.school_timezone()).strftime("%H:%M")


def when_label(value: datetime | None) -> str:
    """'1 Dec, 16:05', in the school's time zone."""
    if value is None:
        return ""
    local = clock.as_utc(value).astimezone(clock.school_timezone())
    return f"{local.day} {local:%b}, {local:%H:%M}"


def iso_day(value: str | None) -> str:
    """An ISO date string as 'Tue 1 Dec 2026'."""
    return day_label(date.fromisoformat(value)) if value else ""


def money(value: int | None) -> str:
    return "" if value is None else f"₹{value:,}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(day=day_label, time=time_label, when=when_label, iso_day=iso_day, money=money)
    return env


ENVIRONMENT = _environment()


def html(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    """Render `template` with the signed-in user, their CSRF token and the school's name."""
    user = request.get(USER)
    csrf = sessions.csrf_token(request.app[SECRET], user.session_id) if user is not None else ""
    page = ENVIRONMENT.get_template(template).render(
        user=user,
        csrf=csrf,
        school=request.app.get(SCHOOL_NAME, "The school office"),
        path=request.path,
        **context,
    )
    response = web.Response(text=page, content_type="text/html", charset="utf-8", status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: web.Request, status: int) -> web.Response:
    titles = {
        403: ("Not allowed", "Your account cannot open this page, or the form had expired. Go back and try again."),
        404: ("Not found", "There is no such page, or it is not one your account can open."),
        405: ("Not allowed", "This page does not answer that kind of request."),
        413: ("Too large", "What you sent is larger than this page accepts (a spreadsheet: at most 2 MB)."),
    }
    title, text = titles.get(status, ("Something went wrong", "The office console could not show this page."))
    if status >= 500:
        text = "Something went wrong on our side; try again in a minute. The details are in the server's log."
    return html(request, "error.html", status=status, title=title, text=text)


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})
