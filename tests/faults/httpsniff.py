"""Reading HTTP/1.1 exchanges out of the byte streams the S3 proxy forwards.

The proxy forwards bytes untouched; these parsers only watch them, so the suite can count what
S3 was asked to store (each ``PUT`` of a key, and whether S3 answered 2xx) without a hook in
pvideo or in moto. Bodies are skipped by ``Content-Length`` or chunked framing; ``100 Continue``
is an interim answer; a ``HEAD`` answer has no body.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Exchange:
    method: str
    target: str
    status: int | None  # None: no answer came back (the connection was cut)
    at: float

    @property
    def bucket_and_key(self) -> tuple[str, str]:
        path = unquote(urlsplit(self.target).path).lstrip("/")  # path-style: /bucket/key
        bucket, _, key = path.partition("/")
        return bucket, key

    @property
    def stores_object(self) -> bool:
        """A whole-object ``PUT`` (not a part of a multipart upload, not a bucket)."""
        query = urlsplit(self.target).query
        return self.method == "PUT" and "partNumber=" not in query and bool(self.bucket_and_key[1])


class Framer:
    """Splits one direction of a connection into message heads, skipping the bodies."""

    def __init__(self, on_head: Callable[[str, dict[str, str]], str]) -> None:
        self.on_head = on_head  # returns how the body is framed: "none", "length:<n>", "chunked", "close"
        self.buf = b""
        self.state = "head"
        self.remaining = 0

    def feed(self, data: bytes) -> None:
        self.buf += data
        while self.buf:
            if self.state == "head":
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4 :]
                start, *lines = head.split("\r\n")
                headers = {}
                for line in lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                self._body(self.on_head(start, headers))
            elif self.state == "length":
                taken = min(self.remaining, len(self.buf))
                self.buf, self.remaining = self.buf[taken:], self.remaining - taken
                if self.remaining == 0:
                    self.state = "head"
            elif self.state == "chunk-size":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return
                size = int(self.buf[:end].split(b";")[0].strip() or b"0", 16)
                self.buf = self.buf[end + 2 :]
                self.state, self.remaining = ("chunk", size + 2) if size else ("trailer", 0)
            elif self.state == "chunk":
                taken = min(self.remaining, len(self.buf))
                self.buf, self.remaining = self.buf[taken:], self.remaining - taken
                if self.remaining == 0:
                    self.state = "chunk-size"
            elif self.state == "trailer":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return
                line, self.buf = self.buf[:end], self.buf[end + 2 :]
                if not line:
                    self.state = "head"
            else:  # "close": everything until the connection closes is body
                self.buf = b""

    def _body(self, framing: str) -> None:
        if framing == "chunked":
            self.state = "chunk-size"
        elif framing.startswith("length:") and int(framing[7:]) > 0:
            self.state, self.remaining = "length", int(framing[7:])
        elif framing == "close":
            self.state = "close"
        else:
            self.state = "head"


def _framing(headers: dict[str, str], *, response: bool) -> str:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return "chunked"
    if "content-length" in headers:
        return f"length:{int(headers['content-length'])}"
    return "close" if response else "none"


class ExchangeLog:
    """Every request seen on any connection, with the status S3 answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exchanges: list[Exchange] = []

    def connection(self) -> tuple[Framer, Framer, Callable[[], None]]:
        """Parsers for one connection's two directions, and what to call when it closes."""
        pending: deque[tuple[str, str, float]] = deque()

        def on_request(start: str, headers: dict[str, str]) -> str:
            method, target, *_ = [*start.split(" "), "", ""]
            pending.append((method, target, time.monotonic()))
            return _framing(headers, response=False)

        def on_response(start: str, headers: dict[str, str]) -> str:
            parts = start.split(" ")
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            if 100 <= status < 200:
                return "none"
            if not pending:
                return _framing(headers, response=True)
            method, target, at = pending.popleft()
            with self.lock:
                self.exchanges.append(Exchange(method, target, status, at))
            if method == "HEAD" or status in (204, 304):
                return "none"
            return _framing(headers, response=True)

        def closed() -> None:
            with self.lock:
                self.exchanges.extend(Exchange(m, t, None, at) for m, t, at in pending)
            pending.clear()

        return Framer(on_request), Framer(on_response), closed

    def snapshot(self) -> list[Exchange]:
        with self.lock:
            return list(self.exchanges)

    def stored(self, bucket: str) -> Counter[str]:
        """Keys of ``bucket`` and how many ``PUT``s of each S3 accepted (2xx)."""
        return Counter(
            e.bucket_and_key[1]
            for e in self.snapshot()
            if e.stores_object and e.bucket_and_key[0] == bucket and e.status is not None and 200 <= e.status < 300
        )

    def puts(self, bucket: str) -> Counter[str]:
        """Keys of ``bucket`` and how many ``PUT``s of each were sent, whatever the answer."""
        return Counter(
            e.bucket_and_key[1] for e in self.snapshot() if e.stores_object and e.bucket_and_key[0] == bucket
        )
