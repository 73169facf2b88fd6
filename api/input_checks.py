"""Checks every request gets before a route sees it: NUL-free URLs, bounded JSON bodies.

PostgreSQL refuses text holding a NUL character, so an id or a query parameter
carrying one used to reach the database and come back as a 500:
``refuse_unstorable_text`` (an app-wide dependency) answers 422 naming the
parameter first. ``JsonBodyLimits`` scans a JSON body as it streams in
(``pvideo.scene.limits.JsonScanner``) and answers 422 before any parser
recurses into a document nested thousands deep or converts a 5,000-digit number.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pvideo.scene.limits import InputLimitError, JsonScanner, text_problem


async def refuse_unstorable_text(request: Request) -> None:
    """422 naming the path or query parameter that holds a NUL character (or a lone surrogate).

    Async: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop per request.
    """
    for name, value in request.path_params.items():
        problem = text_problem(value) if isinstance(value, str) else None
        if problem:
            raise HTTPException(422, f"path parameter {name}: {problem}")
    for name, value in request.query_params.multi_items():
        problem = text_problem(name) or text_problem(value)
        if problem:
            shown = name if text_problem(name) is None and len(name) <= 40 else "(name)"
            raise HTTPException(422, f"query parameter {shown}: {problem}")


class JsonBodyLimits:
    """Plain ASGI middleware: a JSON body nested deeper than ``limits.MAX_DEPTH`` or holding a
    number of more than ``limits.MAX_NUMBER_DIGITS`` digits is refused (422) while it is read.

    The refusal is raised from ``receive`` as an ``HTTPException``, which FastAPI's body
    parsing and our own routes both pass on to the exception handlers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        scanner = JsonScanner("body")

        async def scanning_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                try:
                    scanner.feed(message.get("body", b""))
                except InputLimitError as exc:
                    raise HTTPException(422, str(exc)) from None
            return message

        await self.app(scope, scanning_receive, send)


def _is_json(scope: Scope) -> bool:
    for key, value in scope.get("headers") or []:
        if key == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False
