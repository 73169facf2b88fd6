"""A campaign's interactions in numbers (per interaction and per branch), and its viewers' answers
for the submissions table and the exports, with personal data masked for the roles that may not
see it.

Units. A *session* is a viewer session of one render (``""``: answers sent without one, from
the page without JavaScript). Only the interactions of the campaign's scene are listed, in its
order. ``start``/``end`` (UTC days, inclusive) select events and answers by when they happened.

Per interaction:
- ``shown``: sessions shown it (an ``interaction_shown`` event) or that answered it;
- ``answered``: stored answers (one per session at most: ``pvideo.tracking.responses``);
- ``skipped``: sessions with an ``interaction_skipped`` event and no answer; ``skipped_by``: the
  same per reason (``skip``, ``escape``, ``timeout``, ``unknown``);
- ``answer_rate`` = answered / shown;
- poll ``choices``: per choice, the answers that picked it and their ``share`` of the answers (a
  multiple-choice poll's shares may add up to more than 1);
- ``nps``: ``promoters`` (9-10), ``passives`` (7-8), ``detractors`` (0-6), ``distribution`` (answers
  per score 0..10) and ``score`` = % promoters - % detractors (-100..100, one decimal);
- ``rating``: ``average`` stars (two decimals) and the ``distribution`` per star;
- form and gate: ``submissions`` and ``consented`` (answers that gave the consent);
- choice ``branches``: per option, ``chosen`` (answers), their ``share``, ``then`` (where the
  section goes on), ``completed`` (chooser sessions that reached the end: an ``end`` event in that
  session) and ``completion_rate`` = completed / chosen.
Rates are fractions rounded to 4 places.

Every number is live rows + the tallies folded out of rows since erased or expired
(``pvideo.tracking.tallies``; with a date range, the tallies of the days in it).

Personal data. Form fields of type email, phone and text hold it (``pii``). Admins and analysts
see it (``PII_ROLES``); marketing sees it masked (``a***@example.com``, ``***58``, ``***``), as
does an API export asked for ``masked``.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Text, and_, cast, exists, func, select, union
from sqlalchemy.orm import Session

from pvideo.access.users import Role
from pvideo.db.models import Campaign, Event, Render, Response, WatchSession
from pvideo.jobs.manifest import spreadsheet_safe
from pvideo.scene.interactions import (
    PII_FIELD_TYPES,
    AnyInteraction,
    ChoiceInteraction,
    FormField,
    FormInteraction,
    GateInteraction,
    PollInteraction,
    RatingInteraction,
)
from pvideo.scene.spec import SceneSpec, Section
from pvideo.tracking.tallies import Marks, Metric, answer_marks, tallied

PII_ROLES = frozenset({Role.ADMIN, Role.ANALYST})
SKIP_REASONS = ("skip", "escape", "timeout", "unknown")
EXPORT_COLUMNS = (
    "id",
    "occurred_at",
    "customer_id",
    "render_id",
    "session_id",
    "interaction_id",
    "interaction_type",
    "consent",
    "pii",
    "answer",
)


def may_see_pii(role: str) -> bool:
    """Whether a studio user of ``role`` sees answers' personal data unmasked."""
    return role in PII_ROLES


def scene_interactions(campaign: Campaign) -> tuple[list[AnyInteraction], list[Section]]:
    """The interactions and sections of the campaign's scene (none for a scene that no longer reads)."""
    if not (campaign.scene or {}).get("interactions"):
        return [], []
    try:
        spec = SceneSpec.model_validate(campaign.scene)
    except ValueError:
        return [], []
    return list(spec.interactions), list(spec.sections)


def _within(column: Any, start: date | None, end: date | None) -> list[ColumnElement[bool]]:
    out = []
    if start is not None:
        out.append(column >= datetime.combine(start, time.min, UTC))
    if end is not None:
        out.append(column < datetime.combine(end + timedelta(days=1), time.min, UTC))
    return out


