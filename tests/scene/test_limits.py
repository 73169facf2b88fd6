"""Nesting, number and text limits on untrusted JSON and YAML, checked before anything is built."""

from __future__ import annotations

import json
import random

import pytest
import yaml

from pvideo.errors import SceneError
from pvideo.scene.limits import (
    MAX_DEPTH,
    InputLimitError,
    JsonScanner,
    check_json,
    check_text,
    check_yaml,
    find_text_problem,
)
from pvideo.scene.spec import load_scene
from tests.conftest import CARD_SCENE
from tests.steps import counted_lines

# Work bounds, in Python lines run (tests/steps.py). Refusing deep JSON runs 33 (the scan and
# numpy's wrappers) whatever the text's size. Loading a small hostile scene runs
# 1,000 to 8,000 (the last one parsed to its bad date); scanning it with PyYAML's pure-Python
# parser instead of libyaml's runs 98,000 (the long number) to 11 million (the deep nesting).
SCAN_LINES = 200
LOAD_LINES = 50_000


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _value(rng: random.Random, depth: int):
    roll = rng.random()
    if depth and roll < 0.3:
        return [_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    if depth and roll < 0.6:  # keys and strings full of brackets, quotes and backslashes
        keys = ["a", "[", "]}", "\\", '"{', 'b\\"]']
        return {rng.choice(keys): _value(rng, depth - 1) for _ in range(rng.randint(0, 3))}
    return rng.choice([1, -3.5e10, "x[y", 'q"]}', "\\\\", "", None, True, "é[{", "\u2028"])


def _scan(text: bytes, limit: int, rng: random.Random) -> bool:
    """Whether the scanner refuses ``text`` fed in random small chunks."""
    scanner = JsonScanner("body", max_depth=limit)
    try:
        pos = 0
        while pos < len(text):
            size = rng.randint(1, 7)
            scanner.feed(text[pos : pos + size])
            pos += size
    except InputLimitError:
        return True
    return False


def test_json_depth_is_exact_whatever_the_chunks():
    rng = random.Random(13)
    for _ in range(1500):
        value = _value(rng, rng.randint(0, 12))
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        limit = rng.randint(1, 10)
        assert _scan(text, limit, rng) == (_depth(value) > limit), text


def test_deep_json_is_refused_at_once():
    # "at once": a few C-level passes over the text, so the Python lines run do not grow with its
    # 60,000 bytes (a loop over them, or over its 30,000 levels, would run that many at least)
    refused = pytest.raises(InputLimitError, match=f"body: nested deeper than {MAX_DEPTH} levels")
    with refused, counted_lines(SCAN_LINES):  # counted inside: pytest.raises's own work is not the scan's
        check_json(b"[" * 30_000 + b"]" * 30_000, "body")
    check_json(json.dumps({"a": [[[[1]]]], "b": "[[[[[[[[" * 100}), "body")  # brackets in strings are text


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_json_numbers_of_more_than_100_digits_are_refused(chunk):
    for text, ok in [
        (b"[" + b"9" * 100 + b"]", True),
        (b"[" + b"9" * 101 + b"]", False),
        (b"[1." + b"0" * 101 + b"]", False),
        (b'{"a": "' + b"9" * 500 + b'"}', True),  # a string of digits is text
    ]:
        scanner = JsonScanner("body")
        try:
            for pos in range(0, len(text), chunk):
                scanner.feed(text[pos : pos + chunk])
        except InputLimitError as exc:
            assert not ok and "100 digits" in str(exc)
        else:
            assert ok


@pytest.mark.parametrize(
    "text,message",
    [
        ("a: " + "[" * 30_000 + "]" * 30_000, "nested deeper than 64 levels (line 1)"),
        ("".join("  " * i + "k:\n" for i in range(100)) + "  " * 100 + "v\n", "nested deeper than 64 levels (line 65)"),
        ("a: " + "9" * 5000, "a number of more than 100 digits (line 1)"),
        ("a: -1." + "5" * 200, "a number of more than 100 digits"),
        ("a: &x [1]\nb: *x\n", "YAML aliases"),
        ("a: " + "x" * 1_000_001, "more than 1,000,000 characters"),
    ],
)
def test_yaml_limits(text, message):
    with pytest.raises(InputLimitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_yaml(text, "scene.yaml", allow_aliases=False)


def test_yaml_within_limits_passes():
    check_yaml(yaml.safe_dump(CARD_SCENE), "card.yaml", allow_aliases=False)
    check_yaml("a: '" + "9" * 5000 + "'\nb: 12 monkeys " + "9" * 200 + "\nc: &x 1\nd: *x\n", "t.yaml")


@pytest.mark.parametrize(
    "text,message",
    [
        ("name: x\nvideo: " + "[" * 30_000 + "]" * 30_000 + "\n", "nested deeper than 64 levels"),
        ("name: x\nvideo: a.mp4\nposter_at: " + "9" * 5000 + "\n", "a number of more than 100 digits"),
        ("name: x\nvideo: a.mp4\nfields:\n  d: {type: date, default: 2026-02-30}\n", "not valid YAML"),
    ],
)
def test_load_scene_turns_limits_into_scene_errors(tmp_path, text, message):
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    with pytest.raises(SceneError) as info, counted_lines(LOAD_LINES):  # refused before anything is built
        load_scene(path)
    assert str(info.value).startswith("hostile.yaml: ") and message in str(info.value)  # the name, not the path
    with pytest.raises(SceneError) as named:
        load_scene(path, source="scene 'hostile'")
    assert str(named.value).startswith("scene 'hostile': ") and str(tmp_path) not in str(named.value)


def test_load_scene_refuses_text_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SceneError, match="not UTF-8"):
        load_scene(path)


@pytest.mark.parametrize(
    "value,where,reason",
    [
        ({"a": ["x", "y\x00"]}, "a[1]", "NUL"),
        ({"a\x00": 1}, "", "a key: NUL"),
        ([{"k": float("inf")}], "[0].k", "not a finite number"),
        ({"a": "\ud800"}, "a", "lone surrogate"),
        ("\x00", "", "NUL"),
    ],
)
def test_text_problems_are_found_with_their_place(value, where, reason):
    found = find_text_problem(value)
    assert found is not None and found[0] == where and reason in found[1]
    with pytest.raises(InputLimitError) as info:
        check_text(value, "metadata")
    assert str(info.value).startswith("metadata")


def test_clean_text_passes():
    check_text({"a": [1, 2.5, "é", {"b": None, "c": True}], "d": "\u2028"}, "metadata")
    assert find_text_problem([{"customer_id": f"c{n}"} for n in range(1000)]) is None
