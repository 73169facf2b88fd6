"""The scene script: one pydantic model, validated once at the edge.

A scene names a base video under ``assets/``, the customer fields it uses, and
layers drawn over the video in time windows (``pvideo.scene.layers``), plus
sections (conditional, or the branches of a path), captions, chapters, the email
thumbnail and the interactions its landing page asks (``pvideo.scene.interactions``).
Everything is plain data, so a spec travels unchanged in a Dramatiq message or a
database column (``spec.model_dump(mode="json")``).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from pvideo.errors import SceneError
from pvideo.scene.checks import SpecModel, is_identifier
from pvideo.scene.conditions import check_condition
from pvideo.scene.interactions import INTERACTION_TYPES, Interaction, check_interactions
from pvideo.scene.layers import LAYER_TYPES, CtaLayer, Layer
from pvideo.scene.limits import InputLimitError, load_yaml
from pvideo.scene.marks import Marks, did_you_mean, mark_of, yaml_marks
from pvideo.scene.urls import normalize_url


class Section(SpecModel):
    """A named range of the template (seconds): skipped when ``when`` is false for the row, and
    a branch a ``choice`` interaction jumps to (played, then on at ``then``; skipped unchosen)."""

    name: str
    start: float = Field(ge=0, description="first second of the range (ingest cuts a segment there)")
    end: float = Field(gt=0, description="second after the range (ingest cuts a segment there)")
    when: str | None = Field(default=None, description="Jinja2 expression over the row; false: cut from the video")
    then: str | None = Field(
        default=None,
        description="where a chosen branch goes on: a section's name or `end`; left out: after the branches",
    )

    _when = field_validator("when")(check_condition)

    @field_validator("name")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not is_identifier(value):
            raise ValueError("section name must be letters, digits and underscores")
        return value

    @model_validator(mode="after")
    def _window(self) -> Section:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


_TRUE = frozenset({"true", "yes", "1", "y", "on"})
_FALSE = frozenset({"false", "no", "0", "n", "off"})
_EXPECTED = {
    "str": "text",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "date": "a date like 2026-03-31",
    "url": "an http(s) URL",
}


class FieldSpec(SpecModel):
    """A customer field the scene uses: its type, and whether it is required or defaulted.

    ``url`` holds a whole link: spaces and non-ASCII characters are percent-encoded and the
    host IDNA-encoded (``pvideo.scene.urls.normalize_url``), then it must be http(s).
    """

    type: Literal["str", "int", "float", "bool", "date", "url"] = "str"
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
        if self.type == "url":
            if isinstance(value, (dict, list)):
                raise bad()
            try:
                return normalize_url(str(value))
            except ValueError as exc:
                raise ValueError(f"expected {_EXPECTED['url']}, got {str(value)[:200]!r}: {exc}") from None
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


class CaptionLine(SpecModel):
    """A personalized caption: Jinja2 text over the row, shown from ``start`` to ``end`` (template seconds)."""

    start: float = Field(ge=0)
    end: float = Field(gt=0)
    text: str
    when: str | None = Field(default=None, description="Jinja2 expression over the row; false omits the line")

    _when = field_validator("when")(check_condition)

    @model_validator(mode="after")
    def _window(self) -> CaptionLine:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class Captions(SpecModel):
    """The template's own captions (a WebVTT file under assets/) merged with personalized lines."""

    src: str | None = Field(default=None, description="WebVTT file of the template's captions, under assets/")
    lines: list[CaptionLine] = Field(default_factory=list)
    language: str = Field(
        default="en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47 language of the captions"
    )


class ChapterMark(SpecModel):
    """A chapter of the landing-page player, from ``start`` to the next chapter (template seconds)."""

    start: float = Field(ge=0)
    title: str = Field(min_length=1, max_length=200, description="May use Jinja2 over the row")


class Thumbnail(SpecModel):
    """The animated GIF/WebP thumbnail for email: which seconds of the video it loops."""

    start: float | None = Field(default=None, ge=0, description="First second shown (default: poster_at)")
    duration: float = Field(default=3.0, gt=0, le=3.0, description="Seconds shown, at most 3")


class SceneSpec(SpecModel):
    name: str
    video: str = Field(description="Base video: a path under assets/, or an uploaded video's uploads/SHA256/FILE")
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    id_field: str = Field(default="customer_id", description="Field naming the customer")
    poster_at: float = Field(default=1.0, ge=0, description="Second of the poster frame")
    layers: list[Layer] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list, description="Conditional template ranges")
    captions: Captions | None = None
    chapters: list[ChapterMark] = Field(default_factory=list)
    thumbnail: Thumbnail = Field(default_factory=Thumbnail)
    interactions: list[Interaction] = Field(
        default_factory=list, description="What the viewer answers inside the video: polls, forms, paths, ..."
    )

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        for key in value:
            if not is_identifier(key):
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

    @model_validator(mode="after")
    def _interactions_fit(self) -> SceneSpec:
        """Paths name sections, ``then`` goes forward, one pause at a time: each problem at its key."""
        check_interactions(self.interactions, self.sections)
        return self

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parse_scene(data: Any, *, source: str = "<scene>", marks: Marks | None = None) -> SceneSpec:
    """Validate raw scene data; errors name the source, the layer and the field (and, with the
    ``marks`` of the file it came from, the line and column)."""
    try:
        return SceneSpec.model_validate(data)
    except ValidationError as exc:
        raise SceneError(_describe(exc, data, source, marks or {})) from None


