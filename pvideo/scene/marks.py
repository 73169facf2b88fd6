"""Where each part of a scene file is: line and column for every key and list item.

The scene is read twice from the same text: ``yaml.safe_load`` builds the data,
and the composed node tree (which keeps PyYAML's marks) gives a map from a path
(``("layers", 1, "size")``) to the 1-based line and column of that key or item.
A validation error then points at the line of the mistake, and an unknown key
gets a "did you mean" from the keys its model knows.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel

Path = tuple[str | int, ...]
Marks = dict[Path, tuple[int, int]]


def yaml_marks(text: str) -> Marks:
    """Line and column (1-based) of every mapping key and list item of the YAML ``text``.

    Nodes are walked with a stack (no recursion); an alias is visited once.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    marks: Marks = {}
    if root is None:
        return marks
    stack: list[tuple[Path, yaml.Node]] = [((), root)]
    seen: set[int] = set()
    while stack:
        path, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    child = (*path, str(key.value))
                    marks.setdefault(child, (key.start_mark.line + 1, key.start_mark.column + 1))
                    stack.append((child, value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, index)
                marks.setdefault(child, (item.start_mark.line + 1, item.start_mark.column + 1))
                stack.append((child, item))
    return marks


def mark_of(marks: Marks, path: Sequence[str | int]) -> tuple[int, int] | None:
    """The mark of ``path``, or of its longest prefix the file has (a missing key: its mapping)."""
    parts = tuple(path)
    while parts:
        if parts in marks:
            return marks[parts]
        parts = parts[:-1]
    return None


def did_you_mean(root: type[BaseModel], path: Sequence[str | int]) -> str | None:
    """The known key closest to the unknown last key of ``path`` (``sise`` -> ``size``), if any is close."""
    if not path or not isinstance(path[-1], str):
        return None
    known: set[str] = set()
    for model in _models_at(root, path[:-1]):
        for name, info in model.model_fields.items():
            known.add(info.alias or name)
    matches = difflib.get_close_matches(path[-1], sorted(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _models_at(root: type[BaseModel], path: Sequence[str | int]) -> list[type[BaseModel]]:
    """The models that may hold the keys at ``path`` (a list index or a dict key keeps the models;
    a union of layers is narrowed by its ``type`` tag)."""
    models = [root]
    for step in path:
        if isinstance(step, int):
            continue
        tagged = [m for m in models if _tag(m) == step]
        if tagged:
            models = tagged
            continue
        inner = [
            found
            for m in models
            for name, info in m.model_fields.items()
            if step in (name, info.alias)
            for found in _models_in(info.annotation)
        ]
        if inner:
            models = inner
        elif any(step in (name, info.alias) for m in models for name, info in m.model_fields.items()):
            return []  # a plain value: it has no keys
    return models


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _tag(model: type[BaseModel]) -> str | None:
    info = model.model_fields.get("type")
    args = typing.get_args(info.annotation) if info is not None else ()
    return args[0] if len(args) == 1 and isinstance(args[0], str) else None
