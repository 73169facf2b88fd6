"""Viewer answers: checked against what that render asked, deduplicated, stored, counted, published.

An answer (``AnswerIn``: what ``POST /api/responses`` and the landing page's form without
JavaScript send) names its render by the viewer token and the interaction by id. It is stored
when the interaction is one this render's row is asked (``pvideo.plan.interactive``) and the
answer fits its definition (``pvideo.scene.answers``); then, in the same transaction:

* a ``responses`` row (the answer as JSON, ``pii`` when it holds a filled email, phone or
  free-text field, the consent given);
* the counting events ``interaction_answered`` and, for a path choice, ``branch_chosen`` (detail:
  the section), with event ids derived from the response's id. They are left out of the watch
  rollups: they carry no position and no rollup number depends on them;
* the webhook deliveries (``pvideo.tracking.writeback``), woken after the commit.

A campaign that may not record this viewer personally (``anonymous`` mode, or ``consent`` mode
before the viewer agreed: ``pvideo.tracking.anonymity``) keeps the answer without its session id
and device clock, and publishes it to no webhook; an answer holding personal fields (a filled
email, phone or free-text field: ``pii``) is refused (403, ``AnswerStatus.UNCONSENTED``) rather
than stored without what the viewer typed.

Repeats: the same ``event_id`` for the same render is a duplicate (answered 200, nothing stored
twice); another event id answering the same interaction in the same viewer session is a
conflict (409). Both are decided by the database's unique constraints, so they hold across
concurrent requests and server processes.

Answers share the events' group commit (``pvideo.tracking.groupcommit``): concurrent answers
are stored in one transaction, one statement per step, and each is acknowledged after the
commit. ``AnswerWriter`` is that writer with this module's store step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, selectinload

from pvideo.db.bulk import insert_rows, on_conflict, one_of
from pvideo.db.models import Event, Render, Response, utcnow
from pvideo.errors import PermanentError
from pvideo.jobs.deliveries import Published, publish_many
from pvideo.plan.interactive import Interactive, find, render_interactive
from pvideo.scene.answers import AnswerError, CheckedAnswer, check_answer
from pvideo.scene.limits import text_problem
from pvideo.tracking.anonymity import records_personal
from pvideo.tracking.events import Ingested, InteractionEvent
from pvideo.tracking.groupcommit import EventWriter, Pending
from pvideo.tracking.writeback import ANSWER_WEBHOOKS, subscribed, viewer_data

MAX_BODY = 16 * 1024
_RESPONSES, _EVENTS = Response.__table__, Event.__table__


class AnswerIn(BaseModel):
    """What the player (or the form without JavaScript) sends for one answer."""

    model_config = ConfigDict(extra="ignore")

    token: str = Field(min_length=1, max_length=200)
    event_id: str = Field(min_length=1, max_length=100)
    session_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    interaction_id: str = Field(min_length=1, max_length=64)
    answer: Any
    position: float | None = Field(default=None, ge=0, le=86_400)
    client_ts: datetime | None = None
    consent: bool = Field(
        default=False,
        description="the viewer accepted tracking (a campaign in consent mode); ignored with Sec-GPC: 1 or DNT: 1",
    )

    @field_validator("event_id", "interaction_id")
    @classmethod
    def _storable(cls, value: str) -> str:
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("client_ts")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range") from None


class AnswerStatus(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"  # 409: the interaction was answered in this session with another event id
    REFUSED = "refused"  # 422: the answer does not fit what the render asked
    UNCONSENTED = "unconsented"  # 403: personal fields, and the campaign may not record this viewer personally


UNCONSENTED_DETAIL = (
    "this video's page keeps no personal details without your consent: "
    "nothing you typed was saved (accept tracking on the page to send it)"
)


@dataclass
class Answered(Ingested):
    """An answer's fate, in the group commit's result type (one answer per request)."""

    status: AnswerStatus = AnswerStatus.STORED
    response_id: int | None = None
    detail: str | None = None


def answer_pending(answer: AnswerIn, render_id: str, device: str | None = None) -> Pending:
    """An answer as the group commit carries it: the request's one "event"."""
    return Pending(answer.token, render_id, [answer], None, device)


