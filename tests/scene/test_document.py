"""The editor's YAML document: unchanged text comes back byte for byte, edits change only their
lines (comments, quoting, order and odd layouts kept), and problems point at layer, field and line."""

from __future__ import annotations

import difflib

import pytest
import yaml

from pvideo.jobs.sceneedit import check_scene_text, in_box_units
from pvideo.plan.geometry import Frame
from pvideo.scene.document import EditError, SceneDocument
from pvideo.scene.problems import spec_problems
from pvideo.scene.spec import scene_from_text
from pvideo.settings import PROJECT_ROOT
from tests.conftest import CARD_SCENE

BUNDLED = sorted((PROJECT_ROOT / "scenes").glob("*.yaml"))
CARD = yaml.safe_dump(CARD_SCENE, sort_keys=False)
ODD = """\
--- # a document start with a comment
# top comment
name: odd   # trailing comment on name
video:    templates/tiny.mp4
fields:
    first_name: {type: str}   # a flow map with a comment
    # a comment between fields
    plan: {type: str, default: 'Basic'}

layers:
    # a comment above the first layer
    -   type: text
        id: hello
        text: 'Hi {{ first_name }}!'
        start: 1.0
        end: 2
        box: {x: 40, y: 40,
              w: 300, h: 80}
        color: "#ffffff"   # white

    -   type: cta   # the button
        id: buy
        label: >-
            Get {{ plan }}
        href: "https://shop.example/buy"
        start: 2.5
        box:
            x: 40
            y: 260
            w: 240
            h: 60
# the end
"""


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def comments(text: str) -> list[str]:
    return [line[line.index("#") :] for line in text.splitlines() if "#" in line and '"#' not in line]


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_every_bundled_scene_round_trips_byte_for_byte(path):
    text = path.read_text(encoding="utf-8")
    document = SceneDocument(text)
    assert document.text() == text and not document.changed
    first = document.layers[0]
    document.set_fields(0, {"start": first["start"]})  # an edit that changes nothing: ruamel writes it all
    assert document.text() == text


@pytest.mark.parametrize(
    "text", [ODD, ODD.replace("\n", "\r\n"), ODD.rstrip("\n"), CARD], ids=["odd", "crlf", "no-newline", "pyyaml"]
)
def test_edits_change_only_their_lines_in_any_layout(text):
    cta, indent, old_end = (1, " " * 8, "end: 2") if text is not CARD else (2, "  ", "end: 2.0")
    document = SceneDocument(text)
    assert document.text() == text
    document.set_fields(cta, {"start": 3, "color": "#000000"})
    document.set_fields(0, {"when": "plan == 'Gold'", "end": None})
    edited = document.text()
    assert ("\r\n" in edited) == ("\r\n" in text) and edited.endswith("\n") == text.endswith("\n")
    assert comments(edited) == comments(text)
    assert sorted(changed_lines(text, edited)) == sorted(
        [
            f"-{indent}{old_end}",
            f"-{indent}start: 2.5",
            f"+{indent}start: 3",
            f'+{indent}color: "#000000"',
            f"+{indent}when: \"plan == 'Gold'\"",
        ]
    )
    data = yaml.safe_load(edited)
    assert data["layers"][cta]["start"] == 3 and isinstance(data["layers"][cta]["start"], int)
    assert data["layers"][0]["when"] == "plan == 'Gold'" and "end" not in data["layers"][0]


def test_values_keep_their_kind_and_jinja_is_quoted():
    document = SceneDocument(CARD)
    document.set_fields(0, {"text": "{{ first_name }}, welcome", "x": 120.0, "size": "6%", "color": "#abcdef"})
    document.set_fields(2, {"href": "https://x.example/{{ customer_id }}?a=1&b=2", "label": "yes"})
    edited = document.text()
    layers = yaml.safe_load(edited)["layers"]
    assert layers[0]["text"] == "{{ first_name }}, welcome"
    assert layers[0]["box"]["x"] == 120 and isinstance(layers[0]["box"]["x"], int)
    assert layers[0]["size"] == "6%" and layers[0]["color"] == "#abcdef"
    assert layers[2]["label"] == "yes" and layers[2]["href"].endswith("&b=2")
    assert "'#abcdef'" in edited  # the file's own quoting of that value (PyYAML's single quotes) is kept
    assert 'text: "{{ first_name }}, welcome"' in edited
    scene_from_text(edited)


