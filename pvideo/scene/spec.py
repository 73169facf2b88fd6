"""The scene script: one pydantic model, validated once at the edge.

A scene names a base video under ``assets/``, the customer fields it uses, and
layers drawn over the video in time windows. Layers are a union told apart by
``type``. Everything is plain data, so a spec travels unchanged in a Dramatiq
message or a database column (``spec.model_dump(mode="json")``).
"""

from __future__ import annotations

import datetime as _dt
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pvideo.errors import SceneError
from pvideo.scene.filters import FILTERS

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Box(_Model):
    """A rectangle in video pixels; (x, y) is the top-left corner."""

    x: int = Field(ge=0)
    y: int = Field(ge=0)
    w: int = Field(gt=0)
    h: int = Field(gt=0)


def _check_color(value: str | None) -> str | None:
    if value is not None and not _COLOR.match(value):
        raise ValueError(f"{value!r} is not a color; use #RRGGBB or #RRGGBBAA")
    return value


@lru_cache(maxsize=1)
def _syntax_environment() -> jinja2.Environment:
    env = jinja2.Environment()
    env.filters.update(FILTERS)
    return env


def _check_condition(value: str | None) -> str | None:
    """A ``when`` must be one Jinja2 expression (no ``{{ }}``), checked when the scene loads."""
    if value is None:
        return value
    if not value.strip():
        raise ValueError("when must be an expression such as \"plan == 'Pro'\"")
    try:
        _syntax_environment().compile_expression(value)
    except jinja2.TemplateError as exc:
        raise ValueError(f"when {value!r} is not a valid Jinja2 expression: {exc}") from None
    return value


class Stroke(_Model):
    """An outline ``width`` pixels wide around text glyphs or a shape."""

    width: int = Field(default=2, ge=0, le=50)
    color: str = "#000000"

    _colors = field_validator("color")(_check_color)


class Shadow(_Model):
    """A hard drop shadow: the text drawn again ``(dx, dy)`` pixels away in ``color``."""

    dx: int = Field(default=2, ge=-50, le=50)
    dy: int = Field(default=2, ge=-50, le=50)
    color: str = "#00000099"

    _colors = field_validator("color")(_check_color)


class Motion(_Model):
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


class Animate(_Model):
    """``in`` and ``out`` motions (YAML keys; ``in`` is a Python keyword, hence the aliases)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    enter: Motion | None = Field(default=None, alias="in")
    exit: Motion | None = Field(default=None, alias="out")


class _TimedLayer(_Model):
    id: str | None = None
    start: float = Field(ge=0)
    end: float = Field(gt=0)
    box: Box
    when: str | None = Field(default=None, description="Jinja2 expression over the row; false omits the layer")
    animate: Animate | None = None

    _when = field_validator("when")(_check_condition)

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

    _colors = field_validator("color", "background")(_check_color)

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

    _colors = field_validator("fill")(_check_color)


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

    _colors = field_validator("color", "background")(_check_color)

    @field_validator("id")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not _IDENT.match(value):
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


class AudioLayer(_Model):
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

    _when = field_validator("when")(_check_condition)

    @model_validator(mode="after")
    def _window(self) -> AudioLayer:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class Section(_Model):
    """A conditional range of the template (seconds): skipped when ``when`` is false for the row."""

    name: str
    start: float = Field(ge=0, description="first second of the range (ingest cuts a segment there)")
    end: float = Field(gt=0, description="second after the range (ingest cuts a segment there)")
    when: str

    _when = field_validator("when")(_check_condition)

    @field_validator("name")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError("section name must be letters, digits and underscores")
        return value

    @model_validator(mode="after")
    def _window(self) -> Section:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


Layer = Annotated[TextLayer | ImageLayer | ShapeLayer | CtaLayer | VideoLayer | AudioLayer, Field(discriminator="type")]
LAYER_TYPES = ("text", "image", "cta", "shape", "video", "audio")


_TRUE = frozenset({"true", "yes", "1", "y", "on"})
_FALSE = frozenset({"false", "no", "0", "n", "off"})
_EXPECTED = {
    "str": "text",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "date": "a date like 2026-03-31",
}


class FieldSpec(_Model):
    """A customer field the scene uses: its type, and whether it is required or defaulted."""

    type: Literal["str", "int", "float", "bool", "date"] = "str"
    required: bool = True
    default: Any = None

    @model_validator(mode="after")
    def _default_means_optional(self) -> FieldSpec:
        if self.default is not None:
            try:
                object.__setattr__(self, "default", self.parse(self.default))
            except ValueError as exc:
                raise ValueError(f"default {exc}") from None
            object.__setattr__(self, "required", False)
        return self

    def parse(self, value: Any) -> Any:
        """``value`` (often CSV text) as this field's type; ``ValueError`` saying what was expected."""

        def bad() -> ValueError:
            return ValueError(f"expected {_EXPECTED[self.type]}, got {value!r}")

        if self.type == "str":
            if isinstance(value, (dict, list)):
                raise bad()
            return str(value)
        if self.type == "date":  # kept as ISO text: JSON-safe, sorts and compares as a date
            text = str(value).strip()
            try:
                return _dt.date.fromisoformat(text).isoformat()
            except ValueError:
                pass
            try:
                return _dt.datetime.fromisoformat(text).date().isoformat()
            except ValueError:
                raise bad() from None
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise bad()
        if isinstance(value, (bool, dict, list)):
            raise bad()
        try:
            number = float(str(value).strip()) if self.type == "float" else int(str(value).strip())
        except ValueError:
            raise bad() from None
        if number != number or number in (float("inf"), float("-inf")):
            raise bad()
        return number


