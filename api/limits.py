"""Request body limits for every route: a size (413) and read timeouts (408), before the app waits on a client.

Size: a declared ``Content-Length`` over the route's limit is refused at once,
before a byte of the body is read; a chunked body is counted as it is read and
refused the moment it passes the limit. Campaign uploads (``POST
/api/campaigns``, the studio wizard's ``/studio/campaigns/new/upload``) and the
studio's asset uploads (``/studio/assets``) have
their own, larger limit (``PVIDEO_MAX_UPLOAD_MB``); a few routes a smaller one
(``ROUTE_BODY_LIMITS``, by path); every other route ``PVIDEO_MAX_BODY_MB``.

Time: a client that stops sending holds a connection and a task for as long as
the app waits for it, so every wait for a body chunk is bounded by
``PVIDEO_BODY_IDLE_TIMEOUT_SECONDS`` and the whole body by
``PVIDEO_BODY_TIMEOUT_SECONDS``; a campaign upload gets that plus its declared
length at ``UPLOAD_MIN_RATE``, up to ``PVIDEO_UPLOAD_TIMEOUT_SECONDS`` (the most
a chunked upload gets). Past either bound the answer is 408 and the connection
is closed: a client sending a byte a second holds nothing for long.

A refusal is sent from here, whatever the app does next with the exception it
gets from ``receive``; the app's own answer, if any, is dropped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from pvideo.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KB = 1024
UPLOAD_PATHS = ("/api/campaigns", "/studio/campaigns/new/upload", "/studio/assets")  # API, wizard, assets
ROUTE_BODY_LIMITS = {
    "/api/events": 64 * KB,  # a beacon batch: the events route's own MAX_BODY
    "/api/responses": 16 * KB,  # one viewer answer: the route's own MAX_BODY
    "/api/scenes/preview": 1024 * KB,  # a 100,000-character scene, JSON-escaped, and a row
}
CORS_OPEN_PATHS = ("/api/events", "/api/responses")  # their refusals must be readable cross-origin too
UPLOAD_MIN_RATE = 100 * KB  # bytes per second a campaign upload is given time for


class BodyRefused(Exception):
    """Raised from ``receive`` once the middleware has answered 408 or 413 itself."""


class RequestBodyLimits:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.max_body = settings.max_body_mb * 1024 * KB
        self.max_upload = settings.max_upload_mb * 1024 * KB
        self.idle_timeout = settings.body_idle_timeout_seconds
        self.body_timeout = settings.body_timeout_seconds
        self.upload_timeout = settings.upload_timeout_seconds

    def limits_for(self, path: str, declared: int | None) -> tuple[int, float]:
        """The largest body (bytes) for ``path`` and the longest time to receive this one (seconds)."""
        path = path.rstrip("/")
        if path in UPLOAD_PATHS:
            if declared is None:
                return self.max_upload, self.upload_timeout
            return self.max_upload, min(self.upload_timeout, self.body_timeout + declared / UPLOAD_MIN_RATE)
        return min(ROUTE_BODY_LIMITS.get(path, self.max_body), self.max_body), self.body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        cors = path.rstrip("/") in CORS_OPEN_PATHS
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and not length.isdigit():
            await _answer(send, 400, "invalid Content-Length", cors)
            return
        declared = int(length) if length is not None else None
        limit, seconds = self.limits_for(path, declared)
        if declared is not None and declared > limit:
            await _answer(send, *_too_large(limit), cors)
            return
        deadline = time.monotonic() + seconds
        received = 0
        complete = False
        started = refused = False

        async def refuse(status: int, detail: str) -> BodyRefused:
            nonlocal refused
            if not started:
                await _answer(send, status, detail, cors)
            refused = True
            return BodyRefused(detail)

        async def limited_receive() -> Message:
            nonlocal received, complete
            if refused:
                return {"type": "http.disconnect"}
            if complete:
                return await receive()  # after the body only a disconnect comes, whenever it does
            left = deadline - time.monotonic()
            with anyio.move_on_after(min(self.idle_timeout, left)) as waited:
                message = await receive()
            if waited.cancelled_caught:
                if left <= self.idle_timeout:
                    raise await refuse(408, f"request body not received within {seconds:g} s")
                raise await refuse(408, f"no request body data for {self.idle_timeout:g} s")
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise await refuse(*_too_large(limit))
                complete = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the refusal was the answer
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise


def _too_large(limit: int) -> tuple[int, str]:
    return 413, f"request body larger than {limit // KB} KB"


async def _answer(send: Send, status: int, detail: str, cors: bool) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of the body is never read
    ]
    if cors:
        headers.append((b"access-control-allow-origin", b"*"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
