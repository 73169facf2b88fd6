"""pvideo's access log: one line per request, without the client's address in the clear.

uvicorn's own access log prints every client's full IP address; ``pvideo serve`` turns it off and
wraps the app in ``AccessLog`` instead (``pvideo.cli.serve``). Its line (logger
``pvideo.access``, INFO) says method, path, status and time, and the client's network only
(``pvideo.privacy.consent.truncated_address``: a /24 or a /48). The address is the one uvicorn
settled on: ``X-Forwarded-For`` counts only from the trusted proxies (``PVIDEO_TRUSTED_PROXIES``).

Paths lose what would name a person: the query string (a CTA click's session id, an export
cursor) is left out, and the segment after ``/v/`` (a viewer's token, which opens their video)
and ``/api/customers/`` (a customer id) is replaced by a placeholder.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api.main import create_app
from pvideo.privacy.consent import truncated_address

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("pvideo.access")

_PERSONAL_SEGMENT = re.compile(r"^(/v/|/api/customers/)[^/]+")


def logged_path(path: str) -> str:
    """``path`` as the log shows it: a viewer token or a customer id replaced by a placeholder."""
    return _PERSONAL_SEGMENT.sub(lambda m: m.group(1) + "{id}", path)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            client = scope.get("client")
            path = logged_path(scope.get("path", ""))
            ms = round((time.perf_counter() - started) * 1000, 1)
            network = truncated_address(client[0] if client else None)
            log.info(
                '%s - "%s %s HTTP/%s" %d %.1f ms',
                network,
                scope.get("method", ""),
                path,
                scope.get("http_version", "1.1"),
                status,
                ms,
                extra={"client": network, "method": scope.get("method"), "path": path, "status": status, "ms": ms},
            )


def logged_app() -> ASGIApp:
    """``api.main.create_app`` behind the access log: the factory ``pvideo serve --workers N`` runs."""
    return AccessLog(create_app())
