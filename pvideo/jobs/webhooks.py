"""Webhooks: what happened to a render or a campaign, POSTed to the caller's URL.

Each delivery is signed: ``X-Pvideo-Signature: t=<unix seconds>,v1=<hex>``
where ``v1 = HMAC-SHA256(secret, "<t>." + body)``. Receivers recompute it and
reject stale timestamps (``verify``). Deliveries are at least once; the
``X-Pvideo-Event-Id`` header (also ``id`` in the body) lets a receiver drop a
repeat. The caller's campaign ``metadata`` is passed through unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
from typing import Any

from pvideo.db.models import Campaign, Render
from pvideo.errors import PermanentError, WebhookError
from pvideo.jobs.manifest import render_links
from pvideo.plan import fetch

SIGNATURE_HEADER = "X-Pvideo-Signature"
EVENT_ID_HEADER = "X-Pvideo-Event-Id"
_RETRYABLE_4XX = {408, 409, 425, 429}


class WebhookRejected(PermanentError):
    """The receiver answered 4xx: sending the same body again will not help."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, tolerance: float = 300, now: float | None = None) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` and is at most ``tolerance`` seconds old."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def deliver(url: str, payload: dict[str, Any], secret: str, *, timeout: float, allow_private: bool = False) -> int:
    """POST ``payload`` signed; returns the status. 5xx/timeouts: ``WebhookError`` (retried).

    The host is resolved and checked like an image fetch (``pvideo.plan.fetch``): a URL that
    resolves to a private, loopback or link-local address is refused for good (unless
    ``allow_private``), and the connection goes to the checked address only. Redirects
    are not followed.
    """
    try:
        scheme, host, port, ip = fetch.resolve(url, allow_private=allow_private, what="webhook")
    except fetch.Unresolvable as exc:
        raise WebhookError(f"webhook {url}: {exc}") from None
    except fetch.FetchRefused as exc:
        raise WebhookRejected(f"webhook {url}: {exc}") from None
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "pvideo-webhooks",
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
        EVENT_ID_HEADER: payload["id"],
    }
    conn = fetch.connection(scheme, host, port, ip, timeout)
    try:
        conn.request("POST", fetch.request_target(url), body=body, headers=headers)
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        raise WebhookError(f"webhook {url}: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
    if 200 <= status < 300:
        return status
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        raise WebhookRejected(f"webhook {url} answered {status}")
    raise WebhookError(f"webhook {url} answered {status}")


def render_event(render: Render, campaign: Campaign, base_url: str) -> dict[str, Any]:
    return {
        "id": f"render.{render.status}.{render.id}.{render.attempts}",
        "type": f"render.{render.status}",
        "campaign_id": campaign.id,
        "render_id": render.id,
        "row": render.row_number,
        "customer_id": render.customer_id,
        "status": render.status,
        "error": render.error,
        **render_links(render, base_url),
        "metadata": campaign.meta,
    }


def campaign_event(campaign: Campaign, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": f"campaign.completed.{campaign.id}",
        "type": "campaign.completed",
        "campaign_id": campaign.id,
        "name": campaign.name,
        "total": sum(counts.values()),
        "counts": counts,
        "completed_at": campaign.completed_at.isoformat() if campaign.completed_at else None,
        "metadata": campaign.meta,
    }
