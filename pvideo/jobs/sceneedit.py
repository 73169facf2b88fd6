"""What the studio's scene editor asks of a scene's text: its problems, its outline, its edits.

Problems are the checks ``pvideo validate`` runs on a scene without customer data, on the
same path (``pvideo.jobs.validation``): the loader's limits and model, the files every row
needs (only inside the assets folder, or uploaded), then each layer compiled over a sample
row, which runs its Jinja2 in the sandbox and checks its links. Each problem names its layer
and field and the line of the YAML (``pvideo.scene.problems``).

The outline is what the editor draws: the template's frame, duration and rate, and each
layer's box in pixels as placed on that frame (percents and anchors resolved, by
``pvideo.plan.geometry.place``, as the renderer places them).

Edits come from the editor in the same pixels. A box written in percent or anchored to a
frame point is written back in its own units (a dragged ``x: 10%`` stays a percent), so the
scene keeps fitting the template's other sizes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pvideo.errors import PvideoError
from pvideo.jobs.validation import row_problems, scene_problems
from pvideo.plan.assets import resolve_asset
from pvideo.plan.compiler import compile_plan
from pvideo.plan.geometry import Frame, frame_size, place
from pvideo.plan.uploads import asset_root
from pvideo.render.probe import probe
from pvideo.scene.document import EditError, SceneDocument
from pvideo.scene.layers import AudioLayer, Box, percent_of
from pvideo.scene.marks import Marks
from pvideo.scene.problems import Problem, at_path, message_path, spec_problems
from pvideo.scene.samples import sample_row, with_sample_links
from pvideo.scene.spec import SceneSpec
from pvideo.settings import Settings
from pvideo.storage import Storage

_LAYER_PREFIX = re.compile(r"^(?:.*?: )?layer (\d+) \([^)]*\)(?:, field ([\w.]+))?")
_FIELD_WORDS = ("href", "label", "font", "src", "when", "text", "animate")
OUTLINE_FIELDS = ("text", "color", "background", "font", "size", "href", "label", "when")


@dataclass
class CheckedScene:
    """A scene text's problems; ``spec`` when it loads (it may still have problems past the model)."""

    spec: SceneSpec | None
    problems: list[Problem] = field(default_factory=list)


def check_scene_text(text: str, settings: Settings, storage: Storage | None = None) -> CheckedScene:
    """Every problem ``pvideo validate`` finds in ``text`` without customer data, placed in the text."""
    spec, problems, data, marks = spec_problems(text)
    if spec is None:
        return CheckedScene(None, problems)
    assets = asset_root(settings, storage)  # the bundled folder and the uploads in storage, as validate
    errors = scene_problems(spec, assets)
    if not errors:  # as validate: a missing template or font would repeat on every layer
        sample = sample_row(spec)
        compiler = partial(compile_plan, storage=storage, allow_private_fetch=settings.fetch_allow_private)
        errors = row_problems(with_sample_links(spec, sample), sample, assets, compiler)
    return CheckedScene(spec, [_placed(str(error), spec, data, marks) for error in errors])


def _placed(message: str, spec: SceneSpec, data: Any, marks: Marks) -> Problem:
    """A compile or asset error (which names its layer as ``layer N (type 'id')``) at its layer and field."""
    found = _LAYER_PREFIX.match(message)
    if found is None and (path := message_path(message)) is not None:  # an interaction's or a section's
        return at_path(message, data, marks, path)
    if found is None:
        top = next((key for key in ("captions", "chapters", "sections", "video") if key in message), None)
        return at_path(message, data, marks, [top] if top else [])
    index = int(found.group(1)) - 1
    name = found.group(2)
    if name is None:
        rest = message[found.end() :]
        name = next((word for word in _FIELD_WORDS if re.search(rf"\b{word}\b", rest)), None)
        if name is None and 0 <= index < len(spec.layers):
            name = {"text": "text", "cta": "href", "image": "src", "video": "src"}.get(spec.layers[index].type)
    return at_path(message, data, marks, ["layers", index, *(name.split(".") if name else [])])


@dataclass(frozen=True)
class Template:
    frame: Frame
    duration: float
    fps: float


def template_of(spec: SceneSpec, settings: Settings, storage: Storage | None = None) -> Template | None:
    """The template's frame (as a template version has it), duration and rate; ``None`` when unreadable."""
    try:
        path = resolve_asset(asset_root(settings, storage), spec.video)
        info = probe(path, count_frames=False)
        return Template(frame_size(path), info.duration, float(info.fps))
    except (PvideoError, OSError):
        return None


