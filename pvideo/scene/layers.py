"""The layers of a scene: what is drawn over the base video, in which box and time window.

Layers are a union told apart by ``type`` (``Layer``); text, images, shapes, CTAs and
video clips sit in a box for ``[start, end)`` seconds and may move in and out
(``animate``); audio tracks have no box. Any layer may carry a ``when`` condition.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, NamedTuple

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticKnownError

from pvideo.scene.checks import SpecModel, check_color, is_identifier
from pvideo.scene.conditions import check_condition

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_PIXELS = re.compile(r"^\s*(\d+)\s*(?:px)?\s*$")
_PERCENT_SCHEMA: JsonDict = {"type": "string", "pattern": r"^\d+(\.\d+)?%$"}
OFFSET_SCHEMA: JsonDict = {"anyOf": [{"type": "integer", "minimum": 0}, _PERCENT_SCHEMA]}
LENGTH_SCHEMA: JsonDict = {"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, _PERCENT_SCHEMA]}
FONT_SCHEMA: JsonDict = {"anyOf": [{"type": "integer", "exclusiveMinimum": 0, "maximum": 1000}, _PERCENT_SCHEMA]}

Anchor = Literal[
    "top-left",
    "top-center",
    "top-right",
    "center-left",
    "center",
    "center-right",
    "bottom-left",
    "bottom-center",
    "bottom-right",
]


def percent_of(value: int | str) -> float | None:
    """The percentage a length gives (``"6%"`` -> 6.0), ``None`` for pixels."""
    if isinstance(value, str) and (match := _PERCENT.match(value)):
        return float(match.group(1))
    return None


def pixels_of(value: int | str) -> int:
    """A length known to be in pixels (a percent is resolved for a frame first, see ``pvideo.plan``)."""
    if isinstance(value, str):
        raise ValueError(f"{value} is relative to the frame: resolve it for a frame size first")
    return value


def check_length(value: object, *, positive: bool, most: int | None = None) -> int | str:
    """Pixels (``80``, ``"80px"``) become an int, with pydantic's own messages for bounds;
    a percent (``"6 %"``) becomes ``"6%"``."""
    if isinstance(value, str) and (match := _PIXELS.match(value)):
        value = int(match.group(1))
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if positive and value <= 0:
            raise PydanticKnownError("greater_than", {"gt": 0})
        if value < 0:
            raise PydanticKnownError("greater_than_equal", {"ge": 0})
        if most is not None and value > most:
            raise PydanticKnownError("less_than_equal", {"le": most})
        return value
    if isinstance(value, str) and (match := _PERCENT.match(value)):
        percent = float(match.group(1))
        if (positive and percent == 0) or percent > 100:
            raise ValueError(f"{value.strip()} is out of range ({'above 0' if positive else '0'} to 100%)")
        return f"{match.group(1)}%"
    raise ValueError(f"{value!r} is not a length: give pixels (80) or a percent of the frame (6%)")


def _offset(value: object) -> int | str:
    return check_length(value, positive=False)


def _extent(value: object) -> int | str:
    return check_length(value, positive=True)


def _font_size(value: object) -> int | str:
    return check_length(value, positive=True, most=1000)


class Pixels(NamedTuple):
    x: int
    y: int
    w: int
    h: int


class Box(SpecModel):
    """A rectangle in video pixels or in percent of the frame (``x``, ``w``: of its width; ``y``,
    ``h``: of its height). Without ``anchor``, (x, y) is the top-left corner; with it, the box
    is pinned to that point of the frame and x, y are margins from it (inward; from the middle
    for ``center``, moving right and down)."""

    x: int | str = Field(
        default=0, description="left edge, or margin from the anchor: pixels or N%", json_schema_extra=OFFSET_SCHEMA
    )
    y: int | str = Field(
        default=0, description="top edge, or margin from the anchor: pixels or N%", json_schema_extra=OFFSET_SCHEMA
    )
    w: int | str = Field(
        description="width: pixels or N% of the frame's width (also spelled `width`)", json_schema_extra=LENGTH_SCHEMA
    )
    h: int | str = Field(
        description="height: pixels or N% of the frame's height (also spelled `height`)",
        json_schema_extra=LENGTH_SCHEMA,
    )
    anchor: Anchor | None = Field(default=None, description="the frame point the box is pinned to (default: top-left)")

    _offsets = field_validator("x", "y", mode="before")(_offset)
    _extents = field_validator("w", "h", mode="before")(_extent)

    @model_validator(mode="before")
    @classmethod
    def _spelled_out(cls, data: object) -> object:
        """``width``/``height`` are accepted for ``w``/``h``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for long, short in (("width", "w"), ("height", "h")):
            if long in data:
                if short in data:
                    raise ValueError(f"give {short} or {long}, not both")
                data[short] = data.pop(long)
        return data

    @property
    def pixels(self) -> Pixels:
        """The box as pixels; a relative box is placed for a frame first (``pvideo.plan.geometry``)."""
        if self.anchor not in (None, "top-left"):
            raise ValueError(f"the box is anchored {self.anchor}: place it for a frame size first")
        return Pixels(pixels_of(self.x), pixels_of(self.y), pixels_of(self.w), pixels_of(self.h))

    @property
    def relative(self) -> bool:
        """Whether the frame size is needed to place the box (a percent or an anchor)."""
        return self.anchor is not None or any(isinstance(v, str) for v in (self.x, self.y, self.w, self.h))


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


