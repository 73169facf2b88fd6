"""Reading the audit log (``pvideo.access.audit_query``) on SQLite and PostgreSQL: newest first,
keyset pages that entries added meanwhile never shift, filters, formula-safe CSV; and the
log is append-only: nothing in pvideo changes a row, and PostgreSQL itself refuses to."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from pvideo.access import audit
from pvideo.access.audit import Action, Target
from pvideo.access.audit_query import AuditFilter, audit_page, csv_chunks, iter_entries, ndjson_chunks, parse_cursor
from pvideo.db.engine import Database
from pvideo.db.models import AuditEntry
from pvideo.settings import PROJECT_ROOT

DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _add(db, actor: str, action: Action, at: datetime, **kwargs) -> int:
    with db.session() as session:
        entry = audit.record(session, actor=actor, action=action, **kwargs)
        entry.at = at
        session.flush()
        return entry.id


def _migrated(url: str) -> Iterator[Database]:
    """The schema migrated (the trigger included). PostgreSQL gets a schema of its own
    (``own_postgres_url``): the log cannot be emptied between tests, it is append-only."""
    database = Database(url)
    database.create_schema()
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> Iterator[Database]:
    """An empty database of each kind."""
    if request.param == "postgresql":
        yield from _migrated(request.getfixturevalue("own_postgres_url"))
    else:
        yield from _migrated(f"sqlite:///{tmp_path / 'audit.sqlite'}")


@pytest.fixture()
def postgresql(own_postgres_url) -> Iterator[Database]:
    yield from _migrated(own_postgres_url)


@pytest.fixture()
def log(db):
    """Seven entries over three days by three actors."""
    _add(db, "ada@example.com", Action.USER_CREATE, DAY - timedelta(days=2), role="admin", target_type=Target.USER)
    _add(db, "mia@example.com", Action.CAMPAIGN_SUBMIT, DAY - timedelta(days=1), role="marketing")
    _add(db, "mia@example.com", Action.MANIFEST_DOWNLOAD, DAY - timedelta(days=1), role="marketing")
    _add(db, "api key pvk_1a2b3c4d", Action.EVENTS_EXPORT, DAY, role="analytics")
    _add(db, "=cmd|' /C calc'!A0", Action.CAMPAIGN_CANCEL, DAY, detail={"cancelled": 3})
    _add(db, "mia@example.com", Action.CAMPAIGN_RETRY, DAY + timedelta(hours=11, minutes=59), role="marketing")
    _add(db, "cli root", Action.APIKEY_CREATE, DAY + timedelta(days=1), target_type=Target.API_KEY, target_id="k1")
    return db


def _actions(entries) -> list[str]:
    return [e.action for e in entries]


def test_pages_are_newest_first_and_do_not_shift_when_entries_arrive(log):
    with log.session() as session:
        first = audit_page(session, AuditFilter(), limit=3)
    assert _actions(first.entries) == ["apikey.create", "campaign.retry", "campaign.cancel"]
    _add(log, "ada@example.com", Action.USER_DISABLE, DAY + timedelta(days=2))  # arrives between two pages
    with log.session() as session:
        second = audit_page(session, AuditFilter(), cursor=first.next_cursor, limit=3)
        third = audit_page(session, AuditFilter(), cursor=second.next_cursor, limit=3)
    assert _actions(second.entries) == ["events.export", "manifest.download", "campaign.submit"]
    assert _actions(third.entries) == ["user.create"] and third.next_cursor is None


def test_filters_by_action_actor_and_inclusive_days(log):
    def shown(**fields: str) -> list[str]:
        with log.session() as session:
            return _actions(iter_entries(session, AuditFilter.parse(**fields)))

    assert shown(actor="MIA@example") == ["campaign.retry", "manifest.download", "campaign.submit"]
    assert shown(actor="mia", action="campaign.submit") == ["campaign.submit"]
    assert shown(actor="pvk_1a2b") == ["events.export"]
    assert shown(actor="%") == [] and shown(actor="m_a") == []  # LIKE wildcards are plain text here
    assert shown(start="2026-03-10", end="2026-03-10") == ["campaign.retry", "campaign.cancel", "events.export"]
    assert shown(start="2026-03-11") == ["apikey.create"]
    assert shown(end="2026-03-08") == ["user.create"]
    assert shown(action="customer.erase") == []
    assert len(shown(start="0001-01-01", end="9999-12-31")) == 7  # the ends of the calendar are no error


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "drop table"}, "action: not one of"),
        ({"start": "10/03/2026"}, "start: not a date"),
        ({"start": "2026-03-10", "end": "2026-03-09"}, "end: before start"),
    ],
)
def test_a_bad_filter_names_its_field(fields, message):
    with pytest.raises(ValueError, match=message):
        AuditFilter.parse(**fields)


@pytest.mark.parametrize("cursor", ["abc", "-1", "1" * 20, "١٢", "9999999999999999999"])
def test_a_forged_cursor_is_refused(cursor):
    with pytest.raises(ValueError, match="cursor"):
        parse_cursor(cursor)


def test_filter_round_trips_through_the_query_string():
    which = AuditFilter.parse(action="user.role", actor=" Ada ", start="2026-03-01", end="")
    assert which == AuditFilter(Action.USER_ROLE, "Ada", date(2026, 3, 1), None)
    assert AuditFilter.parse(**which.query()) == which


def test_exports_hold_every_entry_and_csv_cells_cannot_run_as_formulas(log):
    with log.session() as session:
        rows = list(csv.DictReader(io.StringIO("".join(csv_chunks(iter_entries(session, AuditFilter()), batch=2)))))
        lines = "".join(ndjson_chunks(iter_entries(session, AuditFilter()))).splitlines()
    assert len(rows) == len(lines) == 7
    cancel = next(r for r in rows if r["action"] == "campaign.cancel")
    assert cancel["actor"] == "'=cmd|' /C calc'!A0" and json.loads(cancel["detail"]) == {"cancelled": 3}
    first = json.loads(lines[0])
    assert first["action"] == "apikey.create" and first["target_id"] == "k1" and first["at"].endswith("+00:00")
    assert datetime.fromisoformat(first["at"]) == DAY + timedelta(days=1)


def test_postgresql_refuses_to_change_or_remove_an_entry(postgresql):
    """SQLite has no such trigger: there, only the code keeps the log append-only (next test)."""
    db = postgresql
    entry_id = _add(db, "ada@example.com", Action.USER_ROLE, DAY)
    for statement in (
        sa.update(AuditEntry).where(AuditEntry.id == entry_id).values(actor="someone else"),
        sa.delete(AuditEntry).where(AuditEntry.id == entry_id),
        sa.text("TRUNCATE audit_log"),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.session() as session:
            session.execute(statement)
    with db.session() as session:
        assert session.scalar(select(AuditEntry.actor).where(AuditEntry.id == entry_id)) == "ada@example.com"


def test_no_code_changes_or_removes_an_audit_entry():
    """Append-only in the code too: no UPDATE or DELETE names the table or its model outside the migration."""
    changes = re.compile(r"(update|delete)\(\s*AuditEntry|(UPDATE|DELETE FROM|TRUNCATE)\s+audit_log|session\.delete\(")
    found = []
    for folder in ("pvideo", "api", "workers"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            if "AuditEntry" in text or "audit_log" in text:
                found += [f"{path}: {m.group(0)}" for m in changes.finditer(text)]
    assert found == []
