"""A scene's YAML text as a document the studio's editor changes, keeping everything else.

The editor changes a layer's box or colour many times a minute, and marketing's files carry
comments, a chosen key order, flow mappings (``box: {x: 40, ...}``) and quoting. Loading with
PyYAML and dumping again would lose all of it, so the text is held as ruamel.yaml's
round-trip tree: an edit changes one node and the rest is written back as it was.

Unchanged, ``text()`` is the original text itself, byte for byte. Changed, the tree is
dumped with the indentation the file uses (found by trying the usual ones until one
reproduces the file exactly) and the file's line ends. Values keep their kind: a number
stays a number, ``null`` removes the key, and a string that YAML would read as something
else (``#ffffff``, ``{{ first_name }}``, ``yes``, ``12``) is double-quoted.

Which fields a layer may be given is the spec's business (``pvideo.scene.layers``): an
edit naming a field its layer type does not have, or a layer that is not there, is an
``EditError`` saying which.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Mapping
from typing import Any

import yaml as pyyaml
from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString, SingleQuotedScalarString

from pvideo.errors import SceneError
from pvideo.scene.layers import CtaLayer, ImageLayer, ShapeLayer, TextLayer, VideoLayer
from pvideo.scene.limits import InputLimitError, check_yaml, text_problem
from pvideo.scene.yamllines import Block, Blocks, carry_over, guess_indent, item_blocks

BOX_FIELDS = ("x", "y", "w", "h", "anchor")
_SPELLED_OUT = {"w": "width", "h": "height"}
ANIMATION = "animation"
"""The editor's name for a layer's ``animate`` mapping (``{"in": {...}, "out": {...}}``)."""
LAYER_MODELS: dict[str, type[BaseModel]] = {
    "text": TextLayer,
    "image": ImageLayer,
    "shape": ShapeLayer,
    "cta": CtaLayer,
    "video": VideoLayer,
}
NEW_LAYERS: dict[str, dict[str, Any]] = {
    "text": {"text": "Hello {{ first_name }}", "size": 48, "color": "#ffffff"},
    "cta": {"label": "Learn more", "href": "https://example.com/", "size": 36},
    "image": {"src": "logo.png", "fit": "contain"},
    "shape": {"shape": "rectangle", "fill": "#ffffff"},
}
"""What a layer added in the editor starts with, besides its id, window and box."""
_INDENTS = ((2, 2, 0), (2, 4, 2), (4, 4, 0), (4, 6, 4), (4, 4, 2), (2, 3, 1), (4, 6, 2))
_QUOTE_WORTHY = re.compile(r"[{}\[\],\"'\\\n\t]|: | #|:$")


class EditError(SceneError):
    """An edit the document cannot take: no such layer, or a field its layer type lacks."""

    def __init__(self, message: str, *, layer: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.layer = layer
        self.field = field


def _yaml(indent: tuple[int, int, int], explicit_start: bool) -> YAML:
    handler = YAML(typ="rt")
    handler.preserve_quotes = True
    handler.width = 4096  # never fold a long line the author wrote on one
    handler.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    handler.explicit_start = explicit_start
    return handler


class SceneDocument:
    """One scene's YAML, loaded for editing. ``text()`` gives it back with the edits made."""

    def __init__(self, text: str) -> None:
        self.original = text
        self._load(text)

    def _load(self, text: str) -> None:
        problem = text_problem(text)
        if problem:
            raise SceneError(f"scene: {problem}")
        try:
            check_yaml(text, "scene", allow_aliases=False)  # depth, aliases, number length: before building
        except InputLimitError as exc:
            raise SceneError(str(exc)) from None
        except pyyaml.YAMLError as exc:
            raise SceneError(f"scene: not valid YAML: {exc}") from None
        self._loaded = text
        self._newline = "\r\n" if "\r\n" in text else "\n"
        self._plain = text.replace("\r\n", "\n")  # edited and compared with \n line ends; written with the file's
        explicit = bool(re.match(r"(?:\s*#[^\n]*\n)*\s*---", self._plain))
        try:
            data = _yaml(_INDENTS[0], explicit).load(self._plain)
        except (RuamelError, ValueError) as exc:
            raise SceneError(f"scene: not valid YAML: {exc}") from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise SceneError("scene: a scene must be a mapping with name, video and layers")
        self.data = data
        self._dirty = False  # the tree was edited since it was loaded from ``_loaded``
        self._dumper, self._as_dumped = self._matching_dumper(explicit)

    def _matching_dumper(self, explicit: bool) -> tuple[YAML, str]:
        """The indentation that writes the unchanged tree back as the file is (else the likeliest),
        and the unchanged tree as it writes it."""
        guess = guess_indent(self._plain)
        for indent in dict.fromkeys((guess, *_INDENTS)):
            dumper = _yaml(indent, explicit)
            if (dumped := self._dump(dumper)) == self._plain:
                self._indent = indent
                return dumper, dumped
        dumper = _yaml(guess, explicit)
        self._indent = guess
        return dumper, self._dump(dumper)

    def _dump(self, dumper: YAML) -> str:
        out = io.StringIO()
        dumper.dump(self.data, out)
        text = out.getvalue()
        if not self._plain.endswith("\n") and text.endswith("\n"):
            text = text[:-1]
        return text

    def text(self) -> str:
        """The document as YAML: the text it was loaded from, byte for byte, while nothing changed.

        Where ruamel.yaml writes even the unchanged tree differently from the file (a comment
        after ``---``, extra spaces after a colon, a flow mapping over two lines), only the
        lines the edits changed are taken from its output; the file's other lines stay."""
        if not self._dirty:
            return self._loaded
        text = carry_over(self._plain, self._as_dumped, self._dump(self._dumper))
        return text.replace("\n", self._newline) if self._newline != "\n" else text

    @property
    def changed(self) -> bool:
        return self.text() != self.original

    # -- layers ---------------------------------------------------------------------------

    @property
    def layers(self) -> CommentedSeq:
        layers = self.data.get("layers")
        if layers is None:
            layers = self.data["layers"] = CommentedSeq()
        if not isinstance(layers, CommentedSeq):
            raise EditError("layers: must be a list to be edited", field="layers")
        return layers

    def layer(self, index: int) -> CommentedMap:
        layers = self.layers
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(layers):
            raise EditError(f"there is no layer {index!r} (the scene has {len(layers)})", layer=None)
        found = layers[index]
        if not isinstance(found, CommentedMap):
            raise EditError(f"layer {index + 1}: not a mapping", layer=index)
        return found

    def set_fields(self, index: int, values: Mapping[str, Any]) -> None:
        """Set fields of layer ``index`` (box fields x, y, w, h, anchor go into its ``box``;
        ``animation`` is its ``animate``); ``None`` removes a field."""
        layer = self.layer(index)
        model = LAYER_MODELS.get(str(layer.get("type")))
        for name, value in values.items():
            _check_field(model, index, name, value)
            if name in BOX_FIELDS:
                box = layer.get("box")
                if not isinstance(box, CommentedMap):
                    box = layer["box"] = _flow(CommentedMap())
                key = _SPELLED_OUT[name] if name in _SPELLED_OUT and _SPELLED_OUT[name] in box else name
                _put(box, key, value)
            else:
                _put(layer, "animate" if name == ANIMATION else name, value)
        self._dirty = True

    def add_layer(self, kind: str, values: Mapping[str, Any]) -> int:
        """Append a layer of type ``kind`` with sane defaults and ``values``; its index."""
        if kind not in NEW_LAYERS:
            raise EditError(f"cannot add a layer of type {kind!r}: one of {', '.join(NEW_LAYERS)}", field="type")
        layers = self.layers
        taken = {str(item.get("id")) for item in layers if isinstance(item, Mapping)}
        number = len(layers) + 1
        while f"{kind}_{number}" in taken:
            number += 1
        fresh = CommentedMap([("type", kind), ("id", f"{kind}_{number}"), ("start", 0), ("end", 3)])
        fresh["box"] = _flow(CommentedMap([("x", 40), ("y", 40), ("w", 400), ("h", 100)]))
        for name, value in NEW_LAYERS[kind].items():
            fresh[name] = _value(value, None)
        blocks = self._blocks()
        if blocks is None:
            layers.append(fresh)
            self._dirty = True
        else:
            out = io.StringIO()
            _yaml(self._indent, False).dump(CommentedMap([("layers", CommentedSeq([fresh]))]), out)
            blocks.items.append(Block([], out.getvalue().splitlines(keepends=True)[1:]))
            self._reload(blocks)
        try:
            self.set_fields(len(self.layers) - 1, {k: v for k, v in values.items() if k != "type"})
        except EditError:
            self.remove_layer(len(self.layers) - 1)
            raise
        return len(self.layers) - 1

    def remove_layer(self, index: int) -> None:
        self.layer(index)
        blocks = self._blocks()
        if blocks is None:
            del self.layers[index]
            self._dirty = True
            return
        del blocks.items[index]
        self._reload(blocks)

    def move_layer(self, index: int, to: int) -> None:
        """Put layer ``index`` at position ``to`` (later layers are drawn on top); its comments go with it."""
        self.layer(index)
        if isinstance(to, bool) or not isinstance(to, int) or not 0 <= to < len(self.layers):
            raise EditError(f"cannot move a layer to position {to!r}", layer=index)
        blocks = self._blocks()
        if blocks is None:
            self.layers.insert(to, self.layers.pop(index))
            self._dirty = True
            return
        blocks.items.insert(to, blocks.items.pop(index))
        self._reload(blocks)

    def _blocks(self) -> Blocks | None:
        """The text of the layers list cut into one block per layer (``None``: a flow-style or empty list)."""
        if self._dirty:
            self._load(self.text())  # line numbers are the loaded text's
        layers = self.data.get("layers")
        if not isinstance(layers, CommentedSeq) or not layers or layers.fa.flow_style():
            return None
        return item_blocks(self._plain, [layers.lc.item(i)[0] for i in range(len(layers))])

    def _reload(self, blocks: Blocks) -> None:
        """Load the text ``blocks`` make (the layers' lines moved as they are, comments with them)."""
        self._load("".join(blocks.text()))


