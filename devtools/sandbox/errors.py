"""The errors the Graph API answers with, in Meta's shape (`{"error": {...}}`), and those of injected faults."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

# Fault statuses and the Graph API error (code, title) Meta answers with.
FAULT_ERRORS: dict[int, tuple[int, str]] = {
    429: (130429, "Rate limit hit"),
    503: (2, "Service temporarily unavailable"),
}
DEFAULT_FAULT_ERROR = (131000, "Something went wrong")


class GraphError(Exception):
    """An error the Graph API would answer with, as `{"error": {...}}`."""

    def __init__(
        self,
        http_status: int,
        code: int,
        message: str,
        details: str | None = None,
        error_type: str = "OAuthException",
        error_subcode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details
        self.error_type = error_type
        self.error_subcode = error_subcode

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.error_subcode is not None:
            error["error_subcode"] = self.error_subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = secrets.token_urlsafe(18)
        return {"error": error}

    def response(self) -> web.Response:
        return web.json_response(self.to_json(), status=self.http_status)


def invalid_parameter(details: str) -> GraphError:
    return GraphError(400, 131009, "(#131009) Parameter value is not valid", details)


def missing_parameter(path: str) -> GraphError:
    return GraphError(400, 100, f"(#100) The parameter {path} is required.", f"The parameter {path} is required.")


def fault_error(status: int) -> GraphError:
    code, title = FAULT_ERRORS.get(status, DEFAULT_FAULT_ERROR)
    return GraphError(status, code, f"(#{code}) {title}", f"{title} (sandbox fault injection)")
