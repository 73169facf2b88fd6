"""Request body size limits for every route: 413 before the app reads past the limit.

A declared ``Content-Length`` over the limit is refused at once; a chunked body
is counted as it is read and refused the moment it passes the limit. Campaign
uploads (``POST /api/campaigns``) have their own, larger limit
(``PVIDEO_MAX_UPLOAD_MB``); every other route ``PVIDEO_MAX_BODY_MB``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATHS = ("/api/campaigns",)


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    def limit_for(self, scope: Scope) -> int:
        return self.max_upload if scope.get("path", "").rstrip("/") in UPLOAD_PATHS else self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, limit, 413 if declared.isdigit() else 400)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BaseException as exc:
            if started or not _too_large(exc):
                raise
            await _refuse(send, limit, 413)


def _too_large(exc: BaseException) -> bool:
    """``_TooLarge``, possibly inside the exception group of a middleware's task group."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_too_large(e) for e in exc.exceptions)
    return isinstance(exc, _TooLarge)


async def _refuse(send: Send, limit: int, status: int) -> None:
    detail = f"request body larger than {limit // 1024} KB" if status == 413 else "invalid Content-Length"
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
