"""Interaction counts that outlive the raw rows behind them.

Erasure (a customer's renders) and retention (rows older than N days) remove raw events and
answers; ``fold_and_delete`` first adds what ``pvideo.tracking.interaction_stats`` would have
counted from them into ``interaction_tallies`` (no render, session or answer text: a count per
campaign, day, interaction, metric and key), then deletes them, in the same transaction.
``interaction_stats`` reports live rows + tallies, so a campaign's numbers do not change.

Rows are folded a whole viewer session (render + session id) at a time: every session with a row
in scope is taken with all its rows. So a session is never split between tallies and raw rows,
and the per-session counts (``shown``, ``skipped``: distinct sessions) stay exact. A tally's day
is that of the session's first row that counted (``occurred_at``; ``received_at`` when a client
sent no time), as the date filters read it.

The watch numbers (sessions, page views, watched seconds, CTAs) live in the watch rollups
(``pvideo.tracking.rollups``), which are not touched here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, select, tuple_, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pvideo.db.models import Campaign, Event, FailedEvent, Response, WatchSession
from pvideo.db.privacy_tables import InteractionTally
from pvideo.scene.interactions import AnyInteraction
from pvideo.scene.spec import SceneSpec

SHOWN_EVENT = "interaction_shown"
SKIPPED_EVENT = "interaction_skipped"


class Metric(StrEnum):
    """What a tally counts; ``key`` says which option, score, star or reason ("" when none)."""

    SHOWN = "shown"  # sessions shown the interaction (or that answered it)
    ANSWERED = "answered"
    SKIPPED = "skipped"  # sessions that skipped it and did not answer
    SKIPPED_BY = "skipped_by"  # the same, per reason
    CHOICE = "choice"  # poll answers that picked the option
    SCORE = "score"  # NPS answers per score
    STARS = "stars"  # rating answers per star count
    CONSENTED = "consented"  # form and gate answers that gave the consent
    CHOSEN = "chosen"  # choice answers per section
    COMPLETED = "completed"  # choice answers per section whose session reached the end


Marks = Counter[tuple[str, str]]
"""Per (metric, key), a count: what one interaction adds up to."""


def answer_marks(
    item: AnyInteraction, answer: dict[str, Any], consent: bool | None, ended: bool
) -> Iterator[tuple[str, str]]:
    """The (metric, key) pairs one answer to ``item`` counts for (``ended``: its session reached the end)."""
    yield Metric.ANSWERED, ""
    kind = item.type
    if kind == "poll":
        for choice in answer.get("choices", []):
            yield Metric.CHOICE, str(choice)
    elif kind == "nps":
        yield Metric.SCORE, str(int(answer["score"]))
    elif kind == "rating":
        yield Metric.STARS, str(int(answer["stars"]))
    elif kind in ("form", "gate"):
        if consent:
            yield Metric.CONSENTED, ""
    elif kind == "choice":
        yield Metric.CHOSEN, str(answer["section"])
        if ended:
            yield Metric.COMPLETED, str(answer["section"])


def tallied(conn: Connection, campaign_id: str, start: date | None, end: date | None) -> dict[str, Marks]:
    """Per interaction id, the campaign's tallies of days in [start, end] (inclusive; open when None)."""
    t = InteractionTally
    query = select(t.interaction_id, t.metric, t.key, func.sum(t.count)).where(t.campaign_id == campaign_id)
    if start is not None:
        query = query.where(t.day >= start)
    if end is not None:
        query = query.where(t.day <= end)
    out: dict[str, Marks] = {}
    for iid, metric, key, n in conn.execute(query.group_by(t.interaction_id, t.metric, t.key)):
        out.setdefault(iid, Counter())[(metric, key)] += int(n)
    return out


def fold_and_delete(
    session: Session,
    *,
    campaign_id: str,
    render_ids: Collection[str] | None = None,
    before: datetime | None = None,
    limit: int | None = None,
) -> dict[str, int]:
    """Fold the campaign's raw events and answers of ``render_ids`` and/or received before ``before``
    into tallies, then delete them (events of every type, answers, failed events); return how many
    ``events`` and ``responses`` went. Whole sessions are taken (module docstring); ``limit`` caps
    how many sessions, for callers that commit in batches (call again until it returns zeros).
    Runs in the caller's transaction; the caller commits."""
    if render_ids is not None and not render_ids:
        return {"events": 0, "responses": 0}
    conn = session.connection()
    groups = _sessions_in_scope(conn, campaign_id, render_ids, before, limit)
    _delete_failed(session, campaign_id, render_ids, before)
    if not groups:
        return {"events": 0, "responses": 0}
    campaign = session.get(Campaign, campaign_id)
    items = {i.id: i for i in _interactions(campaign)} if campaign is not None else {}
    _add(conn, campaign_id, _counts(conn, campaign_id, groups, items))
    event_key = tuple_(Event.render_id, func.coalesce(Event.session_id, ""))
    response_key = tuple_(Response.render_id, Response.session_id)
    events = responses = 0
    for chunk in _chunks(sorted(groups), 500):
        events += session.execute(delete(Event).where(Event.campaign_id == campaign_id, event_key.in_(chunk))).rowcount  # type: ignore[attr-defined]
        responses += session.execute(
            delete(Response).where(Response.campaign_id == campaign_id, response_key.in_(chunk))
        ).rowcount  # type: ignore[attr-defined]
    return {"events": events, "responses": responses}


