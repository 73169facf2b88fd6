"""Limits on untrusted JSON and YAML, checked before the text is parsed.

Parsers recurse: a document nested 30,000 deep costs seconds of CPU and ends in
``RecursionError``, and an integer of 5,000 digits trips Python's int-string
limit (``ValueError``) wherever it is converted, parsed or serialized. So the
nesting depth and the length of numbers are measured on the raw text first, by
scanners that do not recurse: ``JsonScanner`` (fed chunk by chunk, so an HTTP
body can be checked as it streams in) and ``check_yaml`` (on the YAML event
stream, which PyYAML produces without recursion).

After parsing, ``check_text`` walks the value for what PostgreSQL refuses and
JSON cannot carry: NUL characters, lone surrogates, infinite numbers. Every
refusal is an ``InputLimitError`` (permanent: the API answers 422) whose message
names the input and the place in it, never the value itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import yaml

from pvideo.errors import PermanentError

MAX_DEPTH = 64  # levels of lists and objects; a scene needs about 6, metadata a handful
MAX_NUMBER_DIGITS = 100  # digits in one number; Python refuses to convert more than 4,300
MAX_SCENE_CHARS = 1_000_000  # a scene file: hand-written, a few KB

_SPECIAL_STRING = re.compile(rb'[\\"]')  # what ends a run of string text
_CLOSED_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as int8: +1 opens a level, -1 closes one
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_DIGITS = b"0123456789"
_ZERO_FOR_DIGIT = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))  # digits -> "0", the rest -> " "
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUMBER_LIKE = re.compile(r"[-+]?[0-9._:eE+-]+")  # what YAML may read as an int or a float


class InputLimitError(PermanentError):
    """Input over a nesting, size or text limit. The message names the input and the place."""


class JsonScanner:
    """Nesting depth and number length of JSON text, fed in chunks of any size.

    Strings are skipped (a bracket inside one is text), so the depth is exact
    for well-formed JSON; malformed JSON is left for the parser to report.
    The work per chunk is a few C-level passes, whatever its content.
    """

    def __init__(self, what: str, *, max_depth: int = MAX_DEPTH, max_digits: int = MAX_NUMBER_DIGITS) -> None:
        self.what, self.max_depth, self.max_digits = what, max_depth, max_digits
        self.depth = 0
        self._in_string = False
        self._escaped = False  # the previous chunk ended inside a string, on a backslash
        self._digits = 0  # length of the run of digits the previous chunk ended with
        self._long_number = b"0" * (max_digits + 1)

    def feed(self, chunk: bytes) -> None:
        if self._in_string:
            chunk = chunk[self._string_end(chunk) :]
            if self._in_string:
                return
        outside = _CLOSED_STRING.sub(b" ", chunk)
        cut = outside.find(b'"')  # a string the chunk ends inside: it runs to the end
        if cut >= 0:
            tail = outside[cut + 1 :]
            self._in_string, self._escaped = True, (len(tail) - len(tail.rstrip(b"\\"))) % 2 == 1
            outside = outside[:cut]
        self._structure(outside)
        if self._in_string:
            self._digits = 0

    def _string_end(self, chunk: bytes) -> int:
        """Where the string that the chunk starts inside ends (or the chunk's length)."""
        pos = 1 if self._escaped else 0
        self._escaped = False
        while (match := _SPECIAL_STRING.search(chunk, pos)) is not None:
            if match.group() == b'"':
                self._in_string = False
                return match.end()
            if match.end() == len(chunk):
                self._escaped = True
                break
            pos = match.end() + 1  # past the escaped character, whatever it is
        return len(chunk)

    def _structure(self, text: bytes) -> None:
        """Brackets and numbers of text outside strings."""
        brackets = text.translate(None, _NOT_BRACKET)
        if brackets:
            opened = len(brackets) - len(brackets.translate(None, b"[{"))
            if self.depth + opened > self.max_depth:  # only then is the order worth walking
                steps = np.frombuffer(brackets.translate(_STEP), dtype=np.int8)
                if self.depth + int(np.cumsum(steps, dtype=np.int64).max()) > self.max_depth:
                    raise InputLimitError(f"{self.what}: nested deeper than {self.max_depth} levels")
            self.depth += 2 * opened - len(brackets)
        run = self._digits + len(text) - len(text.lstrip(_DIGITS))  # a number the last chunk ended inside
        if run > self.max_digits or self._long_number in text.translate(_ZERO_FOR_DIGIT):
            raise InputLimitError(f"{self.what}: a number of more than {self.max_digits} digits")
        tail = len(text) - len(text.rstrip(_DIGITS))
        self._digits = run if tail == len(text) else tail


def check_json(data: bytes | str, what: str, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse JSON text nested deeper than ``max_depth`` or with an over-long number."""
    JsonScanner(what, max_depth=max_depth).feed(
        data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    )


def check_yaml(
    text: str, what: str, *, max_depth: int = MAX_DEPTH, max_chars: int = MAX_SCENE_CHARS, allow_aliases: bool = True
) -> None:
    """Refuse YAML over ``max_chars``, nested deeper than ``max_depth``, with an over-long number,
    or (unless ``allow_aliases``) with an alias: untrusted text must not expand.

    ``yaml.YAMLError`` (bad syntax) passes through for the caller to report as it does today.
    """
    if len(text) > max_chars:
        raise InputLimitError(f"{what}: more than {max_chars:,} characters")
    depth = 0
    for event in yaml.parse(text, Loader=_Parser):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > max_depth:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise InputLimitError(f"{what}: nested deeper than {max_depth} levels (line {line})")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent) and not allow_aliases:
            raise InputLimitError(f"{what}: YAML aliases (*name) are not allowed here")
        elif isinstance(event, yaml.ScalarEvent) and not event.style and _too_many_digits(event.value):  # plain
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise InputLimitError(f"{what}: a number of more than {MAX_NUMBER_DIGITS} digits (line {line})")


def load_yaml(text: str, what: str, *, allow_aliases: bool = True) -> Any:
    """``yaml.safe_load`` of text that passed ``check_yaml``."""
    check_yaml(text, what, allow_aliases=allow_aliases)
    return yaml.safe_load(text)


def _too_many_digits(plain: str) -> bool:
    return (
        len(plain) > MAX_NUMBER_DIGITS
        and _NUMBER_LIKE.fullmatch(plain) is not None
        and sum(c.isdigit() for c in plain) > MAX_NUMBER_DIGITS
    )


_Parser: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: 20x faster


def check_text(value: Any, what: str) -> None:
    """Refuse a parsed value holding text PostgreSQL or JSON cannot store, naming where it is
    (``rows[3].first_name``): a NUL character, a lone surrogate, a number that is not finite."""
    problem = find_text_problem(value)
    if problem:
        path, reason = problem
        raise InputLimitError(f"{what}{'' if not path or path.startswith('[') else '.'}{path}: {reason}")


def find_text_problem(value: Any) -> tuple[str, str] | None:
    """The first place in ``value`` (``tags[2]``, ``address.city``; ``""`` for the value itself)
    holding text that cannot be stored, and why; ``None`` when there is none."""
    if _clean(value):
        return None
    return next(_problems(value), None)  # the slower walk that keeps the path


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or ``None``."""
    if "\x00" in text:
        return "NUL characters are not allowed"
    if _SURROGATE.search(text):
        return "not valid Unicode (a lone surrogate)"
    return None


def _clean(value: Any) -> bool:
    stack = [value]  # no recursion: the depth is the input's to choose
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item or _SURROGATE.search(item):
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.values())
            stack.extend(item)  # the keys
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return True


def _problems(value: Any) -> Iterator[tuple[str, str]]:
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                yield path, problem
        elif isinstance(item, float) and not math.isfinite(item):
            yield path, "not a finite number"
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                key_text = str(key)
                problem = text_problem(key_text)
                if problem:
                    yield path, f"a key: {problem}"
                stack.append((f"{path}.{_short(key_text)}" if path else _short(key_text), child))
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{path}[{index}]", child) for index, child in reversed(list(enumerate(item))))


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
