"""Compile a scene and one customer row into a frozen ``RenderPlan``.

``compile_plan`` is where every Jinja2 text of the scene is rendered over the
row, every text and image is rasterized to a PNG and every CTA becomes an
http(s) URL with a box and a time window. It reads assets but writes nothing;
the renderer needs nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pvideo.errors import AssetError, DataError, PvideoError
from pvideo.files import file_hash
from pvideo.plan import raster
from pvideo.plan.animation import Animation, Motion, background_rgba, reveal_ranks
from pvideo.plan.assets import AssetsDir, resolve_asset, resolve_font
from pvideo.plan.geometry import Frame, frame_size, needs_frame, resolved
from pvideo.plan.model import AudioTrack, Hotspot, Overlay, PlanSection, RenderPlan, VideoClip
from pvideo.plan.pictures import is_bundled, load_picture
from pvideo.plan.windows import keyframe_times
from pvideo.scene.conditions import condition_uses_data, holds
from pvideo.scene.layers import (
    AnyLayer,
    AudioLayer,
    CtaLayer,
    ImageLayer,
    ShapeLayer,
    Stroke,
    TextLayer,
    VideoLayer,
    pixels_of,
)
from pvideo.scene.sandbox import render_text
from pvideo.scene.spec import SceneSpec
from pvideo.scene.urls import check_link
from pvideo.storage import Storage


def _describe(index: int, layer: AnyLayer) -> str:
    ident = f" {layer.id!r}" if layer.id else ""
    return f"layer {index} ({layer.type}{ident})"


def check_assets(spec: SceneSpec, assets_dir: AssetsDir) -> None:
    """Fail fast (``AssetError`` naming the layer) if any file the scene needs is missing."""
    problems = asset_problems(spec, assets_dir)
    if problems:
        raise problems[0]


def asset_problems(spec: SceneSpec, assets_dir: AssetsDir) -> list[AssetError]:
    """Every file the scene needs for all rows that is missing, each naming its layer."""
    problems = []
    try:
        resolve_asset(assets_dir, spec.video)
    except AssetError as exc:
        problems.append(exc)
    for index, layer in enumerate(spec.layers, start=1):
        try:
            if isinstance(layer, ImageLayer) and not _templated(layer.src) and is_bundled(layer.src):
                resolve_asset(assets_dir, layer.src)
            elif isinstance(layer, TextLayer):
                resolve_font(assets_dir, layer.font_name)
            elif isinstance(layer, CtaLayer):
                resolve_font(assets_dir, layer.font)
            elif isinstance(layer, (VideoLayer, AudioLayer)) and not _templated(layer.src):
                resolve_asset(assets_dir, layer.src)
        except AssetError as exc:
            problems.append(AssetError(f"{_describe(index, layer)}: {exc}"))
    if spec.captions is not None and spec.captions.src:
        try:
            resolve_asset(assets_dir, spec.captions.src)
        except AssetError as exc:
            problems.append(AssetError(f"captions src: {exc}"))
    return problems


def compile_plan(
    spec: SceneSpec,
    row: Mapping[str, Any],
    *,
    assets_dir: AssetsDir,
    customer_id: str = "",
    row_number: int | None = None,
    storage: Storage | None = None,
    allow_private_fetch: bool = False,
) -> RenderPlan:
    """Resolve ``spec`` for one validated ``row`` (see ``customers.coerce_row``).

    ``storage`` serves ``storage:`` image sources; ``allow_private_fetch`` lets image
    URLs reach private addresses (tests, trusted intranets).
    """
    template = resolve_asset(assets_dir, spec.video)
    overlays: list[Overlay] = []
    hotspots: list[Hotspot] = []
    clips: list[VideoClip] = []
    audio: list[AudioTrack] = []
    sections = _sections(spec, row, row_number)
    timeline = RenderPlan(spec.name, customer_id, template, spec.poster_at, (), (), sections=sections)
    sources = _Sources(assets_dir, storage, allow_private_fetch)
    relative = any(needs_frame(layer) for layer in spec.layers if not isinstance(layer, AudioLayer))
    frame = frame_size(template) if relative else Frame(0, 0)  # a scene in pixels never opens the template
    for index, layer in enumerate(spec.layers, start=1):
        name = _describe(index, layer)
        try:
            if layer.when is not None and not holds(layer.when, row, field=f"{name} when"):
                continue
            if isinstance(layer, AudioLayer):
                audio.append(_audio_track(layer, name, row, assets_dir))
                continue
            layer = resolved(layer, frame)
            if timeline.output_time(layer.start) == timeline.output_time(_end(layer)):
                continue  # inside skipped sections
            if isinstance(layer, VideoLayer):
                clips.append(_video_clip(layer, name, row, assets_dir))
                continue
            drawn = _draw(layer, name, row, sources, timeline)
        except DataError as exc:
            raise DataError(
                exc.reason if exc.reason.startswith("layer") else f"{name}: {exc.reason}",
                row=row_number,
                field=exc.field,
            ) from None
        except PvideoError as exc:
            raise type(exc)(f"{name}: {exc}") from None
        if drawn is None:
            continue  # a per-customer picture this row does not have
        if drawn.hotspot is not None:
            hotspots.append(drawn.hotspot)
        conditional = layer.when is not None and condition_uses_data(layer.when)
        box = layer.box.pixels
        overlays.append(
            Overlay(
                name,
                drawn.png,
                box.x,
                box.y,
                box.w,
                box.h,
                layer.start,
                _end(layer),
                not drawn.personal and not conditional,
                _animation(layer, drawn.png),
            )
        )
    return RenderPlan(
        spec.name,
        customer_id,
        template,
        spec.poster_at,
        tuple(overlays),
        tuple(hotspots),
        clips=tuple(clips),
        audio=tuple(audio),
        sections=sections,
        keyframes=keyframe_times(spec),
    )


@dataclass(frozen=True)
class _Sources:
    """Where pictures come from: the assets folder, the configured storage, the web."""

    assets_dir: AssetsDir
    storage: Storage | None
    allow_private_fetch: bool


@dataclass(frozen=True)
class _Drawn:
    """One overlay layer drawn for one row: its pixels, whether they depend on the row's
    data (a personal layer is re-encoded per customer; the rest is baked into the template
    version once), and the CTA's clickable box."""

    png: bytes
    personal: bool
    hotspot: Hotspot | None = None