def _interactions(campaign: Campaign) -> list[AnyInteraction]:
    """The scene's interactions (none for a scene that no longer reads: its answers are only deleted)."""
    if not (campaign.scene or {}).get("interactions"):
        return []
    try:
        return list(SceneSpec.model_validate(campaign.scene).interactions)
    except ValueError:
        return []


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for n in range(0, len(values), size):
        yield values[n : n + size]


def _scope(
    column_render: Any, column_time: Any, render_ids: Collection[str] | None, before: datetime | None
) -> list[ColumnElement[bool]]:
    out = []
    if render_ids is not None:
        out.append(column_render.in_(list(render_ids)))
    if before is not None:
        out.append(column_time < before)
    return out


def _sessions_in_scope(
    conn: Connection, campaign_id: str, render_ids: Collection[str] | None, before: datetime | None, limit: int | None
) -> set[tuple[str, str]]:
    e, r = Event, Response
    found = union(
        select(e.render_id.label("r"), func.coalesce(e.session_id, "").label("s")).where(
            e.campaign_id == campaign_id, *_scope(e.render_id, e.received_at, render_ids, before)
        ),
        select(r.render_id, r.session_id).where(
            r.campaign_id == campaign_id, *_scope(r.render_id, r.received_at, render_ids, before)
        ),
    ).subquery()
    query = select(found.c.r, found.c.s).order_by(found.c.r, found.c.s)
    if limit is not None:
        query = query.limit(limit)
    return {(rid, sid) for rid, sid in conn.execute(query)}


def _delete_failed(
    session: Session, campaign_id: str, render_ids: Collection[str] | None, before: datetime | None
) -> None:
    f = FailedEvent
    where = [f.campaign_id == campaign_id, *_scope(f.render_id, f.received_at, render_ids, before)]
    session.execute(delete(f).where(*where))


def _day(occurred: datetime | None, received: datetime) -> date:
    moment = occurred or received
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def _counts(
    conn: Connection, campaign_id: str, groups: set[tuple[str, str]], items: dict[str, AnyInteraction]
) -> Counter[tuple[date, str, str, str]]:
    """What ``interaction_stats`` counts from the raw rows of ``groups``, per (day, interaction, metric, key)."""
    e, r, ws = Event, Response, WatchSession
    first_shown: dict[tuple[str, str, str], date] = {}
    answered: set[tuple[str, str, str]] = set()
    out: Counter[tuple[date, str, str, str]] = Counter()
    skips: list[tuple[tuple[str, str, str], str, date]] = []
    for chunk in _chunks(sorted(groups), 500):
        sid = func.coalesce(e.session_id, "")
        for iid, kind, rid, s, occurred, received, detail in conn.execute(
            select(e.interaction_id, e.type, e.render_id, sid, e.occurred_at, e.received_at, e.detail).where(
                e.campaign_id == campaign_id,
                e.interaction_id.is_not(None),
                e.type.in_((SHOWN_EVENT, SKIPPED_EVENT)),
                tuple_(e.render_id, sid).in_(chunk),
            )
        ):
            day, key = _day(occurred, received), (str(iid), rid, s)  # interaction_id: not null here
            if kind == SHOWN_EVENT:
                first_shown[key] = min(day, first_shown.get(key, day))
            else:
                skips.append((key, detail or "unknown", day))
        query = (
            select(
                r.interaction_id, r.render_id, r.session_id, r.occurred_at, r.received_at, r.answer, r.consent, ws.ended
            )
            .outerjoin(ws, (ws.render_id == r.render_id) & (ws.session_id == r.session_id))
            .where(r.campaign_id == campaign_id, tuple_(r.render_id, r.session_id).in_(chunk))
        )
        for iid, rid, s, occurred, received, answer, consent, ended in conn.execute(query):
            day, key = _day(occurred, received), (iid, rid, s)
            first_shown[key] = min(day, first_shown.get(key, day))
            answered.add(key)
            if iid in items:
                for metric, mark in answer_marks(items[iid], answer or {}, consent, bool(ended)):
                    out[(day, iid, metric, mark)] += 1
    for (iid, _, _), day in first_shown.items():
        out[(day, iid, Metric.SHOWN, "")] += 1
    first_skip: dict[tuple[str, str, str], date] = {}
    first_reason: dict[tuple[tuple[str, str, str], str], date] = {}
    for key, why, day in skips:
        if key not in answered:
            first_skip[key] = min(day, first_skip.get(key, day))
            first_reason[(key, why)] = min(day, first_reason.get((key, why), day))
    for (iid, _, _), day in first_skip.items():
        out[(day, iid, Metric.SKIPPED, "")] += 1
    for ((iid, _, _), why), day in first_reason.items():
        out[(day, iid, Metric.SKIPPED_BY, why)] += 1
    return out


def _add(conn: Connection, campaign_id: str, counts: Counter[tuple[date, str, str, str]]) -> None:
    """Add ``counts`` to the stored tallies (an upsert that sums)."""
    if not counts:
        return
    rows = [
        {"campaign_id": campaign_id, "day": day, "interaction_id": iid, "metric": str(metric), "key": key, "count": n}
        for (day, iid, metric, key), n in sorted(counts.items())
    ]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(InteractionTally)
    statement = statement.on_conflict_do_update(
        index_elements=["campaign_id", "day", "interaction_id", "metric", "key"],
        set_={"count": InteractionTally.count + statement.excluded["count"]},
    )
    for chunk in _chunks(rows, 500):
        conn.execute(statement, chunk)