def _rate(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def interaction_table(
    conn: Connection, campaign: Campaign, start: date | None = None, end: date | None = None
) -> list[dict[str, Any]]:
    """Every number of the module docstring, one dict per interaction of the scene."""
    items, sections = scene_interactions(campaign)
    if not items:
        return []
    cid = campaign.id
    e, r = Event, Response
    session_key = e.render_id + ":" + func.coalesce(e.session_id, "")
    shown_rows = union(
        select(e.interaction_id.label("i"), e.render_id.label("r"), func.coalesce(e.session_id, "").label("s")).where(
            e.campaign_id == cid,
            e.interaction_id.is_not(None),
            e.type == "interaction_shown",
            *_within(e.occurred_at, start, end),
        ),
        select(r.interaction_id, r.render_id, r.session_id).where(
            r.campaign_id == cid, *_within(r.occurred_at, start, end)
        ),
    ).subquery()
    shown: dict[str, int] = dict(conn.execute(select(shown_rows.c.i, func.count()).group_by(shown_rows.c.i)).all())
    unanswered = ~exists().where(
        r.render_id == e.render_id,
        r.session_id == func.coalesce(e.session_id, ""),
        r.interaction_id == e.interaction_id,
    )
    skips = and_(
        e.campaign_id == cid,
        e.interaction_id.is_not(None),
        e.type == "interaction_skipped",
        unanswered,
        *_within(e.occurred_at, start, end),
    )
    skipped = dict(
        conn.execute(
            select(e.interaction_id, func.count(func.distinct(session_key))).where(skips).group_by(e.interaction_id)
        ).all()
    )
    reason = func.coalesce(e.detail, "unknown")
    skipped_by: dict[str | None, dict[str, int]] = defaultdict(dict)
    for iid, why, n in conn.execute(
        select(e.interaction_id, reason, func.count(func.distinct(session_key)))
        .where(skips)
        .group_by(e.interaction_id, reason)
    ):
        skipped_by[iid][why] = n
    by_id = {item.id: item for item in items}
    marks = tallied(conn, cid, start, end)  # folded out of rows erased or expired
    ws = WatchSession
    query = (
        select(r.interaction_id, r.interaction_type, cast(r.answer, Text), r.consent, ws.ended)
        .outerjoin(ws, and_(ws.render_id == r.render_id, ws.session_id == r.session_id))
        .where(r.campaign_id == cid, *_within(r.occurred_at, start, end))
    )
    for iid, kind, text, consent, ended in conn.execute(query):
        if iid in by_id:
            answer = {} if kind in ("form", "gate") else json.loads(text)
            marks.setdefault(iid, Counter()).update(answer_marks(by_id[iid], answer, consent, bool(ended)))
    then = {s.name: s.then for s in sections}
    out = []
    for item in items:
        given = marks.get(item.id, Counter())
        n_shown = shown.get(item.id, 0) + given[(Metric.SHOWN, "")]
        n_answered = given[(Metric.ANSWERED, "")]
        row: dict[str, Any] = {
            "interaction_id": item.id,
            "type": item.type,
            "text": _text_of(item),
            "shown": n_shown,
            "answered": n_answered,
            "skipped": skipped.get(item.id, 0) + given[(Metric.SKIPPED, "")],
            "skipped_by": {k: skipped_by[item.id].get(k, 0) + given[(Metric.SKIPPED_BY, k)] for k in SKIP_REASONS},
            "answer_rate": _rate(n_answered, n_shown),
        }
        row.update(_results(item, given, then))
        out.append(row)
    return out


def _text_of(item: AnyInteraction) -> str:
    """What the interaction asks, as the scene writes it (labels may hold Jinja2 over the row)."""
    if isinstance(item, (FormInteraction, GateInteraction)):
        return item.title
    text = getattr(item, "question", None) or getattr(item, "label", None)
    return str(text or item.id)


def _results(item: AnyInteraction, given: Marks, then: dict[str, str | None]) -> dict[str, Any]:
    """The type's own numbers from the answers' marks (``pvideo.tracking.tallies.answer_marks``)."""
    n = given[(Metric.ANSWERED, "")]
    if isinstance(item, PollInteraction):
        return {
            "multiple": item.multiple,
            "choices": [
                {
                    "id": c.id,
                    "label": c.label,
                    "count": given[(Metric.CHOICE, c.id)],
                    "share": _rate(given[(Metric.CHOICE, c.id)], n),
                }
                for c in item.choices
            ],
        }
    if item.type == "nps":
        scores = {s: given[(Metric.SCORE, str(s))] for s in range(11)}
        promoters = scores[9] + scores[10]
        detractors = sum(scores[s] for s in range(7))
        return {
            "nps": {
                "score": round(100 * (promoters - detractors) / n, 1) if n else 0.0,
                "promoters": promoters,
                "passives": scores[7] + scores[8],
                "detractors": detractors,
                "distribution": [{"score": s, "count": scores[s]} for s in range(11)],
            }
        }
    if isinstance(item, RatingInteraction):
        stars = {int(key): count for (metric, key), count in given.items() if metric == Metric.STARS}
        return {
            "rating": {
                "average": round(sum(k * v for k, v in stars.items()) / n, 2) if n else 0.0,
                "stars": item.stars,
                "distribution": [{"stars": s, "count": stars.get(s, 0)} for s in range(1, item.stars + 1)],
            }
        }
    if isinstance(item, (FormInteraction, GateInteraction)):
        return {"submissions": n, "consented": given[(Metric.CONSENTED, "")]}
    if isinstance(item, ChoiceInteraction):
        branches = []
        for o in item.options:
            chosen, completed = given[(Metric.CHOSEN, o.section)], given[(Metric.COMPLETED, o.section)]
            branches.append(
                {
                    "section": o.section,
                    "label": o.label,
                    "then": then.get(o.section),
                    "chosen": chosen,
                    "share": _rate(chosen, n),
                    "completed": completed,
                    "completion_rate": _rate(completed, chosen),
                }
            )
        return {"branches": branches}
    return {}


# -- answers, one by one: the submissions table and the exports ---------------------------------


def form_fields(items: list[AnyInteraction]) -> dict[str, list[FormField]]:
    """Per form or gate interaction id, its fields."""
    return {i.id: list(i.fields) for i in items if isinstance(i, (FormInteraction, GateInteraction))}


def field_types(items: list[AnyInteraction]) -> dict[str, dict[str, str]]:
    """Per form or gate interaction id, its fields' types by name."""
    return {iid: {f.name: f.type for f in fields} for iid, fields in form_fields(items).items()}


def mask(value: Any, kind: str) -> Any:
    """A personal value as a role without access sees it: ``a***@example.com``, ``***58``, ``***``."""
    if kind not in PII_FIELD_TYPES or value in (None, ""):
        return value
    text = str(value)
    if kind == "email" and "@" in text:
        local, _, domain = text.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "phone":
        digits = [c for c in text if c.isdigit()]
        return "***" + "".join(digits[-2:])
    return "***"


def shown_answer(answer: dict[str, Any], types: dict[str, str] | None, see_pii: bool) -> dict[str, Any]:
    """``answer`` with its personal fields masked unless ``see_pii``."""
    if see_pii or not types or "fields" not in answer:
        return answer
    return {**answer, "fields": {k: mask(v, types.get(k, "text")) for k, v in answer["fields"].items()}}


def iter_responses(
    session: Session,
    campaign: Campaign,
    *,
    see_pii: bool,
    types: tuple[str, ...] = (),
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> Iterator[dict[str, Any]]:
    """The campaign's answers (of ``types``; all when empty) in id order, each a plain dict of
    ``EXPORT_COLUMNS`` with the answer masked unless ``see_pii``; streamed."""
    items, _ = scene_interactions(campaign)
    fields = field_types(items)
    r = Response
    query = (
        select(r, Render.customer_id)
        .join(Render, Render.id == r.render_id)
        .where(r.campaign_id == campaign.id)
        .order_by(r.id.desc() if newest_first else r.id)
        .offset(offset)
    )
    if types:
        query = query.where(r.interaction_type.in_(types))
    if limit is not None:
        query = query.limit(limit)
    for response, customer_id in session.execute(query.execution_options(yield_per=1000)):
        yield {
            "id": response.id,
            "occurred_at": _aware(response.occurred_at).isoformat().replace("+00:00", "Z"),
            "customer_id": customer_id,
            "render_id": response.render_id,
            "session_id": response.session_id or None,
            "interaction_id": response.interaction_id,
            "interaction_type": response.interaction_type,
            "consent": response.consent,
            "pii": response.pii,
            "answer": shown_answer(response.answer, fields.get(response.interaction_id), see_pii),
        }


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def ndjson_chunks(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def csv_chunks(rows: Iterator[dict[str, Any]], field_names: list[str], *, every: int = 1000) -> Iterator[str]:
    """CSV with ``EXPORT_COLUMNS`` (the answer as JSON) and a ``field.<name>`` column per form
    field; every text a spreadsheet could run as a formula starts with ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*EXPORT_COLUMNS, *(f"field.{name}" for name in field_names)])
    for n, row in enumerate(rows, start=1):
        answer = row["answer"]
        fields = answer.get("fields", {}) if isinstance(answer, dict) else {}
        cells = [*(row[c] for c in EXPORT_COLUMNS[:-1]), json.dumps(answer, ensure_ascii=False)]
        cells += [fields.get(name) for name in field_names]
        writer.writerow([_cell(v) for v in cells])
        if n % every == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return spreadsheet_safe(str(value))


def form_field_names(campaign: Campaign) -> list[str]:
    """Every form field name of the scene, once, in order: the export's ``field.<name>`` columns."""
    names: dict[str, None] = {}
    for fields in field_types(scene_interactions(campaign)[0]).values():
        names.update(dict.fromkeys(fields))
    return list(names)
