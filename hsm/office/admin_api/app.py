"""The admin HTTP API's aiohttp application (its routes, start and shutdown) and the `hsm api` command.

POST /api/whatsapp/send                 one message (text inside the 24-hour window, or an approved template)
POST /api/whatsapp/broadcast            queue a broadcast (admin only) -> 202
GET  /api/whatsapp/broadcasts/{id}      a broadcast's progress (admin only)
GET  /api/whatsapp/sessions/{phone}     a number's WhatsApp session
POST /api/whatsapp/sessions/clear       forget a session's context and expire it
GET  /api/whatsapp/messages/{phone}     a number's messages, newest first (limit 1-200, offset 0-1,000,000)
GET  /api/admin/staff                   staff accounts, paginated; POST adds one (admin only)
GET  /api/admin/staff/{login}           one account; PATCH changes it (staff: only their own name and e-mail)
POST /api/admin/staff/{login}/deactivate, .../reactivate   (admin only)
GET  /api/admin/tokens                  the tokens we issued, paginated (admin only); POST issues one (admin only)
POST /api/admin/tokens/{jti}/revoke     refuse one token from now on (admin only)
POST /api/admin/tokens/revoke           refuse every token of a subject issued before now (admin only)
GET  /api/admin/{students|guardians|teachers|admins}           the office's people: ?q=&active= (students: &batch=)
GET|PATCH /api/admin/{kind}/{key}       one person's card; edit names, phones, e-mails (teachers, admins: admin)
POST /api/admin/{kind}/{key}/deactivate|reactivate             they left / came back (teachers, admins: admin)
GET  /api/admin/batches, /api/admin/batches/{code}             batches: teacher or "no teacher", slots, roster
GET  /api/admin/enrollments, PATCH /api/admin/enrollments/{id} status, plan, fee; the live balance (admin, reason)
GET  /api/admin/leads                   leads, filtered and paginated (hsm.office.admin_api.leads)
GET  /api/admin/leads/{id}              one lead and its history
POST /api/admin/leads/{id}/move         move a lead along the pipeline (reopening: admin only)
POST /api/admin/leads/{id}/convert      admit the student a lead asked for; the lead becomes enrolled
POST /api/admin/students                admit a student: student, guardian and enrollment (admissions)
GET  /api/admin/absences                families' notices of a missed class, alerts of absences without (?from=&to=)
GET  /api/admin/closures                the office's closures (paginated; ?from=&to=&include_cancelled=)
POST /api/admin/closures                close days, whole school or batches; families told once (admin only)
POST /api/admin/closures/{id}/cancel    reopen them; families who were told are told (admin only)
POST /api/admin/payments                record a payment taken at the office; the receipt goes on WhatsApp
GET  /api/admin/payments                payments, newest first (student, method, from, to; limit, offset)
GET  /api/admin/payments/{id}/receipt.pdf   a payment's receipt
POST /api/admin/payments/{id}/reverse   reverse a payment, with a reason (admin only)
GET  /healthz                           liveness, no token
GET  /metrics                           Prometheus metrics, no token (never routed by the proxy)
GET  /office/ ...                       the office console: HTML pages with their own sign-in (hsm.office.console)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hsm.infra import metrics
from hsm.infra.attempt_limits import AttemptLimiter, attempt_limiter_from_env
from hsm.infra.config import get_settings
from hsm.office.admin_api.absences import get_absences
from hsm.office.admin_api.admissions import post_student
from hsm.office.admin_api.auth import ConfigurationError, auth_middleware, jwt_secret, public
from hsm.office.admin_api.broadcasts import get_broadcast, post_broadcast
from hsm.office.admin_api.classes import add_class_routes
from hsm.office.admin_api.closures import get_closures, post_closure, post_closure_cancel
from hsm.office.admin_api.errors import MAX_BODY_BYTES, errors_middleware
from hsm.office.admin_api.leads import get_lead, get_leads, post_convert, post_move
from hsm.office.admin_api.payments import add_payment_routes
from hsm.office.admin_api.people import add_people_routes
from hsm.office.admin_api.send import post_send
from hsm.office.admin_api.sessions import get_messages, get_session, post_sessions_clear
from hsm.office.admin_api.staff import (
    get_staff,
    get_staff_account,
    patch_staff,
    post_staff,
    post_staff_deactivate,
    post_staff_reactivate,
)
from hsm.office.admin_api.state import ADMIN_PREFIX, CLIENT, ENQUEUE, OWN_CLIENT, PREFIX, SECRET, SIGN_IN_LIMITER
from hsm.office.admin_api.tokens import get_tokens, post_token_revoke, post_tokens, post_tokens_revoke
from hsm.office.console import add_console_routes, code_sign_in, console_middleware
from hsm.outreach import broadcast as bc
from hsm.whatsapp.client import WhatsAppClient

log = logging.getLogger("hsm.office.admin_api")

DEFAULT_PORT = 8095


@public
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@public
async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus' scrape, without a token like /healthz: the proxy routes only /api/* here, so only
    the stack's own network reaches it (docs/deploy.md, "Monitoring")."""
    body, content_type = metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


def _enqueue(broadcast_id: int) -> None:
    bc.enqueue_broadcast(broadcast_id)


