"""Compile a scene and one customer row into a frozen ``RenderPlan``.

``compile`` is where every template is resolved, every text and image is
rasterized to a PNG and every CTA becomes an http(s) URL with a box and a time
window. It reads assets but writes nothing; the renderer needs nothing else.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import jinja2
from jinja2 import meta

from pvideo import raster
from pvideo.assets import resolve_asset, resolve_font
from pvideo.errors import AssetError, DataError, PvideoError
from pvideo.spec import Box, CtaLayer, ImageLayer, SceneSpec, ShapeLayer, TextLayer
from pvideo.templating import render_template
from pvideo.urls import check_link


@dataclass(frozen=True)
class Overlay:
    """A rasterized layer: an RGBA PNG placed at (x, y) while ``start <= t < end``.

    ``static`` overlays look the same for every customer (no template markup,
    bundled images); engines bake them into the template version once.
    """

    layer: str
    png: bytes = field(repr=False)
    x: int
    y: int
    w: int
    h: int
    start: float
    end: float
    static: bool = False


@dataclass(frozen=True)
class Hotspot:
    """A clickable CTA on the landing page, in video pixels and seconds."""

    id: str
    label: str
    href: str
    x: int
    y: int
    w: int
    h: int
    start: float
    end: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RenderPlan:
    scene: str
    customer_id: str
    template: Path
    poster_at: float
    overlays: tuple[Overlay, ...]
    hotspots: tuple[Hotspot, ...]

    @property
    def personal_overlays(self) -> tuple[Overlay, ...]:
        return tuple(o for o in self.overlays if not o.static)

    @property
    def static_overlays(self) -> tuple[Overlay, ...]:
        return tuple(o for o in self.overlays if o.static)

    def digest(self) -> str:
        """A content hash of everything that decides the output pixels."""
        h = hashlib.sha256()
        h.update(json.dumps([self.scene, str(self.template), self.poster_at]).encode())
        for o in self.overlays:
            h.update(json.dumps([o.x, o.y, o.w, o.h, o.start, o.end, o.static]).encode())
            h.update(hashlib.sha256(o.png).digest())
        return h.hexdigest()


AnyLayer = TextLayer | ImageLayer | ShapeLayer | CtaLayer


def _describe(index: int, layer: AnyLayer) -> str:
    ident = f" {layer.id!r}" if layer.id else ""
    return f"layer {index} ({layer.type}{ident})"


def check_assets(spec: SceneSpec, assets_dir: Path) -> None:
    """Fail fast (``AssetError`` naming the layer) if any file the scene needs is missing."""
    resolve_asset(assets_dir, spec.video)
    for index, layer in enumerate(spec.layers, start=1):
        try:
            if isinstance(layer, ImageLayer):
                resolve_asset(assets_dir, layer.src)
            elif isinstance(layer, TextLayer):
                resolve_font(assets_dir, layer.font_name)
            elif isinstance(layer, CtaLayer):
                resolve_font(assets_dir, layer.font)
        except AssetError as exc:
            raise AssetError(f"{_describe(index, layer)}: {exc}") from None


def compile(spec: SceneSpec, row: Mapping[str, Any], *, assets_dir: Path,
            customer_id: str = "", row_number: int | None = None) -> RenderPlan:
    """Resolve ``spec`` for one validated ``row`` (see ``customers.coerce_row``)."""
    template = resolve_asset(assets_dir, spec.video)
    overlays: list[Overlay] = []
    hotspots: list[Hotspot] = []
    for index, layer in enumerate(spec.layers, start=1):
        name = _describe(index, layer)
        try:
            if layer.when is not None and not _holds(layer.when, row, field=f"{name} when"):
                continue
            conditional = layer.when is not None and condition_uses_data(layer.when)
            if isinstance(layer, TextLayer):
                static = not _templated(layer.text)
                text = render_template(layer.text, row, field=f"{name} text")
                png = raster.render_text(text, layer.box.w, layer.box.h, _text_style(layer, assets_dir))
            elif isinstance(layer, ImageLayer):
                static = True
                png = raster.render_image(resolve_asset(assets_dir, layer.src), layer.box.w, layer.box.h)
            elif isinstance(layer, ShapeLayer):
                static = True
                png = raster.render_shape(
                    layer.shape, layer.box.w, layer.box.h, fill=layer.fill, radius=layer.radius,
                    stroke_width=layer.stroke.width if layer.stroke else 0,
                    stroke_color=layer.stroke.color if layer.stroke else None)
            else:
                static = not _templated(layer.label)
                label = render_template(layer.label, row, field=f"{name} label")
                href = render_template(layer.href, row, field=f"{name} href")
                try:
                    check_link(href)
                except ValueError as exc:
                    raise DataError(f"{name} href {href[:200]!r}: {exc}", field="href") from None
                style = raster.TextStyle(
                    font=resolve_font(assets_dir, layer.font), size=layer.size,
                    min_size=min(12, layer.size), color=layer.color, background=layer.background,
                    align="center", radius=layer.box.h // 2, padding=max(8, layer.box.h // 6))
                png = raster.render_text(label, layer.box.w, layer.box.h, style)
                hotspots.append(_hotspot(layer, label, href))
        except DataError as exc:
            raise DataError(exc.reason if exc.reason.startswith("layer") else f"{name}: {exc.reason}",
                            row=row_number, field=exc.field) from None
        except PvideoError as exc:
            raise type(exc)(f"{name}: {exc}") from None
        overlays.append(Overlay(name, png, layer.box.x, layer.box.y, layer.box.w, layer.box.h,
                                layer.start, layer.end, static and not conditional))
    return RenderPlan(spec.name, customer_id, template, spec.poster_at, tuple(overlays), tuple(hotspots))


def _text_style(layer: TextLayer, assets_dir: Path) -> raster.TextStyle:
    boxed = layer.background is not None
    default_radius = min(16, layer.box.h // 4) if boxed else 0
    default_padding = max(8, layer.box.h // 8) if boxed else 0
    return raster.TextStyle(
        font=resolve_font(assets_dir, layer.font_name), size=layer.size,
        min_size=min(layer.min_size, layer.size), color=layer.color,
        background=layer.background, align=layer.align, valign=layer.valign,
        radius=default_radius if layer.radius is None else layer.radius,
        padding=default_padding if layer.padding is None else layer.padding,
        line_height=layer.line_height, wrap=layer.wrap,
        stroke_width=layer.stroke.width if layer.stroke else 0,
        stroke_color=layer.stroke.color if layer.stroke else None,
        shadow=(layer.shadow.dx, layer.shadow.dy, layer.shadow.color) if layer.shadow else None)


def _templated(source: str) -> bool:
    return "{{" in source or "{%" in source


@lru_cache(maxsize=512)
def condition_uses_data(expression: str) -> bool:
    """Whether a ``when`` expression reads any name (row data): then the layer is personal."""
    return bool(meta.find_undeclared_variables(jinja2.Environment().parse("{{ (" + expression + ") }}")))


def _holds(expression: str, row: Mapping[str, Any], *, field: str) -> bool:
    """Evaluate a ``when`` in the scene sandbox; the spec checked it is one expression."""
    return render_template("{% if (" + expression + ") %}1{% endif %}", row, field=field) == "1"


def _hotspot(layer: CtaLayer, label: str, href: str) -> Hotspot:
    box: Box = layer.box
    return Hotspot(layer.id, label, href, box.x, box.y, box.w, box.h, layer.start, layer.end)