def test_add_remove_and_move_layers_keep_comments_with_their_layer():
    text = (PROJECT_ROOT / "scenes" / "welcome.yaml").read_text(encoding="utf-8")
    document = SceneDocument(text)
    count = len(document.layers)
    index = document.add_layer("text", {"text": "Bye {{ first_name }}", "x": 10})
    added = document.add_layer("cta", {})
    image = document.add_layer("image", {})
    assert (index, added, image) == (count, count + 1, count + 2)
    document.move_layer(0, count - 1)
    document.remove_layer(count + 2)
    edited = document.text()
    spec = scene_from_text(edited)  # defaults make a valid layer
    assert [layer.id for layer in spec.layers][-3:] == ["logo", f"text_{count + 1}", f"cta_{count + 2}"]
    assert comments(edited) == comments(text)
    assert edited.startswith(text[: text.index("layers:")])  # nothing above the layers moved
    assert "\n\n  - type: text\n    id: text_" in edited  # a new layer is set apart like the others


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.set_fields(9, {"x": 1}), "there is no layer 9"),
        (lambda d: d.set_fields(0, {"colour": "#fff"}), "has no field 'colour'"),
        (lambda d: d.set_fields(0, {"type": "cta"}), "type of a layer cannot change"),
        (lambda d: d.set_fields(0, {"text": ["a"]}), "expected a single value"),
        (lambda d: d.add_layer("audio", {}), "cannot add a layer of type 'audio'"),
        (lambda d: d.add_layer("text", {"nope": 1}), "has no field 'nope'"),
        (lambda d: d.move_layer(0, 7), "cannot move"),
    ],
)
def test_impossible_edits_say_why_and_change_nothing(edit, message):
    document = SceneDocument(CARD)
    with pytest.raises(EditError, match=message):
        edit(document)
    assert document.text() == CARD


def test_a_dragged_box_keeps_its_units():
    frame = Frame(1280, 720)
    anchored = {"anchor": "top-right", "x": "3%", "y": "5%", "w": "12.5%", "h": "22%"}  # placed at x 1082
    assert in_box_units(anchored, {"x": 1020}, frame) == {"x": "7.81%"}  # 1280 - 160 - 1020 = 100 px from the right
    assert in_box_units({"x": 40, "y": 40, "w": 300, "h": 80}, {"x": 50.4}, frame) == {"x": 50.4}
    centered = {"anchor": "center", "x": 0, "y": 0, "w": 200, "h": 100}
    assert in_box_units(centered, {"x": 100, "y": 310}, frame) == {"x": 100, "y": 310, "anchor": None}
    assert in_box_units({"x": "10%", "y": 0, "w": "50%", "h": 100}, {"w": 320}, frame) == {"w": "25%"}


def test_problems_point_at_layer_field_and_line():
    text = CARD.replace("size: 48", "size: 48 pt").replace("  id: logo\n", "  id: logo\n  colour: red\n")
    _, problems, _, _ = spec_problems(text)
    lines = text.splitlines()
    by_field = {p.field: p for p in problems}
    size, colour = by_field["size"], by_field["colour"]
    assert (size.layer, size.layer_id) == (0, "hello") and lines[size.line - 1].strip() == "size: 48 pt"
    assert (colour.layer, colour.layer_id) == (1, "logo") and lines[colour.line - 1].strip() == "colour: red"
    assert "did you mean 'color'" not in colour.message or colour.column == 3

    broken = spec_problems("name: x\nvideo: [\n")[1]
    assert broken[0].line == 3 and "not valid YAML" in broken[0].message


def test_problems_include_the_checks_validate_runs_without_data(settings):
    sandbox = CARD.replace("Get {{ plan }}", "Get {{ plan.__class__.__mro__ }}")
    problem = check_scene_text(sandbox, settings).problems
    assert [(p.layer, p.field) for p in problem] == [(2, "label")] and "sandbox" in problem[0].message
    assert sandbox.splitlines()[problem[0].line - 1].strip().startswith("label:")

    escape = CARD.replace("src: logo.png", "src: ../../etc/passwd")
    problem = check_scene_text(escape, settings).problems
    assert [(p.layer, p.field) for p in problem] == [(1, "src")] and "escapes the assets folder" in problem[0].message

    link = CARD.replace("https://shop.example/buy?c={{ customer_id | urlencode }}", "javascript:alert(1)")
    problem = check_scene_text(link, settings).problems
    assert [(p.layer, p.field) for p in problem] == [(2, "href")]
    assert check_scene_text(CARD, settings).problems == []
