"""Warnings for text no bundled font can draw: ``pvideo validate`` names the row and the layer.

Such characters render as boxes (.notdef), which is a bad look but not a failed
render, so they are warnings: the row still validates and still renders.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pvideo.errors import PvideoError
from pvideo.plan.assets import AssetsDir, resolve_font
from pvideo.plan.fonts import missing_glyphs
from pvideo.scene.layers import CtaLayer, TextLayer
from pvideo.scene.sandbox import render_text
from pvideo.scene.spec import SceneSpec


def glyph_warnings(spec: SceneSpec, row: Mapping[str, Any], assets_dir: AssetsDir) -> list[str]:
    """One line per text or CTA layer of ``row`` with characters drawn as boxes."""
    warnings = []
    for number, layer, kind, source, font in _texts(spec):
        try:
            missing = missing_glyphs(resolve_font(assets_dir, font), render_text(source, row, field=kind))
        except PvideoError:
            continue  # a bad template or font is an error validate reports elsewhere
        if missing:
            ident = f" {layer.id!r}" if layer.id else ""
            warnings.append(
                f"warning: layer {number} ({layer.type}{ident}) {kind}: no bundled font draws {missing} "
                "(they render as boxes)"
            )
    return warnings


def _texts(spec: SceneSpec) -> Iterator[tuple[int, TextLayer | CtaLayer, str, str, str]]:
    for number, layer in enumerate(spec.layers, start=1):
        if isinstance(layer, TextLayer):
            yield number, layer, "text", layer.text, layer.font_name
        elif isinstance(layer, CtaLayer):
            yield number, layer, "label", layer.label, layer.font