def _draw(
    layer: TextLayer | ImageLayer | ShapeLayer | CtaLayer,
    name: str,
    row: Mapping[str, Any],
    sources: _Sources,
    timeline: RenderPlan,
) -> _Drawn | None:
    """Rasterize an overlay layer for ``row``; ``None`` when the row has no picture for it."""
    match layer:
        case TextLayer():
            text = render_text(layer.text, row, field=f"{name} text")
            png = raster.render_text(
                text, layer.box.pixels.w, layer.box.pixels.h, _text_style(layer, sources.assets_dir)
            )
            return _Drawn(png, personal=_templated(layer.text))
        case ImageLayer():
            personal = _templated(layer.src)
            picture = _image(layer, name, row, not personal, sources)
            return None if picture is None else _Drawn(picture, personal=personal)
        case ShapeLayer():
            stroke = layer.stroke
            png = raster.render_shape(
                layer.shape,
                layer.box.pixels.w,
                layer.box.pixels.h,
                fill=layer.fill,
                radius=layer.radius,
                stroke_width=stroke.width if stroke else 0,
                stroke_color=stroke.color if stroke else None,
            )
            return _Drawn(png, personal=False)
        case CtaLayer():
            label = render_text(layer.label, row, field=f"{name} label")
            href = render_text(layer.href, row, field=f"{name} href")
            try:
                check_link(href)
            except ValueError as exc:
                raise DataError(f"{name} href {href[:200]!r}: {exc}", field="href") from None
            png = _button(layer, label, sources.assets_dir)
            return _Drawn(png, personal=_templated(layer.label), hotspot=_hotspot(layer, label, href, timeline))


def _sections(spec: SceneSpec, row: Mapping[str, Any], row_number: int | None) -> tuple[PlanSection, ...]:
    try:
        return tuple(
            PlanSection(s.name, s.start, s.end, s.when is None or holds(s.when, row, field=f"section {s.name!r} when"))
            for s in spec.sections
        )
    except DataError as exc:
        raise DataError(exc.reason, row=row_number, field=exc.field) from None


def _media(layer: VideoLayer | AudioLayer, row: Mapping[str, Any], assets_dir: AssetsDir) -> tuple[Path, str]:
    """The layer's file (``src`` may use the row) and its content hash; a missing file chosen
    by data is the row's fault."""
    src = render_text(layer.src, row, field="src")
    try:
        path = resolve_asset(assets_dir, src)
    except AssetError as exc:
        if not _templated(layer.src):
            raise
        raise DataError(f"src {src[:200]!r}: {exc}", field="src") from None
    return path, file_hash(path)


def _video_clip(layer: VideoLayer, name: str, row: Mapping[str, Any], assets_dir: AssetsDir) -> VideoClip:
    path, digest = _media(layer, row, assets_dir)
    box, end = layer.box.pixels, _end(layer)
    return VideoClip(
        name, path, digest, box.x, box.y, box.w, box.h, layer.start, end, layer.fit, layer.loop, _animation(layer)
    )


def _audio_track(layer: AudioLayer, name: str, row: Mapping[str, Any], assets_dir: AssetsDir) -> AudioTrack:
    path, digest = _media(layer, row, assets_dir)
    return AudioTrack(name, path, digest, layer.start, layer.end, layer.volume, layer.template_volume)


