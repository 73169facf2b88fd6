"""``pvideo validate``: every problem in a scene and its customers, without rendering.

Each row is checked field by field (every bad value is reported, not just the
first) and then layer by layer: a layer is compiled with every other layer
switched off (``when: "false"``), so one bad layer never hides another and
per-row problems show up — a templated image, clip or music file missing for
that row, a CTA URL that is not http(s), a ``when`` that fails. Compiling
rasterizes text and images but encodes no video (``pvideo.jobs.rowcheck`` is the
fast check a campaign submission runs on each row). Interactions are checked per row as
their landing page shows them (``RowCheck.interaction_problems``), and against the
template's length (``interaction_time_problems``); a problem that names an interaction or a
section gets the line of the scene file it is about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from pvideo.errors import AssetError, DataError, PvideoError, SceneError
from pvideo.jobs.glyphs import glyph_warnings
from pvideo.jobs.rowcheck import RowCheck
from pvideo.plan.assets import AssetsDir, resolve_asset
from pvideo.plan.compiler import asset_problems, compile_plan
from pvideo.plan.model import RenderPlan
from pvideo.plan.uploads import asset_root
from pvideo.render import captions
from pvideo.render.probe import probe
from pvideo.scene.customers import coerce_row, read_customers
from pvideo.scene.interactions import ChoiceInteraction, describe
from pvideo.scene.marks import mark_of, yaml_marks
from pvideo.scene.problems import message_path
from pvideo.scene.samples import sample_row, with_sample_links
from pvideo.scene.spec import SceneSpec, load_scene
from pvideo.settings import Settings
from pvideo.storage import storage_from_settings

_OFF = "false"


def validate_scene(
    scene: Path, customers: Path | None, settings: Settings, warnings: list[str] | None = None
) -> list[str]:
    """Problems as lines naming file, row and field; empty when all is well.

    ``warnings`` collects what renders but looks wrong (characters drawn as boxes), per row and layer.
    """
    warnings = [] if warnings is None else warnings
    try:
        spec = load_scene(scene, source=str(scene))
    except PvideoError as exc:
        return [str(exc)]
    assets = asset_root(settings, storage_from_settings(settings))
    at = _placer(scene)
    problems = [at(p) for p in scene_problems(spec, assets)]
    compiler = _compiler(settings)
    if customers is None:
        if problems:
            return problems
        sample = sample_row(spec)  # hrefs only real data can check are left to --data (see samples)
        checked = with_sample_links(spec, sample)
        warnings += [f"{scene}: {w}" for w in glyph_warnings(spec, sample, assets)]
        return [at(p) for p in row_problems(checked, sample, assets, compiler)]
    try:
        rows = read_customers(customers, spec)
    except PvideoError as exc:
        return [*problems, str(exc)]
    source, scene_wide = str(customers), bool(problems)
    for row in rows:
        errors: list[PvideoError] = list(field_problems(spec, row.data))
        if not errors and not scene_wide:  # a scene-wide problem would repeat on every row
            errors = row_problems(spec, coerce_row(spec, row.data), assets, compiler)
            glyphs = glyph_warnings(spec, coerce_row(spec, row.data), assets)
            warnings += [f"{source}, row {row.number}: {w}" for w in glyphs]
        for error in errors:
            if isinstance(error, DataError):
                problems.append(str(DataError(error.reason, row=row.number, field=error.field, source=source)))
            else:
                problems.append(f"{source}, row {row.number}: {error}")
    return problems


def _placer(scene: Path) -> Callable[[PvideoError], str]:
    """How a scene-wide problem is printed: the file, and the line of the interaction or section
    the message names (the scene loaded, so the text is there to read the lines from)."""
    marks = yaml_marks(scene.read_text(encoding="utf-8"))

    def at(problem: PvideoError) -> str:
        path = message_path(str(problem))
        mark = mark_of(marks, path) if path else None
        return f"{scene}, line {mark[0]}, column {mark[1]}: {problem}" if mark else f"{scene}: {problem}"

    return at


def scene_problems(spec: SceneSpec, assets_dir: AssetsDir) -> list[PvideoError]:
    """Files every row needs: the template, fonts, untemplated media, the captions file; then
    whether the interactions fit in the template."""
    problems: list[PvideoError] = list(asset_problems(spec, assets_dir))  # a missing captions file too
    src = spec.captions.src if spec.captions is not None else None
    if src and (Path(assets_dir) / src).is_file():
        problems += _caught(lambda: captions.template_cues(assets_dir, src))  # is it valid WebVTT?
    if spec.interactions and not problems:
        try:
            duration = probe(resolve_asset(assets_dir, spec.video), count_frames=False).duration
        except AssetError as exc:
            return [*problems, exc]
        problems += interaction_time_problems(spec, duration)
    return problems


_LATE = 1e-3  # seconds: a container's rounding, not an author's mistake


def interaction_time_problems(spec: SceneSpec, duration: float) -> list[SceneError]:
    """Interactions that start at or after the end of the ``duration``-second template, end after
    it, or offer a branch that runs past it; each message names the interaction and the field."""
    problems = []
    sections = {s.name: s for s in spec.sections}
    for number, item in enumerate(spec.interactions, start=1):
        name = describe(number, item)
        if item.start >= duration:
            problems.append(SceneError(f"{name}, field start: {item.start:g} s is not inside the {duration:g} s video"))
        elif item.end is not None and item.end > duration + _LATE:
            problems.append(SceneError(f"{name}, field end: {item.end:g} s is after the video's end ({duration:g} s)"))
        if isinstance(item, ChoiceInteraction):
            for k, option in enumerate(item.options):
                section = sections.get(option.section)
                if section is not None and section.end > duration + _LATE:
                    problems.append(
                        SceneError(
                            f"{name}, field options.{k}.section: section {section.name!r} ends at {section.end:g} s, "
                            f"after the video's end ({duration:g} s)"
                        )
                    )
    return problems


def field_problems(spec: SceneSpec, data: Mapping[str, Any]) -> list[DataError]:
    """Every declared field of the row that is missing or of the wrong type."""
    errors: list[DataError] = []
    for name, field in spec.fields.items():
        try:
            coerce_row(spec.model_copy(update={"fields": {name: field}}), data)
        except DataError as exc:
            errors.append(exc)
    return errors


def _compiler(settings: Settings) -> Callable[..., RenderPlan]:
    """``compile_plan`` with the storage and fetch policy renders use (``storage:`` and URL pictures)."""
    storage = storage_from_settings(settings)
    return partial(compile_plan, storage=storage, allow_private_fetch=settings.fetch_allow_private)


def row_problems(
    spec: SceneSpec, row: Mapping[str, Any], assets_dir: AssetsDir, compiler: Callable[..., RenderPlan] = compile_plan
) -> list[PvideoError]:
    """Everything that fails when this (valid) row is compiled: sections, each layer, captions, chapters."""
    errors: list[PvideoError] = []
    quiet = [layer.model_copy(update={"when": _OFF}) for layer in spec.layers]
    base = spec.model_copy(update={"layers": quiet})
    try:
        compiler(base, row, assets_dir=assets_dir)
    except PvideoError as exc:  # a section's `when`, or the template itself
        errors.append(exc)
        base = base.model_copy(update={"sections": []})
    for index, layer in enumerate(spec.layers):
        one = base.model_copy(update={"layers": [*quiet[:index], layer, *quiet[index + 1 :]]})
        try:
            compiler(one, row, assets_dir=assets_dir)
        except PvideoError as exc:
            errors.append(exc)
    errors += _caught(lambda: captions.caption_cues(spec, row, assets_dir))
    errors += _caught(lambda: captions.scene_chapters(spec, row, float("inf")))
    errors += RowCheck(spec, assets_dir).interaction_problems(row)
    return errors


def _caught(check: Callable[[], object]) -> Iterator[PvideoError]:
    try:
        check()
    except PvideoError as exc:
        yield exc