def create_admin_app(
    *,
    client: WhatsAppClient | None = None,
    enqueue: Callable[[int], object] | None = None,
    resume_broadcasts: bool = False,
    sign_in_limiter: AttemptLimiter | None = None,
) -> web.Application:
    """The admin API. `client` (default: from the environment, on first send), `enqueue` (default:
    `broadcast.enqueue_broadcast`) and `sign_in_limiter` (default: from the environment, Redis when REDIS_URL is
    set) are for tests; `resume_broadcasts` re-queues unfinished broadcasts at start. Raises ConfigurationError
    without ADMIN_JWT_SECRET."""
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware, console_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[SECRET] = jwt_secret()
    app[ENQUEUE] = enqueue or _enqueue
    app[CLIENT] = client
    app[OWN_CLIENT] = client is None
    app[SIGN_IN_LIMITER] = sign_in_limiter or attempt_limiter_from_env()
    app.router.add_post(f"{PREFIX}/send", post_send)
    app.router.add_post(f"{PREFIX}/broadcast", post_broadcast)
    app.router.add_get(f"{PREFIX}/broadcasts/{{broadcast_id}}", get_broadcast, allow_head=False)
    app.router.add_get(f"{PREFIX}/sessions/{{phone}}", get_session, allow_head=False)
    app.router.add_post(f"{PREFIX}/sessions/clear", post_sessions_clear)
    app.router.add_get(f"{PREFIX}/messages/{{phone}}", get_messages, allow_head=False)
    app.router.add_get(f"{ADMIN_PREFIX}/staff", get_staff, allow_head=False)
    app.router.add_post(f"{ADMIN_PREFIX}/staff", post_staff)
    app.router.add_get(f"{ADMIN_PREFIX}/staff/{{login}}", get_staff_account, allow_head=False)
    app.router.add_patch(f"{ADMIN_PREFIX}/staff/{{login}}", patch_staff)
    app.router.add_post(f"{ADMIN_PREFIX}/staff/{{login}}/deactivate", post_staff_deactivate)
    app.router.add_post(f"{ADMIN_PREFIX}/staff/{{login}}/reactivate", post_staff_reactivate)
    app.router.add_get(f"{ADMIN_PREFIX}/tokens", get_tokens, allow_head=False)
    app.router.add_post(f"{ADMIN_PREFIX}/tokens", post_tokens)
    app.router.add_post(f"{ADMIN_PREFIX}/tokens/revoke", post_tokens_revoke)
    app.router.add_post(f"{ADMIN_PREFIX}/tokens/{{jti}}/revoke", post_token_revoke)
    add_people_routes(app.router)  # the office's records: people who leave, batches, enrollments
    add_class_routes(app.router)
    app.router.add_get(f"{ADMIN_PREFIX}/leads", get_leads, allow_head=False)
    app.router.add_get(f"{ADMIN_PREFIX}/leads/{{lead_id}}", get_lead, allow_head=False)
    app.router.add_post(f"{ADMIN_PREFIX}/leads/{{lead_id}}/move", post_move)
    app.router.add_post(f"{ADMIN_PREFIX}/leads/{{lead_id}}/convert", post_convert)
    app.router.add_post(f"{ADMIN_PREFIX}/students", post_student)
    app.router.add_get(f"{ADMIN_PREFIX}/absences", get_absences, allow_head=False)
    app.router.add_get(f"{ADMIN_PREFIX}/closures", get_closures, allow_head=False)
    app.router.add_post(f"{ADMIN_PREFIX}/closures", post_closure)
    app.router.add_post(f"{ADMIN_PREFIX}/closures/{{closure_id}}/cancel", post_closure_cancel)
    add_payment_routes(app)
    app.router.add_get("/healthz", healthz, allow_head=False)
    app.router.add_get("/metrics", metrics_page, allow_head=False)
    metrics.UP.labels("api").set(1)
    add_console_routes(app)  # /office/: HTML, its own sessions; the two middlewares above leave it alone

    async def close_client(app: web.Application) -> None:
        # on_cleanup runs once the requests in hand have ended, so this covers codes they asked for while stopping.
        await code_sign_in.finish_sends()
        app_client = app[CLIENT]
        if app[OWN_CLIENT] and app_client is not None:
            await app_client.close()

    async def resume(app: web.Application) -> None:
        await asyncio.to_thread(bc.resume_broadcasts)

    async def stop_broadcasts(app: web.Application) -> None:
        await asyncio.to_thread(bc.stop_running_broadcasts)

    # The ignores: aiohttp 3.9 types its signals as `Signal[Callable[[Application], Awaitable[None]]]`, which
    # aiosignal 1.4 (Signal generic in the handlers' argument types) reads as handlers taking a callable.
    app.on_cleanup.append(close_client)  # type: ignore[arg-type]
    if resume_broadcasts:  # in-process broadcasts (no Redis): resume at start, stop gracefully at shutdown
        app.on_startup.append(resume)  # type: ignore[arg-type]
        app.on_shutdown.append(stop_broadcasts)  # type: ignore[arg-type]
    return app


def run_api(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> int:
    try:
        app = create_admin_app(resume_broadcasts=not get_settings().redis.url)
    except ConfigurationError as error:
        log.error("%s", error)
        return 2
    log.info(
        "admin API on http://%s:%d%s (broadcasts: %s)",
        host,
        port,
        PREFIX,
        "RQ queue 'broadcasts'" if get_settings().redis.url else "in-process",
    )
    # No access log: request lines would carry full phone numbers; errors_middleware logs them masked.
    web.run_app(app, host=host, port=port, print=None, access_log=None)
    return 0


def add_api_command(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("api", help="serve the admin API (JWT; needs ADMIN_JWT_SECRET)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.set_defaults(handler=lambda args: run_api(args.host, args.port))
    return parser