class AnswerWriter(EventWriter):
    """The events' group commit storing answers (``store_answers``) instead of event batches."""

    @staticmethod
    def _store(session: Session, items: list[Pending]) -> list[Ingested | None]:
        return list(store_answers(session, items))

    async def answer(self, answer: AnswerIn, render_id: str, device: str | None = None) -> Answered | None:
        """Store ``answer`` with whatever else is queued; ``None`` when its token no longer opens the render."""
        return cast("Answered | None", await self.submit(answer_pending(answer, render_id, device)))


@dataclass
class _Candidate:
    index: int
    render: Render
    answer: AnswerIn
    interaction: dict[str, Any]
    checked: CheckedAnswer


def store_answers(session: Session, items: list[Pending], *, received: datetime | None = None) -> list[Answered | None]:
    """Check and store each item's answer (``Pending.events[0]``, an ``AnswerIn``) in the
    session's transaction, one statement per step; ``None`` for an item whose token no longer
    opens its render."""
    received = received or utcnow()
    conn = session.connection()
    query = (
        select(Render)
        .options(selectinload(Render.campaign))
        .where(one_of(conn, Render.id, {p.render_id for p in items}))
    )
    renders = {r.id: r for r in session.scalars(query)}
    results: list[Answered | None] = []
    candidates: list[_Candidate] = []
    for index, pending in enumerate(items):
        render = renders.get(pending.render_id)
        if render is None or render.viewer_token != pending.token or render.outputs_expired_at is not None:
            results.append(None)
            continue
        answer = cast(AnswerIn, pending.events[0])
        try:
            interaction, checked = check_for(render, answer)
        except AnswerError as exc:
            results.append(Answered(failed=[(0, str(exc))], status=AnswerStatus.REFUSED, detail=str(exc)))
            continue
        if not records_personal(render.campaign.tracking, answer.consent):
            if checked.pii:
                detail = UNCONSENTED_DETAIL
                results.append(Answered(failed=[(0, detail)], status=AnswerStatus.UNCONSENTED, detail=detail))
                continue
            answer = answer.model_copy(update={"session_id": None, "client_ts": None, "consent": False})
        results.append(Answered(stored=1))
        candidates.append(_Candidate(index, render, answer, interaction, checked))
    stored = _insert(session, candidates, received)
    if len(stored) < len(candidates):
        _explain_the_others(session, candidates, stored, results)
    kept = [c for c in candidates if c.index in stored]
    for c in kept:
        result = cast(Answered, results[c.index])
        result.response_id = stored[c.index]
    _count(session, kept, stored, received)
    _publish(session, kept, received)
    return results


def check_for(render: Render, answer: AnswerIn) -> tuple[dict[str, Any], CheckedAnswer]:
    """The interaction ``answer`` answers, as ``render`` asks it, and the answer checked against
    it; ``AnswerError`` names the field that is wrong."""
    interaction = find(asked_of(render), answer.interaction_id)
    if interaction is None:
        raise AnswerError("interaction_id", f"{answer.interaction_id!r} is not an interaction of this video")
    if answer.position is not None and render.duration and answer.position > render.duration * 1.05 + 1:
        raise AnswerError("position", f"{answer.position:g} is beyond the video's end ({render.duration:g} s)")
    return interaction, check_answer(interaction, answer.answer)


def asked_of(render: Render) -> Interactive:
    """What ``render``'s viewer is asked (``pvideo.plan.interactive``)."""
    try:
        return render_interactive(render)
    except (ValueError, PermanentError):  # a scene that no longer reads asks nothing
        return {"sections": [], "interactions": []}