def load_scene(path: str | Path, *, source: str | None = None) -> SceneSpec:
    """The scene in a YAML file. Errors name ``source`` (default: the file's name, never the
    folder it is in, so an API answer shows no server path) with the line and column.

    Size, nesting and number length are checked before the YAML is built
    (``pvideo.scene.limits``): a file nested thousands deep or holding a
    5,000-digit number is a ``SceneError``, not a ``RecursionError`` or ``ValueError``.
    """
    path = Path(path)
    where = source or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SceneError(f"{where}: scene file not found") from None
    except UnicodeDecodeError:
        raise SceneError(f"{where}: not UTF-8 text") from None
    return scene_from_text(text, source=where)


def scene_from_text(text: str, *, source: str = "<scene>") -> SceneSpec:
    """The scene in YAML ``text`` (a stored scene version), under the same limits and with the
    same errors as a file: ``source`` names it with the line and column."""
    try:
        data = load_yaml(text, source)
        marks = yaml_marks(text)
    except InputLimitError as exc:
        raise SceneError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise SceneError(f"{source}: not valid YAML: {exc}") from None
    except ValueError as exc:  # a scalar YAML cannot build, e.g. the date 2026-02-30
        raise SceneError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SceneError(f"{source}: a scene must be a mapping with name, video and layers")
    return parse_scene(data, source=source, marks=marks)


def _describe(exc: ValidationError, data: Any, source: str, marks: Marks) -> str:
    """One line per problem, in the order of the file when its marks are known."""
    lines: list[tuple[tuple[int, int], str]] = []
    for err in exc.errors():
        loc = list(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        path = data_path(loc)
        if err["type"] == "union_tag_invalid":
            kind = str(err["input"].get("type"))
            what, types = ("interaction", INTERACTION_TYPES) if loc[:1] == ["interactions"] else ("layer", LAYER_TYPES)
            near = difflib.get_close_matches(kind, types, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            msg = f"unknown {what} type {kind!r}; {hint}expected one of {', '.join(types)}"
            path = [*path, "type"]
        elif err["type"] == "extra_forbidden":
            close = did_you_mean(SceneSpec, loc)
            msg = f"unknown key {loc[-1]!r}" + (f"; did you mean {close!r}?" if close else "")
        elif not loc and (layer := re.match(r"layer (\d+) ", msg)):  # a check across layers (duplicate id)
            path = ["layers", int(layer.group(1)) - 1, "id"]
        mark = mark_of(marks, path)
        at = f"{source}, line {mark[0]}, column {mark[1]}" if mark else source
        text = f"{at}: {msg}" if not loc and msg.startswith("layer ") else f"{at}: {location(loc, data)}: {msg}"
        lines.append((mark or (0, 0), text))
    return "\n".join(text for _, text in sorted(lines, key=lambda line: line[0]))


_TAGGED = frozenset({*(("layers", t) for t in LAYER_TYPES), *(("interactions", t) for t in INTERACTION_TYPES)})
"""(list, type) pairs: pydantic puts a tagged union's type in the loc after the index."""


def data_path(loc: list[Any]) -> list[Any]:
    """pydantic's ``loc`` as a path in the file: without the layer type it puts after a layer's index."""
    if len(loc) >= 3 and isinstance(loc[1], int) and (loc[0], loc[2]) in _TAGGED:
        return [*loc[:2], *loc[3:]]
    return loc


def location(loc: list[Any], data: Any) -> str:
    """A place in the scene as messages name it: ``layer 2 (cta 'buy'), field href``,
    ``interaction 1 (form 'signup'), field fields.0.prefill``, ``section 2 ('billing'), field then``."""
    if len(loc) >= 2 and loc[0] in ("layers", "interactions", "sections") and isinstance(loc[1], int):
        index = loc[1]
        rest = [str(p) for p in loc[2:]]
        if rest and (loc[0], rest[0]) in _TAGGED:
            rest = rest[1:]  # pydantic puts the discriminator tag in the loc
        desc = f"{loc[0].removesuffix('s')} {index + 1}"
        try:
            raw = data[loc[0]][index]
            if loc[0] == "sections":
                desc += f" ({raw['name']!r})"
            else:
                ident = raw.get("id")
                desc += f" ({raw.get('type', '?')}{' ' + repr(ident) if ident else ''})"
        except (KeyError, IndexError, TypeError, AttributeError):
            pass
        return f"{desc}, field {'.'.join(rest)}" if rest else desc
    return f"field {'.'.join(str(p) for p in loc)}" if loc else "scene"