def _check_field(model: type[BaseModel] | None, index: int, name: str, value: Any) -> None:
    if model is None:
        raise EditError(
            f"layer {index + 1}: only text, image, shape, cta and video layers are edited here", layer=index
        )
    if name == "type":
        raise EditError(f"layer {index + 1}: the type of a layer cannot change; add a new one", layer=index, field=name)
    known = name in BOX_FIELDS or name == ANIMATION or name in model.model_fields
    if not known or name == "box":
        kind = model.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
        raise EditError(f"layer {index + 1}: a {kind} layer has no field {name!r}", layer=index, field=name)
    if isinstance(value, (list, dict)) and name not in (ANIMATION, "animate", "stroke", "shadow", "border"):
        raise EditError(f"layer {index + 1}, field {name}: expected a single value", layer=index, field=name)


def _put(mapping: CommentedMap, key: str, value: Any) -> None:
    if value is None:
        if key in mapping:
            _hand_on_comment(mapping, key, _previous_key(mapping, key))
            del mapping[key]
        return
    if key not in mapping and mapping:
        last = list(mapping)[-1]
        mapping[key] = _value(value, None)
        _hand_on_comment(mapping, last, key)
    else:
        mapping[key] = _value(value, mapping.get(key))


def _tail(mapping: CommentedMap, key: str) -> tuple[CommentedMap, str]:
    """Where the comment after ``key``'s value is kept: on the last key of a block mapping it holds."""
    value = mapping[key]
    while isinstance(value, CommentedMap) and value and not value.fa.flow_style():
        mapping, key = value, list(value)[-1]
        value = mapping[key]
    return mapping, key


