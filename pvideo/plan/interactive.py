"""A scene's interactions and branch sections for one customer row, on that customer's timeline.

What the landing page's player shows (``config.interactive``) and what an answer is checked
against: only the interactions whose ``when`` holds for the row, their Jinja2 labels rendered
in the sandbox, their times moved past the sections the row skips (as CTA hotspots are), and a
path's options whose section the row keeps. An interaction whose labels fail on this row's data
is left out (and logged) rather than failing the page.

The result is plain JSON::

    {"sections": [{"name", "start", "end", "then"}],        # output seconds; then: a name, "end" or null
     "interactions": [{"id", "type", "start", "end", "pause", "skippable", ...per type...}]}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pvideo.db.models import Render
from pvideo.errors import PermanentError
from pvideo.scene.conditions import holds
from pvideo.scene.interactions import (
    DEFAULT_SHOWN_SECONDS,
    AnyInteraction,
    CalendarInteraction,
    ChoiceInteraction,
    FormField,
    FormInteraction,
    GateInteraction,
    NpsInteraction,
    PollInteraction,
    RatingInteraction,
    templated_texts,
)
from pvideo.scene.sandbox import render_text
from pvideo.scene.spec import SceneSpec, Section
from pvideo.scene.urls import check_link

log = logging.getLogger(__name__)

Interactive = dict[str, list[dict[str, Any]]]


def resolve_interactive(spec: SceneSpec, row: Mapping[str, Any], *, duration: float | None = None) -> Interactive:
    """The row's interactions and kept sections (see the module's docstring); ``duration`` (the
    customer's video, seconds) bounds the windows of interactions without an ``end``."""
    if not spec.interactions:
        return {"sections": [], "interactions": []}
    skipped = [s for s in spec.sections if s.when is not None and not _holds(s.when, row, f"section {s.name!r} when")]
    kept = [s for s in spec.sections if s not in skipped]

    def at(t: float) -> float:
        return round(t - sum(max(0.0, min(t, s.end) - s.start) for s in skipped), 6)

    sections = [{"name": s.name, "start": at(s.start), "end": at(s.end), "then": s.then} for s in kept]
    kept_names = {s.name for s in kept}
    interactions = []
    for item in spec.interactions:
        if _inside_any(item.start, skipped) or (item.when is not None and not _holds(item.when, row, item.id)):
            continue
        try:
            resolved = _resolve(item, row, kept_names)
        except (PermanentError, ValueError) as exc:
            log.warning("interaction %r left out for this row: %s", item.id, exc)
            continue
        if resolved is None:
            continue
        start = at(item.start)
        if item.end is not None:
            end: float | None = at(item.end)
        elif item.pause:
            end = None
        else:
            end = (
                start + DEFAULT_SHOWN_SECONDS
                if duration is None
                else max(start, min(duration, start + DEFAULT_SHOWN_SECONDS))
            )
        interactions.append(
            {
                "id": item.id,
                "type": item.type,
                "start": start,
                "end": end,
                "pause": item.pause,
                "skippable": item.skippable,
                **resolved,
            }
        )
    return {"sections": sections, "interactions": interactions}


def render_interactive(render: Render) -> Interactive:
    """``resolve_interactive`` for a stored render, from its campaign's scene and its row: what
    its landing page shows and what its answers are checked against (cached per render version)."""
    scene = render.campaign.scene or {}
    if not scene.get("interactions"):
        return {"sections": [], "interactions": []}
    key = (render.id, render.updated_at, render.duration)
    found = _resolved.get(key)
    if found is None:
        spec = _specs.get(render.campaign_id)
        if spec is None:  # a campaign's scene never changes
            spec = _specs[render.campaign_id] = SceneSpec.model_validate(scene)
            _trim(_specs, 64)
        found = _resolved[key] = resolve_interactive(spec, render.data or {}, duration=render.duration)
        _trim(_resolved, 2048)
    return found


_specs: dict[str, SceneSpec] = {}
_resolved: dict[tuple[str, object, float | None], Interactive] = {}


def _trim(cache: dict[Any, Any], size: int) -> None:
    while len(cache) > size:
        cache.pop(next(iter(cache)))


def find(interactive: Interactive, interaction_id: str) -> dict[str, Any] | None:
    """The resolved interaction ``interaction_id``, or None if this row is not asked it."""
    return next((i for i in interactive["interactions"] if i["id"] == interaction_id), None)


def _holds(expression: str, row: Mapping[str, Any], what: str) -> bool:
    try:
        return holds(expression, row, field=f"{what} when")
    except PermanentError as exc:
        log.warning("%s when failed on this row: %s", what, exc)
        return False


def _inside_any(t: float, sections: list[Section]) -> bool:
    return any(s.start <= t < s.end for s in sections)


def _resolve(item: AnyInteraction, row: Mapping[str, Any], kept: set[str]) -> dict[str, Any] | None:
    """The per-type part of an interaction for this row: every text ``templated_texts`` lists
    rendered (the row checks render the same list), a path's options narrowed to kept sections."""
    where = f"interaction {item.id!r}"
    text = {
        path: render_text(source, row, field=f"{where}, field {path}") if "{" in source else source
        for path, source in templated_texts(item, kept)
    }
    if isinstance(item, PollInteraction):
        return {
            "question": text["question"],
            "multiple": item.multiple,
            "choices": [{"id": c.id, "label": text[f"choices.{k}.label"]} for k, c in enumerate(item.choices)],
        }
    if isinstance(item, NpsInteraction):
        return {"question": text["question"], "low_label": item.low_label, "high_label": item.high_label}
    if isinstance(item, RatingInteraction):
        return {"question": text["question"], "stars": item.stars}
    if isinstance(item, (FormInteraction, GateInteraction)):
        return {
            "title": text["title"],
            "fields": [_field(f, k, text) for k, f in enumerate(item.fields)],
            "consent": item.consent.model_dump() if item.consent else None,
            "submit_label": item.submit_label,
        }
    if isinstance(item, ChoiceInteraction):
        options = [
            {"section": o.section, "label": text[f"options.{k}.label"]}
            for k, o in enumerate(item.options)
            if o.section in kept
        ]
        if not options:
            return None
        default = item.default if item.default in {o["section"] for o in options} else options[0]["section"]
        return {"question": text["question"], "options": options, "default": default, "timeout": item.timeout}
    if isinstance(item, CalendarInteraction):
        return {"label": text["label"], "slot": text.get("slot"), "href": check_link(text["href"].strip())}
    raise AssertionError(f"unknown interaction type {item.type!r}")


def _field(spec: FormField, k: int, text: Mapping[str, str]) -> dict[str, Any]:
    field: dict[str, Any] = {
        "name": spec.name,
        "type": spec.type,
        "label": text[f"fields.{k}.label"],
        "required": spec.required,
        "max_length": spec.max_length,
    }
    if spec.choices:
        field["choices"] = [
            {"id": c.id, "label": text[f"fields.{k}.choices.{j}.label"]} for j, c in enumerate(spec.choices)
        ]
    if spec.min is not None:
        field["min"] = spec.min
    if spec.max is not None:
        field["max"] = spec.max
    value = text.get(f"fields.{k}.prefill", "").strip()
    if value:
        field["value"] = value[: spec.max_length]
    return field
