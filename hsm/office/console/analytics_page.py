"""The Analytics page: the school's figures for a period, each chart (inline SVG) beside its table, tables as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from hsm.infra import clock
from hsm.infra.config import get_settings
from hsm.infra.db import session_scope
from hsm.office import analytics as an
from hsm.office.console import charts
from hsm.office.console.broadcasts import staff_only
from hsm.office.console.guard import page
from hsm.office.console.render import html

DEFAULT_DAYS = 30
MAX_DAYS = 366
DEFAULT_PAYMENT_DAYS = 7
MAX_PAYMENT_DAYS = 60


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def period_of(query) -> tuple[an.Period, int]:
    """The period asked for (default: the last 30 days to today; at most a year) and the payment window."""
    last = _day(query.get("to")) or clock.today()
    first = _day(query.get("from")) or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    try:
        days = min(max(int(query.get("days", DEFAULT_PAYMENT_DAYS)), 1), MAX_PAYMENT_DAYS)
    except ValueError:
        days = DEFAULT_PAYMENT_DAYS
    return an.Period(first, last), days


def figures(period: an.Period, days: int) -> dict[str, Any]:
    with session_scope() as session:
        found = {
            "messages": an.messages_per_day(session, period),
            "users": an.distinct_users(session, period),
            "replies": an.reply_times(session, period),
            "attendance": an.attendance_adoption(session, period),
            "delivery": an.delivery(session, period),
            "payments": an.payments_after_reminders(session, period, days),
        }
        if not get_settings().rasa.tracker_db_url:
            found["intents"] = an.intents(session, period)
    if "intents" not in found:
        with session_scope(get_settings().rasa.tracker_db_url) as tracker:
            found["intents"] = an.intents(tracker, period)
    return found


def label(day: date) -> str:
    return f"{day.day} {day:%b}"


def drawn(found: dict[str, Any]) -> dict[str, charts.Chart]:
    messages, payments = found["messages"], found["payments"]["rows"]
    return {
        "messages": charts.columns(
            [label(r["day"]) for r in messages],
            [
                ("in", charts.BLUE, [r["inbound"] for r in messages]),
                ("out", charts.GREEN, [r["outbound"] for r in messages]),
            ],
        ),
        "intents": charts.rows([(r["intent"], r["count"]) for r in found["intents"]["rows"]]),
        "attendance": charts.rows([(r["teacher"], round(100 * r["share"])) for r in found["attendance"]], top=100),
        "delivery": charts.rows([(r["status"], r["count"]) for r in found["delivery"]["rows"]], charts.GREEN),
        "payments": charts.columns(
            [label(r["day"]) for r in payments],
            [
                ("reminded", charts.GREY, [r["reminders"] for r in payments]),
                ("paid", charts.GREEN, [r["paid"] for r in payments]),
            ],
        ),
    }


def _figures(period: an.Period, days: int) -> dict[str, Any]:
    found = figures(period, days)
    return {**found, "charts": drawn(found)}


@page
async def get_analytics(request: web.Request) -> web.StreamResponse:
    staff_only(request)
    period, days = period_of(request.query)
    found = await asyncio.to_thread(_figures, period, days)
    return html(request, "analytics.html", title="Analytics", period=period, days=days, **found)


def table(name: str, found: dict[str, Any]) -> list[list[Any]] | None:
    """One of the page's tables as CSV rows (a header first); None for an unknown name."""
    if name == "messages":
        return [["day", "inbound", "outbound"]] + [[r["day"], r["inbound"], r["outbound"]] for r in found["messages"]]
    if name == "intents":
        return [["intent", "messages"]] + [[r["intent"], r["count"]] for r in found["intents"]["rows"]]
    if name == "attendance":
        return [["teacher", "classes marked", "over whatsapp", "share"]] + [
            [r["teacher"], r["classes"], r["whatsapp"], f"{r['share']:.3f}"] for r in found["attendance"]
        ]
    if name == "delivery":
        return [["status", "messages"]] + [[r["status"], r["count"]] for r in found["delivery"]["rows"]]
    if name == "payments":
        return [["day", "fee reminders", "paid within days", "rupees"]] + [
            [r["day"], r["reminders"], r["paid"], r["amount"]] for r in found["payments"]["rows"]
        ]
    return None


@page
async def get_analytics_csv(request: web.Request) -> web.StreamResponse:
    staff_only(request)
    period, days = period_of(request.query)
    rows = table(request.match_info["table"], await asyncio.to_thread(figures, period, days))
    if rows is None:
        raise web.HTTPNotFound()
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    name = f"{request.match_info['table']}-{period.first}-{period.last}.csv"
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def add_analytics_routes(app: web.Application) -> None:
    app.router.add_get("/office/analytics", get_analytics, allow_head=False)
    app.router.add_get("/office/analytics/{table}.csv", get_analytics_csv, allow_head=False)
