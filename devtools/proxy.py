"""A small local stand-in for the production proxy (deploy/Caddyfile) without HTTPS: /webhooks/* round-robin over
the Rasa replicas, skipping one that refuses the connection (for up to 5 s, as Caddy's `lb_try_duration`), and /api/*
and /office/* to the admin API. For the smoke test (devtools/smoke.py).

    python -m devtools.proxy --port 8443 --rasa http://127.0.0.1:5005 --rasa http://127.0.0.1:5006 \
        --api http://127.0.0.1:8095
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

log = logging.getLogger("devtools.proxy")

MAX_BODY_BYTES = 2 * 1024 * 1024  # the Caddyfile's request_body max_size
TRY_DURATION_S = 5.0  # lb_try_duration
TRY_INTERVAL_S = 0.25  # lb_try_interval
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "upgrade"}


class Replicas:
    """The Rasa replicas' base URLs, each in turn (round robin)."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.turn = 0

    def next(self) -> str:
        self.turn += 1
        return self.urls[self.turn % len(self.urls)]


REPLICAS: web.AppKey[Replicas] = web.AppKey("replicas", Replicas)
API: web.AppKey[str] = web.AppKey("api", str)
CLIENT: web.AppKey[aiohttp.ClientSession] = web.AppKey("client", aiohttp.ClientSession)


def _headers(headers: object) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key.lower() not in HOP_BY_HOP}  # type: ignore[attr-defined]


async def _forward(request: web.Request, upstream: str, body: bytes) -> web.Response:
    async with request.app[CLIENT].request(
        request.method, upstream + request.path_qs, headers=_headers(request.headers), data=body
    ) as answer:
        return web.Response(status=answer.status, body=await answer.read(), headers=_headers(answer.headers))


async def to_rasa(request: web.Request) -> web.Response:
    """The next replica in turn; one that refuses the connection is skipped for the next, for up to 5 s."""
    body = await request.read()
    deadline = time.monotonic() + TRY_DURATION_S
    while True:
        upstream = request.app[REPLICAS].next()
        try:
            return await _forward(request, upstream, body)
        except aiohttp.ClientConnectorError:
            log.warning("proxy: %s refused the connection, trying the next replica", upstream)
            if time.monotonic() >= deadline:
                return web.Response(status=502, text="no replica answers")
            await asyncio.sleep(TRY_INTERVAL_S)
        except (aiohttp.ClientError, asyncio.TimeoutError):  # it died with the request: Meta will deliver again
            log.warning("proxy: %s dropped the request", upstream)
            return web.Response(status=502, text="the replica dropped the request")


async def to_api(request: web.Request) -> web.Response:
    try:
        return await _forward(request, request.app[API], await request.read())
    except aiohttp.ClientConnectorError:
        return web.Response(status=502, text="the admin API does not answer")


def build_app(rasa_urls: list[str], api_url: str) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[REPLICAS] = Replicas(rasa_urls)
    app[API] = api_url

    async def client(app: web.Application) -> AsyncIterator[None]:
        app[CLIENT] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        yield
        await app[CLIENT].close()

    app.cleanup_ctx.append(client)
    app.router.add_route("*", "/webhooks/{tail:.*}", to_rasa)
    app.router.add_route("*", "/api/{tail:.*}", to_api)
    app.router.add_route("*", "/office/{tail:.*}", to_api)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rasa", action="append", required=True, help="a Rasa replica's base URL (repeat)")
    parser.add_argument("--api", required=True, help="the admin API's base URL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    web.run_app(build_app(args.rasa, args.api), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
