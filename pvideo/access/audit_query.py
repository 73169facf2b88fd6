"""Reading the audit log: newest first, filtered, a page at a time or streamed whole for export.

Pages are keyset pages on the entry id (ids only grow, so the newest entry has the highest):
a cursor is the last id shown, and the next page is the entries below it. Entries added while
someone reads never shift a page, as an offset would. The studio page and ``GET /api/audit``
share this; the exports (CSV, NDJSON) walk the same order in batches, never holding it all.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from pvideo.access.audit import Action
from pvideo.db.models import AuditEntry

PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
EXPORT_BATCH = 1000
MAX_ACTOR_FILTER = 320
MAX_ID = 2**63 - 1  # audit_log.id is a 64-bit integer
COLUMNS = ("id", "at", "actor", "role", "action", "target_type", "target_id", "detail")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    """What to show: one action, an actor (any part of it, any case), and UTC days from ``start``
    to ``end`` inclusive. Empty fields do not filter."""

    action: Action | None = None
    actor: str | None = None
    start: date | None = None
    end: date | None = None

    @classmethod
    def parse(cls, *, action: str = "", actor: str = "", start: str = "", end: str = "") -> AuditFilter:
        """From query-string text (a plain GET form sends empty fields); ``ValueError`` naming the
        field for an unknown action, a date that is not YYYY-MM-DD, or an end before the start."""
        try:
            chosen = Action(action) if action else None
        except ValueError:
            raise ValueError(f"action: not one of {', '.join(a.value for a in Action)}") from None
        days = {}
        for name, text in (("start", start), ("end", end)):
            try:
                days[name] = date.fromisoformat(text) if text else None
            except ValueError:
                raise ValueError(f"{name}: not a date (YYYY-MM-DD)") from None
        if days["start"] and days["end"] and days["end"] < days["start"]:
            raise ValueError("end: before start")
        return cls(chosen, actor.strip()[:MAX_ACTOR_FILTER] or None, days["start"], days["end"])

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.action is not None:
            found.append(AuditEntry.action == self.action.value)
        if self.actor:
            found.append(AuditEntry.actor.icontains(self.actor, autoescape=True))
        if self.start is not None:
            found.append(AuditEntry.at >= datetime.combine(self.start, time(), UTC))
        if self.end is not None and self.end < date.max:
            found.append(AuditEntry.at < datetime.combine(self.end + timedelta(days=1), time(), UTC))
        return found

    def query(self) -> dict[str, str]:
        """The filter as query-string fields (for the next page's and the exports' links)."""
        fields = {"action": self.action.value if self.action else "", "actor": self.actor or ""}
        fields.update(start=self.start.isoformat() if self.start else "", end=self.end.isoformat() if self.end else "")
        return {k: v for k, v in fields.items() if v}


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None
    """Pass it back as the cursor for older entries; ``None`` on the last page."""


def parse_cursor(cursor: str | None) -> int | None:
    """The id a cursor names; ``ValueError`` for anything that is not one."""
    if not cursor:
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 19 or int(cursor) > MAX_ID:
        raise ValueError("cursor: not a cursor this log handed out")
    return int(cursor)


def audit_page(session: Session, which: AuditFilter, *, cursor: str | None = None, limit: int = PAGE_SIZE) -> AuditPage:
    """``limit`` entries matching ``which``, newest first, older than ``cursor``."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    entries = _batch(session, which, parse_cursor(cursor), limit + 1)
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries, str(entries[-1].id) if more else None)


def iter_entries(session: Session, which: AuditFilter) -> Iterator[AuditEntry]:
    """Every entry matching ``which``, newest first, read ``EXPORT_BATCH`` at a time."""
    before: int | None = None
    while batch := _batch(session, which, before, EXPORT_BATCH):
        yield from batch
        before = batch[-1].id
        session.expunge_all()  # what was sent is not kept


def _batch(session: Session, which: AuditFilter, before: int | None, limit: int) -> list[AuditEntry]:
    query = select(AuditEntry).where(*which.conditions()).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list(session.scalars(query))


def entry_public(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the API and the NDJSON export give it (``at`` in UTC, ISO 8601)."""
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)  # SQLite keeps no zone
    return {
        "id": entry.id,
        "at": at.astimezone(UTC).isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "detail": entry.detail or {},
    }


def ndjson_chunks(entries: Iterable[AuditEntry]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(entry_public(entry), ensure_ascii=False) + "\n"


def csv_chunks(entries: Iterable[AuditEntry], *, batch: int = 500) -> Iterator[str]:
    """The header, then rows ``batch`` at a time; ``detail`` as JSON; formula-safe cells."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for n, entry in enumerate(entries, start=1):
        row = entry_public(entry)
        row["detail"] = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True) if row["detail"] else ""
        writer.writerow([_cell(row[c]) for c in COLUMNS])
        if n % batch == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading ' (an actor is typed by people)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
