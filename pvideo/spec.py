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
from typing import Annotated, Any, Literal, Union

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pvideo.errors import SceneError
from pvideo.filters import FILTERS

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


class _TimedLayer(_Model):
    id: str | None = None
    start: float = Field(ge=0)
    end: float = Field(gt=0)
    box: Box
    when: str | None = Field(default=None, description="Jinja2 expression over the row; false omits the layer")

    _when = field_validator("when")(_check_condition)

    @model_validator(mode="after")
    def _window(self) -> "_TimedLayer":
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
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
    """A picture from ``assets/``, fitted inside its box (aspect ratio kept)."""

    type: Literal["image"]
    src: str


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

    _colors = field_validator("color", "background")(_check_color)

    @field_validator("id")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not _IDENT.match(value):
            raise ValueError("CTA id must be letters, digits and underscores")
        return value


Layer = Annotated[Union[TextLayer, ImageLayer, ShapeLayer, CtaLayer], Field(discriminator="type")]
LAYER_TYPES = ("text", "image", "cta", "shape")


_TRUE = frozenset({"true", "yes", "1", "y", "on"})
_FALSE = frozenset({"false", "no", "0", "n", "off"})
_EXPECTED = {"str": "text", "int": "an integer", "float": "a number", "bool": "true or false",
             "date": "a date like 2026-03-31"}


class FieldSpec(_Model):
    """A customer field the scene uses: its type, and whether it is required or defaulted."""

    type: Literal["str", "int", "float", "bool", "date"] = "str"
    required: bool = True
    default: Any = None

    @model_validator(mode="after")
    def _default_means_optional(self) -> "FieldSpec":
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


class SceneSpec(_Model):
    name: str
    video: str = Field(description="Base video, a path relative to assets/")
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    id_field: str = Field(default="customer_id", description="Field naming the customer")
    poster_at: float = Field(default=1.0, ge=0, description="Second of the poster frame")
    layers: list[Layer] = Field(default_factory=list)

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for key in value:
            if not _IDENT.match(key):
                raise ValueError(f"field name {key!r} must be letters, digits and underscores")
        return value

    @model_validator(mode="after")
    def _unique_cta_ids(self) -> "SceneSpec":
        seen: dict[str, int] = {}
        for number, layer in enumerate(self.layers, start=1):
            if isinstance(layer, CtaLayer):
                if layer.id in seen:
                    raise ValueError(f"layer {number} (cta {layer.id!r}), field id: duplicate CTA id {layer.id!r}, "
                                     f"already used by layer {seen[layer.id]}")
                seen[layer.id] = number
        return self

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
        lines.append(f"{source}: {msg}" if not loc and msg.startswith("layer ")
                     else f"{source}: {_location(loc, data)}: {msg}")
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