def outline(spec: SceneSpec, template: Template | None) -> list[dict[str, Any]]:
    """Each layer as the editor draws it: box in placed pixels, window with its open end resolved."""
    frame = template.frame if template else None
    end_of_video = template.duration if template else None
    layers: list[dict[str, Any]] = []
    for index, layer in enumerate(spec.layers):
        item: dict[str, Any] = {"index": index, "id": layer.id, "type": layer.type}
        if isinstance(layer, AudioLayer):
            item.update(x=None, y=None, w=None, h=None)
        else:
            box = place(layer.box, frame) if frame is not None else layer.box
            pixels = [v if isinstance(v, int) else None for v in (box.x, box.y, box.w, box.h)]
            item.update(zip(("x", "y", "w", "h"), pixels, strict=True))
        item["start"] = layer.start
        item["end"] = layer.end if layer.end is not None else end_of_video
        for name in OUTLINE_FIELDS:
            item[name] = getattr(layer, name, None)
        animate = getattr(layer, "animate", None)
        item["animation"] = animate.model_dump(mode="json", by_alias=True, exclude_none=True) if animate else None
        layers.append(item)
    return layers


def apply_edits(text: str, edits: Sequence[Mapping[str, Any]], frame: Frame | None) -> str:
    """``text`` with ``edits`` made in order (``EditError`` naming the edit that cannot be made).

    An edit is ``{"layer": i, "set": {...}}``, ``{"add": {"type": ..., ...}}``, ``{"remove": i}``
    or ``{"move": i, "to": j}``."""
    document = SceneDocument(text)
    for number, edit in enumerate(edits, start=1):
        try:
            _apply(document, edit, frame)
        except EditError as exc:
            raise EditError(f"edit {number}: {exc}", layer=exc.layer, field=exc.field) from None
    return document.text()


def _apply(document: SceneDocument, edit: Mapping[str, Any], frame: Frame | None) -> None:
    if not isinstance(edit, Mapping):
        raise EditError("an edit is an object")
    if "set" in edit:
        values = edit["set"]
        if not isinstance(values, Mapping):
            raise EditError('"set" is an object of fields and values')
        index = edit.get("layer")
        layer = document.layer(index)  # type: ignore[arg-type]
        document.set_fields(index, in_box_units(layer.get("box"), values, frame))  # type: ignore[arg-type]
    elif "add" in edit:
        values = edit["add"]
        if not isinstance(values, Mapping):
            raise EditError('"add" is an object with the new layer\'s type and fields')
        document.add_layer(str(values.get("type")), values)
    elif "remove" in edit:
        document.remove_layer(edit["remove"])
    elif "move" in edit:
        document.move_layer(edit["move"], edit.get("to"))  # type: ignore[arg-type]
    else:
        raise EditError('an edit has "set" (with "layer"), "add", "remove" or "move"')


def in_box_units(raw_box: Any, values: Mapping[str, Any], frame: Frame | None) -> dict[str, Any]:
    """``values`` with pixel x, y, w, h (as placed on ``frame``) in the units of ``raw_box``.

    A box in pixels with no anchor takes them as they are. A percent stays a percent of the
    frame; an anchored box gets margins from its anchor, or loses the anchor (then x and y are
    written from the top-left) when the box was dragged past it."""
    given = {k: values[k] for k in ("x", "y", "w", "h") if isinstance(values.get(k), (int, float))}
    out = dict(values)
    if not given or frame is None or not isinstance(raw_box, Mapping):
        return out
    try:
        box = Box.model_validate(dict(raw_box))
    except ValueError:
        return out
    if not box.relative:
        return out
    placed = place(box, frame)
    target = {k: round(float(given.get(k, getattr(placed, k)))) for k in ("x", "y", "w", "h")}
    anchor = box.anchor or "top-left"
    vertical, _, horizontal = anchor.rpartition("-")
    if anchor == "center":
        vertical = horizontal = "center"
    margins = {
        "x": _margin(horizontal, target["x"], target["w"], frame.width),
        "y": _margin(vertical, target["y"], target["h"], frame.height),
    }
    if any(m < 0 for m in margins.values()):
        out["anchor"], margins = None, {"x": target["x"], "y": target["y"]}
        given = {**given, "x": target["x"], "y": target["y"]}
    for key in given:
        pixels = margins[key] if key in margins else target[key]
        whole = frame.width if key in ("x", "w") else frame.height
        old = getattr(box, key)
        out[key] = f"{round(pixels * 100 / whole, 2):g}%" if percent_of(old) is not None else int(pixels)
    return out


def _margin(side: str, start: int, length: int, whole: int) -> int:
    if side in ("left", "top"):
        return start
    if side in ("right", "bottom"):
        return whole - length - start
    return start - (whole - length) // 2