def _insert(session: Session, candidates: list[_Candidate], received: datetime) -> dict[int, int]:
    """Insert the candidates' rows; each stored candidate's index -> its response id. Of a group's
    repeats (an event id, or an interaction in a session) the first to arrive is inserted; a row
    that breaks either unique constraint is skipped (``ON CONFLICT DO NOTHING``). Rows go in key
    order, so concurrent transactions take the keys in the same order."""
    if not candidates:
        return {}
    owner: dict[tuple[str, str], int] = {}
    answered: set[tuple[str, str, str]] = set()
    rows = []
    for c in candidates:
        key = (c.render.id, c.answer.event_id)
        once = (c.render.id, c.answer.session_id or "", c.answer.interaction_id)
        if key in owner or once in answered:
            continue
        owner[key] = c.index
        answered.add(once)
        rows.append(
            {
                "campaign_id": c.render.campaign_id,
                "render_id": c.render.id,
                "session_id": c.answer.session_id or "",
                "event_id": c.answer.event_id,
                "interaction_id": c.answer.interaction_id,
                "interaction_type": c.interaction["type"],
                "answer": c.checked.answer,
                "pii": c.checked.pii,
                "consent": c.checked.consent,
                "position": c.answer.position,
                "client_ts": c.answer.client_ts,
                "occurred_at": received,
                "received_at": received,
            }
        )
    rows.sort(key=lambda row: (row["render_id"], row["event_id"]))
    returned = insert_rows(
        session.connection(),
        _RESPONSES,
        rows,
        conflict="ON CONFLICT DO NOTHING",
        returning=("id", "render_id", "event_id"),
    )
    return {owner[(render_id, event_id)]: id_ for id_, render_id, event_id in returned}


def _explain_the_others(
    session: Session, candidates: list[_Candidate], stored: dict[int, int], results: list[Answered | None]
) -> None:
    """A candidate not stored repeats a stored event id (a duplicate) or answers an interaction
    already answered in its session (a conflict)."""
    others = [c for c in candidates if c.index not in stored]
    keys = {(c.render.id, c.answer.event_id) for c in others}
    found = {
        (render_id, event_id)
        for render_id, event_id in session.execute(
            select(Response.render_id, Response.event_id).where(
                tuple_(Response.render_id, Response.event_id).in_(sorted(keys))
            )
        )
    }
    for c in others:
        if (c.render.id, c.answer.event_id) in found:
            results[c.index] = Answered(duplicates=1, status=AnswerStatus.DUPLICATE)
        else:
            detail = f"interaction_id: {c.answer.interaction_id!r} was already answered in this session"
            results[c.index] = Answered(failed=[(0, detail)], status=AnswerStatus.CONFLICT, detail=detail)


def _count(session: Session, kept: list[_Candidate], stored: dict[int, int], received: datetime) -> None:
    """The server's counting events for the stored answers."""
    rows = []
    for c in kept:
        kinds: list[tuple[InteractionEvent, str, str | None]] = [(InteractionEvent.ANSWERED, "answered", None)]
        if c.checked.section is not None:
            kinds.append((InteractionEvent.BRANCH_CHOSEN, "chosen", c.checked.section))
        for kind, prefix, detail in kinds:
            rows.append(
                {
                    "campaign_id": c.render.campaign_id,
                    "render_id": c.render.id,
                    "event_id": f"{prefix}-{stored[c.index]}",
                    "type": kind.value,
                    "position": c.answer.position,
                    "interaction_id": c.answer.interaction_id,
                    "client_ts": c.answer.client_ts,
                    "received_at": received,
                    "session_id": c.answer.session_id,
                    "detail": detail,
                    "occurred_at": received,
                }
            )
    if rows:
        rows.sort(key=lambda r: (r["render_id"], r["event_id"]))
        insert_rows(session.connection(), _EVENTS, rows, conflict=on_conflict(["render_id", "event_id"]))


def _publish(session: Session, kept: list[_Candidate], received: datetime) -> None:
    if not kept:
        return
    types = subscribed(session, {c.render.campaign_id for c in kept})
    published: list[Published] = []
    for c in kept:
        kind = ANSWER_WEBHOOKS[c.interaction["type"]]
        if kind not in types.get(c.render.campaign_id, ()) or not records_personal(
            c.render.campaign.tracking, c.answer.consent
        ):
            continue
        data = viewer_data(
            campaign_id=c.render.campaign_id,
            render_id=c.render.id,
            customer_id=c.render.customer_id,
            session_id=c.answer.session_id,
            event_id=c.answer.event_id,
            occurred_at=received,
            position=c.answer.position,
            interaction_id=c.answer.interaction_id,
            interaction_type=c.interaction["type"],
            answer=c.checked.answer,
        )
        if c.interaction["type"] in ("form", "gate"):
            asked = c.interaction.get("consent")
            data["consent"] = {"given": bool(c.checked.consent), "text": asked["text"] if asked else None}
        if c.interaction["type"] == "calendar":
            data["href"] = c.interaction.get("href")
        published.append(Published(c.render.campaign_id, kind.value, c.answer.event_id, data, received))
    publish_many(session, published)