class CaptionLine(_Model):
    """A personalized caption: Jinja2 text over the row, shown from ``start`` to ``end`` (template seconds)."""

    start: float = Field(ge=0)
    end: float = Field(gt=0)
    text: str
    when: str | None = Field(default=None, description="Jinja2 expression over the row; false omits the line")

    _when = field_validator("when")(_check_condition)

    @model_validator(mode="after")
    def _window(self) -> CaptionLine:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class Captions(_Model):
    """The template's own captions (a WebVTT file under assets/) merged with personalized lines."""

    src: str | None = Field(default=None, description="WebVTT file of the template's captions, under assets/")
    lines: list[CaptionLine] = Field(default_factory=list)
    language: str = Field(
        default="en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47 language of the captions"
    )


class ChapterMark(_Model):
    """A chapter of the landing-page player, from ``start`` to the next chapter (template seconds)."""

    start: float = Field(ge=0)
    title: str = Field(min_length=1, max_length=200, description="May use Jinja2 over the row")


class Thumbnail(_Model):
    """The animated GIF/WebP thumbnail for email: which seconds of the video it loops."""

    start: float | None = Field(default=None, ge=0, description="First second shown (default: poster_at)")
    duration: float = Field(default=3.0, gt=0, le=3.0, description="Seconds shown, at most 3")


class SceneSpec(_Model):
    name: str
    video: str = Field(description="Base video, a path relative to assets/")
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    id_field: str = Field(default="customer_id", description="Field naming the customer")
    poster_at: float = Field(default=1.0, ge=0, description="Second of the poster frame")
    layers: list[Layer] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list, description="Conditional template ranges")
    captions: Captions | None = None
    chapters: list[ChapterMark] = Field(default_factory=list)
    thumbnail: Thumbnail = Field(default_factory=Thumbnail)

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for key in value:
            if not _IDENT.match(key):
                raise ValueError(f"field name {key!r} must be letters, digits and underscores")
        return value

    @model_validator(mode="after")
    def _unique_cta_ids(self) -> SceneSpec:
        seen: dict[str, int] = {}
        for number, layer in enumerate(self.layers, start=1):
            if isinstance(layer, CtaLayer):
                if layer.id in seen:
                    raise ValueError(
                        f"layer {number} (cta {layer.id!r}), field id: duplicate CTA id {layer.id!r}, "
                        f"already used by layer {seen[layer.id]}"
                    )
                seen[layer.id] = number
        return self

    @field_validator("chapters")
    @classmethod
    def _chapters_in_order(cls, value: list[ChapterMark]) -> list[ChapterMark]:
        starts = [c.start for c in value]
        if starts != sorted(set(starts)):
            raise ValueError("chapters must be listed in order of start, each start once")
        return value

    @field_validator("sections")
    @classmethod
    def _sections_apart(cls, value: list[Section]) -> list[Section]:
        names: set[str] = set()
        ordered = sorted(value, key=lambda s: s.start)
        for section in value:
            if section.name in names:
                raise ValueError(f"section {section.name!r} is named twice")
            names.add(section.name)
        for before, after in zip(ordered, ordered[1:]):
            if after.start < before.end:
                raise ValueError(f"sections {before.name!r} and {after.name!r} overlap")
        return value

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parse_scene(data: Any, *, source: str = "<scene>") -> SceneSpec:
    """Validate raw scene data; errors name the source, the layer and the field."""
    try:
        return SceneSpec.model_validate(data)
    except ValidationError as exc:
        raise SceneError(_describe(exc, data, source)) from None


def load_scene(path: str | Path) -> SceneSpec:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SceneError(f"{path}: scene file not found") from None
    except yaml.YAMLError as exc:
        raise SceneError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SceneError(f"{path}: a scene must be a mapping with name, video and layers")
    return parse_scene(data, source=str(path))


def _describe(exc: ValidationError, data: Any, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "union_tag_invalid":
            msg = f"unknown layer type {err['input'].get('type')!r}; expected one of {', '.join(LAYER_TYPES)}"
        lines.append(
            f"{source}: {msg}" if not loc and msg.startswith("layer ") else f"{source}: {_location(loc, data)}: {msg}"
        )
    return "\n".join(lines)


def _location(loc: list[Any], data: Any) -> str:
    """Turn pydantic's loc into 'layer 2 (cta 'buy'), field href'."""
    if len(loc) >= 2 and loc[0] == "layers" and isinstance(loc[1], int):
        index = loc[1]
        rest = [str(p) for p in loc[2:]]
        if rest and rest[0] in LAYER_TYPES:
            rest = rest[1:]  # pydantic puts the discriminator tag in the loc
        layer_desc = f"layer {index + 1}"
        try:
            raw = data["layers"][index]
            kind = raw.get("type", "?")
            ident = raw.get("id")
            layer_desc += f" ({kind}{' ' + repr(ident) if ident else ''})"
        except (KeyError, IndexError, TypeError, AttributeError):
            pass
        return f"{layer_desc}, field {'.'.join(rest)}" if rest else layer_desc
    return f"field {'.'.join(str(p) for p in loc)}" if loc else "scene"
