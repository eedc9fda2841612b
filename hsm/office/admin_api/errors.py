"""The admin API's error shape, `{"error": {"code", "message", "field"?}}`, and the middleware answering with it.

Errors are `{"error": {"code", "message", "field"?}}`: 400 malformed input (naming the field), 401 token missing,
expired, badly signed, lacking a claim, living too long or revoked, 403 role, 404, 409 the records' state forbids it
(a domain service's `Conflict`), 413 body over 64 kB, 422
well-formed but impossible (unknown template, opted-out number, outside the 24-hour window), 502 Meta refused.
Responses carry full phone numbers (admins need them); logs mask them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hsm.infra.phone import mask_phone
from hsm.office.admin_api.state import is_console_path
from hsm.records.changes import RecordError

log = logging.getLogger("hsm.office.admin_api")

MAX_BODY_BYTES = 64 * 1024
PHONE_IN_TEXT = re.compile(r"(%2B|\+)?\d{7,15}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        details: dict | None = None,
        headers: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        self.headers = headers

    def response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        if self.details:
            error["details"] = self.details
        return web.json_response({"error": error}, status=self.status, headers=self.headers)


def bad_request(field: str, message: str, code: str = "invalid_field") -> ApiError:
    return ApiError(400, code, f"{field}: {message}", field)


def mask_path(path: str) -> str:
    return PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group(0).replace("%2B", "+")), path)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_console_path(request.path):  # the console answers HTML errors of its own (hsm.office.console.guard)
        return await handler(request)
    try:
        response = await handler(request)
    except ApiError as error:
        response = error.response()
    except RecordError as error:  # a domain service refused the change
        status = {"invalid": 400, "not_found": 404, "conflict": 409}[error.kind]
        response = ApiError(status, error.code, error.message, error.field).response()
    except web.HTTPRequestEntityTooLarge:
        response = ApiError(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES} bytes").response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status, "http_error")
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        response = ApiError(error.status, code, error.reason, headers=headers).response()
    except Exception:  # noqa: BLE001 - answer JSON, log the details
        log.exception("%s %s failed", request.method, mask_path(request.path))
        response = ApiError(500, "internal_error", "something went wrong; see the server log").response()
    log.info("%s %s -> %d", request.method, mask_path(request.path), response.status)
    return response
