"""Limits on an HTTP connection before a request reaches the app: time and size of its headers.

uvicorn bounds the idle time between requests (``timeout_keep_alive``) but not
the time a client may take to send a request's headers, nor (with httptools,
the parser pvideo serves with) their size: a connection that sends half a
request line and then nothing is held until the client gives up, and a few
hundred of them fill the server. ``HeaderLimitedProtocol`` is uvicorn's
httptools protocol with both bounds: the request line and headers must be
complete within ``header_timeout`` seconds of the connection opening (or of the
previous response), else the answer is 408 and the connection is closed; more
than ``max_header_bytes`` of them is refused as a bad request.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeadersTooLarge(ValueError):
    """Raised inside the parser: uvicorn answers 400 and closes the connection."""


class HeaderLimitedProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, header_timeout: float, max_header_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None

    def _await_headers(self) -> None:
        self._stop_header_timer()
        self._header_bytes = 0
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_TIMED_OUT)
            self.transport.close()

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes:
            raise HeadersTooLarge(f"request line and headers over {self.max_header_bytes} bytes")

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # a pipelined request's headers are already in
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._await_headers()


def header_limited_protocol(header_timeout: float, max_header_bytes: int) -> type[asyncio.Protocol]:
    """What uvicorn's ``http`` option takes: a protocol factory (picklable, for ``--workers``)."""
    factory = partial(HeaderLimitedProtocol, header_timeout=header_timeout, max_header_bytes=max_header_bytes)
    return cast("type[asyncio.Protocol]", factory)  # uvicorn calls it like the class
