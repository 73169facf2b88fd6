"""``pvideo validate``: every problem in a scene and its customers, without rendering.

Each row is checked field by field (every bad value is reported, not just the
first) and then layer by layer: a layer is compiled with every other layer
switched off (``when: "false"``), so one bad layer never hides another and
per-row problems show up — a templated image, clip or music file missing for
that row, a CTA URL that is not http(s), a ``when`` that fails. Compiling
rasterizes text and images but encodes no video (``pvideo.jobs.rowcheck`` is the
fast check a campaign submission runs on each row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from pvideo.errors import DataError, PvideoError
from pvideo.jobs.glyphs import glyph_warnings
from pvideo.plan.assets import AssetsDir
from pvideo.plan.compiler import asset_problems, compile_plan
from pvideo.plan.model import RenderPlan
from pvideo.plan.uploads import asset_root
from pvideo.render import captions
from pvideo.scene.customers import coerce_row, read_customers
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
    problems = [f"{scene}: {p}" for p in scene_problems(spec, assets)]
    compiler = _compiler(settings)
    if customers is None:
        if problems:
            return problems
        sample = sample_row(spec)  # hrefs only real data can check are left to --data (see samples)
        checked = with_sample_links(spec, sample)
        warnings += [f"{scene}: {w}" for w in glyph_warnings(spec, sample, assets)]
        return [f"{scene}: {p}" for p in row_problems(checked, sample, assets, compiler)]
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


def scene_problems(spec: SceneSpec, assets_dir: AssetsDir) -> list[PvideoError]:
    """Files every row needs: the template, fonts, untemplated media, the captions file."""
    problems: list[PvideoError] = list(asset_problems(spec, assets_dir))  # a missing captions file too
    src = spec.captions.src if spec.captions is not None else None
    if src and (Path(assets_dir) / src).is_file():
        problems += _caught(lambda: captions.template_cues(assets_dir, src))  # is it valid WebVTT?
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
    return errors


def _caught(check: Callable[[], object]) -> Iterator[PvideoError]:
    try:
        check()
    except PvideoError as exc:
        yield exc