def _previous_key(mapping: CommentedMap, key: str) -> str | None:
    keys = list(mapping)
    at = keys.index(key)
    return keys[at - 1] if at > 0 else None


def _hand_on_comment(mapping: CommentedMap, source: str, target: str | None) -> None:
    """Move what follows ``source``'s line (blank lines, comments above the next key) to ``target``:
    the key now last keeps the gap before whatever comes after the mapping. A comment on
    ``source``'s own line stays with it."""
    if target is None:
        return
    holder, source = _tail(mapping, source)
    tokens = holder.ca.items.get(source)
    if not tokens or len(tokens) < 3 or tokens[2] is None:
        return
    token = tokens[2]
    own, newline, rest = token.value.partition("\n")
    if not newline or not rest:
        return
    if own.strip():
        token.value = own + newline
        moved = copy.copy(token)
        moved.value = "\n" + rest
    else:
        tokens[2] = None
        moved = token
    mapping.ca.items.setdefault(target, [None, None, None, None])
    mapping.ca.items[target][2] = moved


def _value(value: Any, old: Any) -> Any:
    """``value`` as a YAML node that keeps ``old``'s quoting, numbers as numbers."""
    if isinstance(value, str):
        return _string(value, old)
    if isinstance(value, float) and value.is_integer() and isinstance(old, int) and not isinstance(old, bool):
        return int(value)
    if isinstance(value, dict):
        return _flow(CommentedMap((str(k), _value(v, None)) for k, v in value.items() if v is not None))
    if isinstance(value, list):
        return [_value(v, None) for v in value]
    return value


def _string(value: str, old: Any) -> str:
    if isinstance(old, (DoubleQuotedScalarString, SingleQuotedScalarString)) and (
        "\n" not in value or isinstance(old, DoubleQuotedScalarString)
    ):
        return type(old)(value)
    if isinstance(old, LiteralScalarString):
        return LiteralScalarString(value)
    return DoubleQuotedScalarString(value) if _needs_quotes(value) else value


def _needs_quotes(value: str) -> bool:
    """Whether plain YAML would read ``value`` as something else (or not at all)."""
    if not value or value != value.strip() or _QUOTE_WORTHY.search(value) or value[0] in "-?:#&*!|>%@`":
        return True
    try:
        return bool(pyyaml.safe_load(value) != value)
    except pyyaml.YAMLError:
        return True


def _flow(mapping: CommentedMap) -> CommentedMap:
    mapping.fa.set_flow_style()
    return mapping
