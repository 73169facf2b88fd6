"""What is wrong with a scene's text, as items an editor can point at: layer, field, line, column.

``pvideo validate`` and the loader (``pvideo.scene.spec.scene_from_text``) report problems as
lines of text for a person reading a terminal. The studio's editor needs the same problems as
data, to underline the line and select the layer. So the text goes through the same steps as
the loader: the same limits (``load_yaml``), the same model (``SceneSpec``); only the
reporting differs. Positions come from the text's node marks (``pvideo.scene.marks``): a
pydantic location such as ``layers.2.text.box.x`` becomes the path ``layers/2/box/x`` and the
line of that key, or of the nearest key above it that the text has. Checks past the model
(the template's length, a row's labels) name what they are about in their message
(``interaction 2 (choice 'topic'), field options.0.section``): ``message_path`` reads it back.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from pvideo.scene.interactions import INTERACTION_TYPES
from pvideo.scene.layers import LAYER_TYPES
from pvideo.scene.limits import InputLimitError, load_yaml, text_problem
from pvideo.scene.marks import Marks, did_you_mean, mark_of, yaml_marks
from pvideo.scene.spec import SceneSpec, data_path, location

_CROSS_LAYER = re.compile(r"^layer (\d+) ")
_NAMED = re.compile(r"\b(interaction|section) (\d+) \([^)]*\)(?:, field ([\w.]+))?")


@dataclass(frozen=True)
class Problem:
    """One problem: ``layer`` is 0-based (``None``: not a layer's), ``field`` a dotted path in it
    (or in the scene), ``line``/``column`` 1-based in the YAML text."""

    message: str
    layer: int | None = None
    layer_id: str | None = None
    field: str | None = None
    line: int | None = None
    column: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def at_path(message: str, data: Any, marks: Marks, path: list[str | int]) -> Problem:
    """A problem about ``path`` of the scene ``data`` (``["layers", 2, "box", "x"]``), placed by ``marks``.

    A layer's problem names its layer in ``layer``; an interaction's or a section's names it in
    the message (``interaction 2 (choice 'topic'), field options.0.section: ...``)."""
    layer: int | None = None
    layer_id: str | None = None
    field_path = path
    if len(path) >= 2 and path[0] == "layers" and isinstance(path[1], int):
        layer, field_path = path[1], path[2:]
        layer_id = _layer_id(data, layer)
    elif len(path) >= 2 and path[0] in ("interactions", "sections") and not _NAMED.match(message):
        message = f"{location(list(path), data)}: {message}"
    mark = mark_of(marks, _spelled(marks, path))
    return Problem(
        message=message,
        layer=layer,
        layer_id=layer_id,
        field=".".join(str(p) for p in field_path) or None,
        line=mark[0] if mark else None,
        column=mark[1] if mark else None,
    )


def message_path(message: str) -> list[str | int] | None:
    """The scene path a check's message names (``interaction 2 (nps 'score'), field start`` ->
    ``["interactions", 1, "start"]``; a section's likewise), for placing it; ``None`` if none."""
    found = _NAMED.search(message)
    if found is None:
        return None
    field = [int(p) if p.isdigit() else p for p in (found.group(3) or "").split(".") if p]
    return [f"{found.group(1)}s", int(found.group(2)) - 1, *field]


def spec_problems(text: str) -> tuple[SceneSpec | None, list[Problem], Any, Marks]:
    """The scene in ``text`` (``None`` when it does not load), every problem the loader finds, and
    the raw data and marks the problems were placed with (for later checks to place theirs)."""
    problem = text_problem(text)
    if problem:
        return None, [Problem(problem)], None, {}
    try:
        data = load_yaml(text, "scene")
        marks = yaml_marks(text)
    except InputLimitError as exc:
        return None, [Problem(str(exc))], None, {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = (mark.line + 1, mark.column + 1) if mark else (None, None)
        message = f"not valid YAML: {exc.problem or exc.context or exc}"
        return None, [Problem(message, line=where[0], column=where[1])], None, {}
    except (yaml.YAMLError, ValueError) as exc:
        return None, [Problem(f"not valid YAML: {exc}")], None, {}
    if not isinstance(data, dict):
        return None, [Problem("a scene must be a mapping with name, video and layers", line=1, column=1)], data, marks
    try:
        return SceneSpec.model_validate(data), [], data, marks
    except ValidationError as exc:
        found = [_problem(error, data, marks) for error in exc.errors()]
        found.sort(key=lambda p: (p.line or 0, p.column or 0))
        return None, found, data, marks


def _problem(error: Any, data: Any, marks: Marks) -> Problem:
    loc = list(error["loc"])
    path: list[str | int] = [p if isinstance(p, int) else str(p) for p in data_path(loc)]
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid":
        kind = str(error["input"].get("type"))
        what, types = ("interaction", INTERACTION_TYPES) if loc[:1] == ["interactions"] else ("layer", LAYER_TYPES)
        near = difflib.get_close_matches(kind, types, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        message = f"unknown {what} type {kind!r}; {hint}expected one of {', '.join(types)}"
        path = [*path, "type"]
    elif error["type"] == "extra_forbidden":
        close = did_you_mean(SceneSpec, loc)
        message = f"unknown key {loc[-1]!r}" + (f"; did you mean {close!r}?" if close else "")
    elif not loc and (layer := _CROSS_LAYER.match(message)):  # a check across layers (a duplicate id)
        path = ["layers", int(layer.group(1)) - 1, "id"]
    return at_path(message, data, marks, path)


def _spelled(marks: Marks, path: list[str | int]) -> list[str | int]:
    """``box.w`` is ``box.width`` in a file that spells it out."""
    if len(path) >= 2 and path[-2] == "box" and path[-1] in ("w", "h") and tuple(path) not in marks:
        return [*path[:-1], "width" if path[-1] == "w" else "height"]
    return path


def _layer_id(data: Any, index: int) -> str | None:
    try:
        ident = data["layers"][index].get("id")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return str(ident) if ident is not None else None
