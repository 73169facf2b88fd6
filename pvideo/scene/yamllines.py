"""A YAML file's own lines: its indentation, its list items as blocks of lines, and edits made
to it line by line.

ruamel.yaml writes a tree back with one indentation and its own spacing. These helpers keep
the author's: the indentation is guessed from the text, a list item moves or goes with
exactly its lines (and the comments above it), and a rewritten copy's changes are carried
back to the original lines (``carry_over``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import yaml


@dataclass
class Block:
    """One layer's lines, with the comment lines written just above it."""

    leading: list[str]
    lines: list[str]


@dataclass
class Blocks:
    head: list[str]
    items: list[Block]
    separators: list[list[str]]
    """The blank lines between layers, by position: they stay where they are when layers move."""
    tail: list[str]

    def text(self) -> list[str]:
        out = list(self.head)
        for position, block in enumerate(self.items):
            if position:
                gaps = self.separators
                out += gaps[min(position - 1, len(gaps) - 1)] if gaps else []
            out += block.leading + block.lines
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        return out + self.tail


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def item_blocks(text: str, starts: list[int]) -> Blocks:
    """The lines of a block-style list whose items start on lines ``starts`` (0-based), cut
    into one block per item: blank lines between items are separators, comment lines after
    the last blank line lead the next item."""
    lines = text.splitlines(keepends=True)
    dash = _indent(lines[starts[0]])
    end = starts[-1] + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > dash):
        end += 1
    bounds = [*starts, end]
    items: list[Block] = []
    separators: list[list[str]] = []
    leading: list[str] = []
    for first, after in zip(bounds, bounds[1:]):
        chunk = lines[first:after]
        cut = len(chunk)
        while cut > 1 and (not chunk[cut - 1].strip() or chunk[cut - 1].lstrip().startswith("#")):
            cut -= 1
        tail = chunk[cut:]
        blank = max((i + 1 for i, line in enumerate(tail) if not line.strip()), default=0)
        items.append(Block(leading, chunk[:cut]))
        separators.append(tail[:blank])
        leading = tail[blank:]
    last = separators.pop()
    return Blocks(lines[: starts[0]], items, separators, [*last, *leading, *lines[end:]])


def guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) as the first nested key and list item of ``text`` show them."""
    mapping = 2
    if found := re.search(r"^[A-Za-z_][^\n]*:\s*\n(?:\s*#[^\n]*\n|\s*\n)*( +)[A-Za-z_\"']", text, re.M):
        mapping = len(found.group(1))
    top_level_list = r"^[A-Za-z_][^\n]*:[ \t]*\n(?:[ \t]*(?:#[^\n]*)?\n)*( *)-( +)\S"
    if found := re.search(top_level_list, text, re.M) or re.search(r"^( *)-( +)\S", text, re.M):
        offset = len(found.group(1))
        return (mapping, offset + 1 + len(found.group(2)), offset)
    return (mapping, mapping, 0)


def carry_over(original: str, before: str, after: str) -> str:
    """The changes from ``before`` to ``after`` made to ``original``, of which ``before`` is a
    rewritten copy: each changed run of lines replaces the lines of ``original`` it stands for,
    found through the lines the two have in common. Checked: when the result does not read as
    the same YAML as ``after``, ``after`` itself."""
    if before == original:
        return after
    old, was, new = (t.splitlines(keepends=True) for t in (original, before, after))
    same: dict[int, int] = {}  # line of ``before`` -> the same line of ``original``
    for tag, i1, i2, j1, _ in difflib.SequenceMatcher(None, was, old, autojunk=False).get_opcodes():
        if tag == "equal":
            same.update((i1 + k, j1 + k) for k in range(i2 - i1))

    def start(line: int) -> int:
        if line in same:
            return same[line]
        earlier = [same[k] for k in range(line - 1, -1, -1) if k in same][:1]
        return earlier[0] + 1 if earlier else 0

    def stop(line: int) -> int:
        later = [same[k] for k in range(line, len(was)) if k in same][:1]
        return later[0] if later else len(old)

    out: list[str] = []
    done = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, was, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        first = start(i1)
        end = same[i2 - 1] + 1 if i2 > i1 and i2 - 1 in same else stop(i2)
        if first < done:
            return after
        out += old[done:first] + new[j1:j2]
        done = end
    out += old[done:]
    merged = "".join(out)
    if merged and not merged.endswith("\n") and original.endswith("\n"):
        merged += "\n"
    try:
        return merged if yaml.safe_load(merged) == yaml.safe_load(after) else after
    except yaml.YAMLError:
        return after