UNTIL_END_SCHEMA: JsonDict = {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"const": "end"}, {"type": "null"}]}


def until_end(value: object) -> object:
    """``end: end`` means what leaving ``end`` out means: until the end of the video (``None``)."""
    return None if isinstance(value, str) and value.strip().lower() == "end" else value


class _TimedLayer(SpecModel):
    id: str | None = None
    start: float = Field(ge=0)
    end: float | None = Field(
        default=None,
        gt=0,
        description="second the layer is gone (shown while start <= t < end); `end` or left out: the video's end",
        json_schema_extra=UNTIL_END_SCHEMA,
    )
    box: Box
    when: str | None = Field(default=None, description="Jinja2 expression over the row; false omits the layer")
    animate: Animate | None = None

    _when = field_validator("when")(check_condition)
    _end = field_validator("end", mode="before")(until_end)

    @model_validator(mode="after")
    def _window(self) -> _TimedLayer:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self

    @model_validator(mode="after")
    def _animation_fits(self) -> _TimedLayer:
        """Motions stay inside ``[start, end)``, so the segments a layer touches do not change."""
        if self.animate is None:
            return self
        motions = [m for m in (self.animate.enter, self.animate.exit) if m is not None]
        total = sum(m.duration for m in motions)
        if self.end is not None and total > self.end - self.start + 1e-9:
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
    size: int | str = Field(
        default=48, description="font size: pixels or N% of the frame's height", json_schema_extra=FONT_SCHEMA
    )
    min_size: int | str = Field(
        default=14,
        description="smallest font size before the text is ellipsized: pixels or N%",
        json_schema_extra=LENGTH_SCHEMA,
    )
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
    _size = field_validator("size", mode="before")(_font_size)
    _min_size = field_validator("min_size", mode="before")(_extent)

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
    size: int | str = Field(
        default=36, description="font size: pixels or N% of the frame's height", json_schema_extra=FONT_SCHEMA
    )
    color: str = "#ffffff"
    background: str = "#e4572e"
    style: Literal["pill", "rounded", "square", "outline"] = "pill"
    border: Stroke | None = None

    _colors = field_validator("color", "background")(check_color)
    _sizes = field_validator("size", mode="before")(_font_size)

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
    end: float | None = Field(
        default=None,
        gt=0,
        description="second the track stops; `end` or left out: the video's end",
        json_schema_extra=UNTIL_END_SCHEMA,
    )
    volume: float = Field(default=1.0, ge=0, le=4)
    template_volume: float = Field(default=1.0, ge=0, le=4)
    when: str | None = Field(default=None, description="Jinja2 expression over the row; false omits the layer")

    _when = field_validator("when")(check_condition)
    _end = field_validator("end", mode="before")(until_end)

    @model_validator(mode="after")
    def _window(self) -> AudioLayer:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


AnyLayer = TextLayer | ImageLayer | ShapeLayer | CtaLayer | VideoLayer | AudioLayer
Layer = Annotated[AnyLayer, Field(discriminator="type")]
LAYER_TYPES = ("text", "image", "cta", "shape", "video", "audio")
