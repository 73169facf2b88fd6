"""One delivery attempt: a JSON body POSTed with Standard Webhooks signature headers.

``webhook-id`` is the delivery's id (the same on every retry and replay, so a receiver drops
repeats), ``webhook-timestamp`` the attempt's Unix seconds, and ``webhook-signature``
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` under the base64-decoded secret, made by
the ``standardwebhooks`` package itself, so what it signs its ``Webhook.verify`` accepts.

The host is resolved and checked like an image fetch (``pvideo.plan.fetch``): an address that is
not public is refused unless ``allow_private``, the connection goes to the checked address only,
and redirects are not followed. ``post`` never raises: every outcome is an ``Attempt``.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from pvideo.plan import fetch

USER_AGENT = "pvideo-webhooks"
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: ``status`` is None when no HTTP answer came (refused, timeout)."""

    status: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def encode(payload: dict[str, Any]) -> str:
    """The body: compact, keys sorted, ASCII only, so every attempt sends (and signs) the same bytes."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=True, default=str)


def signed_headers(secret: str, message_id: str, body: str, *, at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


def post(url: str, body: str, headers: dict[str, str], *, timeout: float, allow_private: bool) -> Attempt:
    started = time.monotonic()

    def done(status: int | None, error: str | None) -> Attempt:
        error = error[:MAX_ERROR_CHARS] if error else None
        return Attempt(status, round((time.monotonic() - started) * 1000), error)

    try:
        target = fetch.resolve(url, allow_private=allow_private, what="webhook")
    except fetch.FetchRefused as exc:
        return done(None, str(exc))
    try:
        status, answer = _exchange(target, timeout, fetch.request_target(url), body.encode(), headers)
    except TimeoutError:
        return done(None, f"no answer within {timeout:g} s")
    except (OSError, http.client.HTTPException) as exc:
        return done(None, f"{type(exc).__name__}: {exc}")
    if 200 <= status < 300:
        return done(status, None)
    shown = " ".join(answer.split())
    return done(status, f"answered {status}" + (f": {shown}" if shown else ""))


_kept = threading.local()
"""Each delivery thread's open connections, by checked address: a receiver taking hundreds of
events a second is not made to accept (and the sender to open) a connection for each."""

_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _exchange(
    target: tuple[str, str, int, str], timeout: float, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    """POST on this thread's kept-alive connection to ``target`` (a new one if there is none, or if
    the kept one turns out closed by the receiver); the status and the start of the answer."""
    kept: dict[tuple[str, str, int, str, float], http.client.HTTPConnection] = _kept.__dict__.setdefault("conns", {})
    key = (*target, timeout)
    conn = kept.pop(key, None)
    reused = conn is not None
    if conn is None:
        conn = fetch.connection(*target, timeout)
    try:
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
        except _STALE:
            if not reused:
                raise
            conn.close()  # the receiver closed the idle connection: once more on a new one
            conn = fetch.connection(*target, timeout)
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
        answer = response.read(MAX_ERROR_CHARS).decode("utf-8", "replace")
        if not response.will_close and response.read(1) == b"":  # all read: the connection can carry the next
            kept[key] = conn
            conn = None
    finally:
        if conn is not None:
            conn.close()
    return response.status, answer