def _image(
    layer: ImageLayer,
    name: str,
    row: Mapping[str, Any],
    static: bool,
    sources: _Sources,
) -> bytes | None:
    """The fitted, masked picture; a bad picture chosen by data is the row's fault (field ``src``)."""
    src = render_text(layer.src, row, field=f"{name} src").strip()
    if not src and not static:
        return None
    try:
        picture = load_picture(
            src, assets_dir=sources.assets_dir, storage=sources.storage, allow_private=sources.allow_private_fetch
        )
        return raster.render_image(
            picture,
            layer.box.pixels.w,
            layer.box.pixels.h,
            fit=layer.fit,
            mask=layer.mask,
            radius=layer.radius,
            name=repr(src[:200]),
        )
    except (AssetError, DataError) as exc:
        if static:
            raise
        reason = exc.reason if isinstance(exc, DataError) else str(exc)
        raise DataError(f"{name} src {src[:200]!r}: {reason}", field="src") from None


_BUTTON_RADIUS = {
    "pill": lambda h: h // 2,
    "rounded": lambda h: min(16, h // 4),
    "square": lambda h: 0,
    "outline": lambda h: min(16, h // 4),
}


def _button(layer: CtaLayer, label: str, assets_dir: AssetsDir) -> bytes:
    """The burned-in CTA: the button shape in its ``style`` (and ``border``), the label on top."""
    w, h = layer.box.pixels.w, layer.box.pixels.h
    border = layer.border
    if border is None and layer.style == "outline":
        border = Stroke(width=max(2, h // 20), color=layer.color)
    width = border.width if border else 0
    shape = raster.render_shape(
        "rounded_rectangle",
        w,
        h,
        radius=_BUTTON_RADIUS[layer.style](h),
        fill=None if layer.style == "outline" else layer.background,
        stroke_width=width,
        stroke_color=border.color if border else None,
    )
    style = raster.TextStyle(
        font=resolve_font(assets_dir, layer.font),
        size=pixels_of(layer.size),
        min_size=min(12, pixels_of(layer.size)),
        color=layer.color,
        align="center",
        padding=max(8, h // 6) + width,
    )
    return raster.stack(shape, raster.render_text(label, w, h, style))


def _animation(
    layer: TextLayer | ImageLayer | ShapeLayer | CtaLayer | VideoLayer, png: bytes | None = None
) -> Animation | None:
    """The compile-time half of ``animate``: motions, and the typewriter order of the text's glyphs."""
    if layer.animate is None or (layer.animate.enter is None and layer.animate.exit is None):
        return None
    enter, leave = (
        None if m is None else Motion(m.effect, m.duration, m.easing, m.edge or "left")
        for m in (layer.animate.enter, layer.animate.exit)
    )
    if not any(m is not None and m.effect == "typewriter" for m in (enter, leave)):
        return Animation(enter, leave)
    # the spec allows typewriter on text layers only, and a text layer is rasterized first
    assert isinstance(layer, TextLayer) and png is not None, "typewriter applies to rasterized text only"
    ranks, steps = reveal_ranks(png, layer.background)
    return Animation(enter, leave, ranks=ranks, steps=steps, background=background_rgba(layer.background))


def _text_style(layer: TextLayer, assets_dir: AssetsDir) -> raster.TextStyle:
    boxed = layer.background is not None
    default_radius = min(16, layer.box.pixels.h // 4) if boxed else 0
    default_padding = max(8, layer.box.pixels.h // 8) if boxed else 0
    return raster.TextStyle(
        font=resolve_font(assets_dir, layer.font_name),
        size=pixels_of(layer.size),
        min_size=min(pixels_of(layer.min_size), pixels_of(layer.size)),
        color=layer.color,
        background=layer.background,
        align=layer.align,
        valign=layer.valign,
        radius=default_radius if layer.radius is None else layer.radius,
        padding=default_padding if layer.padding is None else layer.padding,
        line_height=layer.line_height,
        wrap=layer.wrap,
        stroke_width=layer.stroke.width if layer.stroke else 0,
        stroke_color=layer.stroke.color if layer.stroke else None,
        shadow=(layer.shadow.dx, layer.shadow.dy, layer.shadow.color) if layer.shadow else None,
    )


END_OF_VIDEO = 1_000_000.0  # "until the end" (``end: end``): past any template; windows are cut to the video


def _end(layer: TextLayer | ImageLayer | ShapeLayer | CtaLayer | VideoLayer) -> float:
    return END_OF_VIDEO if layer.end is None else layer.end


def _templated(source: str) -> bool:
    return "{{" in source or "{%" in source


def _hotspot(layer: CtaLayer, label: str, href: str, timeline: RenderPlan) -> Hotspot:
    """Hotspots are in output time: after a skipped section they move earlier."""
    box = layer.box.pixels
    return Hotspot(
        layer.id,
        label,
        href,
        box.x,
        box.y,
        box.w,
        box.h,
        timeline.output_time(layer.start),
        timeline.output_time(_end(layer)),
    )
