"""Raw events out, in a stable order, resumable: a cursor is the last exported event's id.

Ids grow with inserts, but on PostgreSQL a transaction that took a smaller id
can commit after a larger one is visible. Events younger than ``settle``
seconds are therefore held back, so a cursor never jumps over an event that
commits late. Each page is ``limit`` events with ``id > cursor``, by id.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvideo.db.models import Event, utcnow

COLUMNS = (
    "id",
    "event_id",
    "campaign_id",
    "render_id",
    "session_id",
    "seq",
    "type",
    "position",
    "percent",
    "media_duration",
    "cta_id",
    "interaction_id",
    "detail",
    "device",
    "client_ts",
    "occurred_at",
    "received_at",
)
_PREFIX = "ev1:"


def encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id after which to continue; ``ValueError`` for a cursor we did not issue."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("malformed cursor") from None
    if not text.startswith(_PREFIX) or not text[len(_PREFIX) :].isdigit():
        raise ValueError("malformed cursor")
    return int(text[len(_PREFIX) :])


def export_page(
    session: Session,
    campaign_id: str,
    *,
    after: int = 0,
    limit: int = 1000,
    settle: float = 0.0,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    query = (
        select(*(getattr(Event, c) for c in COLUMNS))
        .where(Event.campaign_id == campaign_id, Event.id > after)
        .order_by(Event.id)
        .limit(limit)
    )
    if settle > 0:
        query = query.where(Event.received_at <= (now or utcnow()) - timedelta(seconds=settle))
    return [dict(zip(COLUMNS, row, strict=True)) for row in session.execute(query)]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def to_ndjson(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False) + "\n" for row in rows)


def _cell(value: Any) -> Any:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return _plain(value)


def to_csv(rows: Iterable[dict[str, Any]], *, header: bool = True) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()
