"""The sandbox's HTTP app: Graph API /messages and /media (and inbound media, `inbound_media`), inspection and fault
injection endpoints, runner and `hsm sandbox`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import uvloop
from aiohttp import web

from devtools.sandbox.config import DEFAULT_PORT, DEFAULT_WEBHOOK_URL, SandboxConfig, _latency_s, config_from_env
from devtools.sandbox.errors import GraphError
from devtools.sandbox.inbound_media import add_inbound_media_routes
from devtools.sandbox.media import MAX_UPLOAD_BYTES, check_media_uploaded, read_upload
from devtools.sandbox.requests import check_authorization, serve_fault
from devtools.sandbox.state import SANDBOX, Sandbox, parse_fault
from devtools.sandbox.validation import is_mark_as_read, recipient_digits, validate_mark_as_read, validate_message
from hsm.infra.phone import mask_phone

log = logging.getLogger("devtools.sandbox")

MAX_LONG_POLL_S = 120.0


# ---------------------------------------------------------------- Graph API handlers


def check_phone_number_id(phone_number_id: str, config: SandboxConfig) -> None:
    if phone_number_id != config.phone_number_id:
        raise GraphError(
            400,
            100,
            f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation",
            error_type="GraphMethodException",
            error_subcode=33,
        )


async def read_json_object(request: web.Request) -> dict:
    try:
        body = json.loads(await request.read() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if not isinstance(body, dict):
        raise GraphError(400, 100, "(#100) Invalid parameter", "The request body must be a JSON object")
    return body


def send_response(body: dict, message: dict) -> web.Response:
    sent: dict[str, Any] = {"id": message["id"]}
    if message["type"] == "template":
        sent["message_status"] = "accepted"
    return web.json_response(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": recipient_digits(body["to"])}],
            "messages": [sent],
        }
    )


async def post_messages(request: web.Request) -> web.Response:
    """POST /{version}/{phone_number_id}/messages: send a message, or mark one as read; answered after the
    configured latency (a send is recorded, and visible to the long-poll, as it arrives)."""
    answer = await _handle_messages_post(request)
    latency_s = request.app[SANDBOX].config.latency_s
    if latency_s > 0:
        await asyncio.sleep(latency_s)
    return answer


async def _handle_messages_post(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    try:
        check_authorization(request, sandbox.config)
        check_phone_number_id(request.match_info["phone_number_id"], sandbox.config)
        body = await read_json_object(request)
        if is_mark_as_read(body):
            validate_mark_as_read(body)
            sandbox.record_read_receipt(body)
            return web.json_response({"success": True})
        fault = sandbox.take_fault()
        if fault is not None:
            answer = await serve_fault(request, fault)
            if answer is not None:
                return answer
        message_type = validate_message(body)
        check_media_uploaded(body, message_type, sandbox.media)
    except GraphError as error:
        sandbox.stats["rejected"] += 1
        log.info(
            "rejected a send (HTTP %d, code %d): %s", error.http_status, error.code, error.details or error.message
        )
        return error.response()
    message = sandbox.record_message(body, message_type)
    log.info("accepted #%d %s to %s", message["seq"], message_type, mask_phone(message["to"]))
    await sandbox.append_to_record_file(message)
    sandbox.notifier.notify(message)
    return send_response(body, message)


async def post_media(request: web.Request) -> web.Response:
    """POST /{version}/{phone_number_id}/media: upload a file (multipart), answered with its media id after the
    configured latency; faults apply as to sends."""
    sandbox = request.app[SANDBOX]
    try:
        check_authorization(request, sandbox.config)
        check_phone_number_id(request.match_info["phone_number_id"], sandbox.config)
        fault = sandbox.take_fault()
        if fault is not None:
            answer = await serve_fault(request, fault)
            if answer is not None:
                return answer
        upload = await read_upload(request)
    except GraphError as error:
        sandbox.stats["rejected"] += 1
        log.info("rejected an upload (HTTP %d, code %d): %s", error.http_status, error.code, error.details)
        return error.response()
    sandbox.record_media(upload)
    log.info("uploaded media %s (%s, %d bytes)", upload.id, upload.mime_type, len(upload.content))
    if sandbox.config.latency_s > 0:
        await asyncio.sleep(sandbox.config.latency_s)
    return web.json_response({"id": upload.id})


# ---------------------------------------------------------------- inspection and fault endpoints


async def get_media_list(request: web.Request) -> web.Response:
    """GET /_sandbox/media: every upload (id, type, filename, size, sha256), oldest first."""
    return web.json_response({"media": [upload.describe() for upload in request.app[SANDBOX].media.values()]})


async def get_media_content(request: web.Request) -> web.Response:
    """GET /_sandbox/media/{media_id}: the uploaded bytes, with their type and file name."""
    upload = request.app[SANDBOX].media.get(request.match_info["media_id"])
    if upload is None:
        return web.json_response({"error": "no media with this id was uploaded"}, status=404)
    disposition = f'attachment; filename="{upload.filename}"' if upload.filename else "attachment"
    return web.Response(
        body=upload.content, content_type=upload.mime_type, headers={"Content-Disposition": disposition}
    )


def _bad_request(problem: str) -> web.Response:
    return web.json_response({"error": problem}, status=400)


async def get_messages(request: web.Request) -> web.Response:
    """GET /_sandbox/messages?to=&after=&wait=: recorded sends, long-polling up to `wait` seconds."""
    sandbox = request.app[SANDBOX]
    try:
        after = int(request.query.get("after", "0") or 0)
        wait_s = min(max(float(request.query.get("wait", "0") or 0), 0.0), MAX_LONG_POLL_S)
    except ValueError:
        return _bad_request("after must be an integer and wait a number of seconds")
    to = request.query.get("to")
    if to is not None and to.strip() and not recipient_digits(to):
        return _bad_request("to must be a phone number")
    messages = await sandbox.wait_for_messages(to, after, wait_s)
    return web.json_response({"messages": messages, "last_seq": sandbox.last_seq})


async def delete_messages(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    sandbox.clear()
    return web.json_response({"cleared": True, "last_seq": sandbox.last_seq})


async def get_read_receipts(request: web.Request) -> web.Response:
    return web.json_response({"read_receipts": request.app[SANDBOX].read_receipts})


async def get_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[SANDBOX].stats)


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": [asdict(fault) for fault in request.app[SANDBOX].faults]})


async def post_faults(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    try:
        fault = parse_fault(json.loads(await request.read() or b"null"))
    except (ValueError, UnicodeDecodeError) as error:
        return _bad_request(str(error))
    sandbox.faults.append(fault)
    log.info("fault injection queued: %s", fault)
    return web.json_response({"faults": [asdict(queued) for queued in sandbox.faults]})


async def delete_faults(request: web.Request) -> web.Response:
    request.app[SANDBOX].faults.clear()
    return web.json_response({"faults": []})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


# ---------------------------------------------------------------- app, runner, CLI


def create_app(config: SandboxConfig) -> web.Application:
    app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
    app[SANDBOX] = Sandbox(config)
    app.cleanup_ctx.append(_background_services)
    app.router.add_post(r"/{version:v\d+\.\d+}/{phone_number_id}/messages", post_messages)
    app.router.add_post(r"/{version:v\d+\.\d+}/{phone_number_id}/media", post_media)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/_sandbox/messages", get_messages)
    app.router.add_delete("/_sandbox/messages", delete_messages)
    app.router.add_get("/_sandbox/media", get_media_list)
    app.router.add_get("/_sandbox/media/{media_id}", get_media_content)
    app.router.add_get("/_sandbox/read-receipts", get_read_receipts)
    app.router.add_get("/_sandbox/stats", get_stats)
    app.router.add_get("/_sandbox/faults", get_faults)
    app.router.add_post("/_sandbox/faults", post_faults)
    app.router.add_delete("/_sandbox/faults", delete_faults)
    add_inbound_media_routes(app)
    return app


async def _background_services(app: web.Application) -> AsyncIterator[None]:
    """The status notifier's HTTP session and the record file's writer thread, for the app's lifetime."""
    sandbox = app[SANDBOX]
    await sandbox.notifier.start()
    if sandbox.config.record_file:
        sandbox.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hsm-sandbox-record")
    yield
    await sandbox.notifier.close()
    if sandbox.recorder is not None:
        sandbox.recorder.shutdown(wait=True)


