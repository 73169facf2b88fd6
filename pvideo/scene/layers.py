"""The layers of a scene: what is drawn over the base video, in which box and time window.

Layers are a union told apart by ``type`` (``Layer``); text, images, shapes, CTAs and
video clips sit in a box for ``[start, end)`` seconds and may move in and out
(``animate``); audio tracks have no box. Any layer may carry a ``when`` condition.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from pvideo.scene.checks import SpecModel, check_color, is_identifier
from pvideo.scene.conditions import check_condition


class Box(SpecModel):
    """A rectangle in video pixels; (x, y) is the top-left corner."""

    x: int = Field(ge=0)
    y: int = Field(ge=0)
    w: int = Field(gt=0)
    h: int = Field(gt=0)


class Stroke(SpecModel):
    """An outline ``width`` pixels wide around text glyphs or a shape."""

    width: int = Field(default=2, ge=0, le=50)
    color: str = "#000000"

    _colors = field_validator("color")(check_color)


class Shadow(SpecModel):
    """A hard drop shadow: the text drawn again ``(dx, dy)`` pixels away in ``color``."""

    dx: int = Field(default=2, ge=-50, le=50)
    dy: int = Field(default=2, ge=-50, le=50)
    color: str = "#00000099"

    _colors = field_validator("color")(check_color)


class Motion(SpecModel):
    """A layer's entrance or exit: ``effect`` over ``duration`` seconds inside its window."""

    effect: Literal["fade", "slide", "pop", "typewriter"]
    duration: float = Field(default=0.5, gt=0, le=10)
    easing: Literal["linear", "ease_in", "ease_out", "ease_in_out"] = "ease_out"
    edge: Literal["left", "right", "top", "bottom"] | None = Field(
        default=None, description="slide only: the video edge the layer comes from or goes to (default left)"
    )

    @model_validator(mode="after")
    def _edge_for_slide(self) -> Motion:
        if self.edge is not None and self.effect != "slide":
            raise ValueError(f"edge only applies to effect slide, not {self.effect}")
        return self


class Animate(SpecModel):
    """``in`` and ``out`` motions (YAML keys; ``in`` is a Python keyword, hence the aliases)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    enter: Motion | None = Field(default=None, alias="in")
    exit: Motion | None = Field(default=None, alias="out")


class _TimedLayer(SpecModel):
    id: str | None = None
    start: float = Field(ge=0)
    end: float = Field(gt=0)
    box: Box
    when: str | None = Field(default=None, description="Jinja2 expression over the row; false omits the layer")
    animate: Animate | None = None

    _when = field_validator("when")(check_condition)

    @model_validator(mode="after")
    def _window(self) -> _TimedLayer:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self

    @model_validator(mode="after")
    def _animation_fits(self) -> _TimedLayer:
        """Motions stay inside ``[start, end)``, so the segments a layer touches do not change."""
        if self.animate is None:
            return self
        motions = [m for m in (self.animate.enter, self.animate.exit) if m is not None]
        total = sum(m.duration for m in motions)
        if total > self.end - self.start + 1e-9:
            raise ValueError(
                f"animate: in and out last {total:g} s, longer than the layer's {self.end - self.start:g} s window"
            )
        if any(m.effect == "typewriter" for m in motions) and getattr(self, "type", None) != "text":
            raise ValueError("animate: typewriter applies to text layers only")
        return self


class TextLayer(_TimedLayer):
    """Text from a Jinja2 template over the customer row: wraps, shrinks to fit, then ellipsizes."""

    type: Literal["text"]
    text: str
    font: str = "Inter-Bold"
    weight: Literal["regular", "bold"] | None = None
    size: int = Field(default=48, gt=0, le=1000)
    min_size: int = Field(default=14, gt=0)
    line_height: float = Field(default=1.0, ge=0.5, le=4.0)
    wrap: bool = True
    color: str = "#ffffff"
    background: str | None = None
    padding: int | None = Field(default=None, ge=0)
    radius: int | None = Field(default=None, ge=0)
    align: Literal["left", "center", "right"] = "left"
    valign: Literal["top", "middle", "bottom"] = "middle"
    stroke: Stroke | None = None
    shadow: Shadow | None = None

    _colors = field_validator("color", "background")(check_color)

    @property
    def font_name(self) -> str:
        """``font`` with ``weight`` applied: ``Inter-Bold`` + ``regular`` -> ``Inter-Regular``."""
        if self.weight is None:
            return self.font
        family = re.sub(r"-(Regular|Bold)$", "", self.font)
        return f"{family}-{self.weight.title()}"


class ImageLayer(_TimedLayer):
    """A picture fitted into its box: a bundled asset, ``storage:KEY`` or an http(s) URL.

    ``src`` may use the row (a per-customer photo); then the layer is personal.
    """

    type: Literal["image"]
    src: str
    fit: Literal["contain", "cover"] = "contain"
    mask: Literal["none", "circle", "rounded"] = "none"
    radius: int = Field(default=24, ge=0, description="corner radius of mask: rounded")


class ShapeLayer(_TimedLayer):
    """A filled rectangle, rounded rectangle or circle (centered, diameter = the box's short side)."""

    type: Literal["shape"]
    shape: Literal["rectangle", "rounded_rectangle", "circle"] = "rectangle"
    fill: str | None = "#ffffff"
    stroke: Stroke | None = None
    radius: int = Field(default=16, ge=0)

    _colors = field_validator("fill")(check_color)


class CtaLayer(_TimedLayer):
    """A call-to-action button: burned into the video and a clickable hotspot on the page."""

    type: Literal["cta"]
    id: str
    label: str
    href: str
    font: str = "Inter-Bold"
    size: int = Field(default=36, gt=0, le=1000)
    color: str = "#ffffff"
    background: str = "#e4572e"
    style: Literal["pill", "rounded", "square", "outline"] = "pill"
    border: Stroke | None = None

    _colors = field_validator("color", "background")(check_color)

    @field_validator("id")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not is_identifier(value):
            raise ValueError("CTA id must be letters, digits and underscores")
        return value


class VideoLayer(_TimedLayer):
    """An overlay clip from ``assets/`` (``src`` may use the row), scaled into its box from ``start``.

    The clip plays from its first frame at ``start``; a short clip freezes on its
    last frame, or repeats with ``loop``. Its own audio is ignored.
    """

    type: Literal["video"]
    src: str
    fit: Literal["contain", "cover"] = "contain"
    loop: bool = False


class AudioLayer(SpecModel):
    """A background track from ``assets/`` mixed under the template's audio (no box).

    ``volume`` is the track's gain, ``template_volume`` the template's own gain
    while the track plays; without ``start``/``end`` it plays over the whole video.
    """

    type: Literal["audio"]
    id: str | None = None
    src: str
    start: float = Field(default=0.0, ge=0)
    end: float | None = Field(default=None, gt=0)
    volume: float = Field(default=1.0, ge=0, le=4)
    template_volume: float = Field(default=1.0, ge=0, le=4)
    when: str | None = Field(default=None, description="Jinja2 expression over the row; false omits the layer")

    _when = field_validator("when")(check_condition)

    @model_validator(mode="after")
    def _window(self) -> AudioLayer:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


AnyLayer = TextLayer | ImageLayer | ShapeLayer | CtaLayer | VideoLayer | AudioLayer
Layer = Annotated[AnyLayer, Field(discriminator="type")]
LAYER_TYPES = ("text", "image", "cta", "shape", "video", "audio")