def run_sandbox(config: SandboxConfig, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Serve the sandbox until interrupted (blocking)."""
    callbacks = config.webhook_url if config.webhook_url and config.app_secret else "off"
    log.info(
        "WhatsApp Cloud API sandbox on http://%s:%d (WHATSAPP_API_URL=http://%s:%d/v21.0, phone number id %s); "
        "status callbacks: %s",
        host,
        port,
        host,
        port,
        config.phone_number_id,
        callbacks,
    )
    # No access log: its request lines would carry full phone numbers (`?to=+91...`); sends are logged masked.
    # uvloop, as under Rasa's Sanic: the sandbox shares the machine with the stack it stands in for Meta to.
    web.run_app(create_app(config), host=host, port=port, print=None, access_log=None, loop=uvloop.new_event_loop())


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    overrides: dict[str, Any] = {"auto_read": not args.no_auto_read, "record_file": args.record}
    if args.latency_ms is not None:
        overrides["latency_s"] = _latency_s(args.latency_ms, "--latency-ms")
    if args.webhook_url:
        overrides["webhook_url"] = args.webhook_url
    if args.no_statuses:
        overrides["webhook_url"] = None
    return config_from_env(**overrides)


def _cmd_sandbox(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"hsm sandbox: {error}", file=sys.stderr)
        return 2
    run_sandbox(config, host=args.host, port=args.port)
    return 0


def add_sandbox_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register `hsm sandbox` on the CLI's sub-command parsers."""
    parser = subparsers.add_parser("sandbox", help="run the local stand-in for Meta's WhatsApp Cloud API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--webhook-url", help=f"where status callbacks go (default: $HSM_SANDBOX_WEBHOOK_URL or {DEFAULT_WEBHOOK_URL})"
    )
    parser.add_argument("--no-statuses", action="store_true", help="send no sent/delivered/read callbacks")
    parser.add_argument("--no-auto-read", action="store_true", help="stop at 'delivered'; send no 'read' callback")
    parser.add_argument("--record", metavar="FILE", help="append each accepted send to FILE as a JSON line")
    parser.add_argument(
        "--latency-ms",
        metavar="MS",
        help="answer every Graph API call after MS milliseconds, as Meta's answers take over the "
        "internet (default: $HSM_SANDBOX_LATENCY_MS or 0)",
    )
    parser.set_defaults(handler=_cmd_sandbox)
    return parser
