"""``resolve_interactive``: the interactions one customer's landing page asks, on that customer's
timeline, with their Jinja2 rendered in the sandbox and nothing of the row shown unasked."""

from __future__ import annotations

import copy
import logging

import pytest

from pvideo.plan.interactive import find, resolve_interactive
from pvideo.scene.interactions import templated_texts
from pvideo.scene.spec import parse_scene

ROW = {"first_name": "Zoë", "email": "zoe@example.com", "phone": "+44 20 7946 0000", "vip": True, "days": 10}
SCENE = {
    "name": "twoway",
    "video": "templates/tiny.mp4",
    "fields": {
        "first_name": {"type": "str"},
        "email": {"type": "str"},
        "phone": {"type": "str"},
        "vip": {"type": "bool"},
        "days": {"type": "int"},
    },
    "sections": [
        {"name": "offer", "start": 1, "end": 2, "when": "days <= 30"},  # a conditional section
        {"name": "billing", "start": 4, "end": 6, "then": "outro"},
        {"name": "savings", "start": 6, "end": 8, "when": "vip", "then": "outro"},
        {"name": "outro", "start": 8, "end": 10},
    ],
    "interactions": [
        {
            "type": "poll",
            "id": "inside",
            "start": 1.5,
            "question": "Q",
            "choices": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}],
        },
        {"type": "nps", "id": "score", "start": 3, "pause": True, "question": "{{ first_name }}, recommend us?"},
        {
            "type": "choice",
            "id": "topic",
            "start": 3.5,
            "question": "Tell me about",
            "options": [
                {"section": "billing", "label": "Billing for {{ first_name }}"},
                {"section": "savings", "label": "Savings"},
            ],
            "default": "savings",
            "timeout": 8,
        },
        {
            "type": "form",
            "id": "signup",
            "start": 8.5,
            "pause": True,
            "title": "Hi {{ first_name }}",
            "fields": [
                {"name": "email", "type": "email", "label": "Email", "prefill": "{{ email }}"},
                {"name": "phone", "type": "phone", "label": "Phone"},
            ],
            "consent": {"text": "You may call me."},
        },
        {
            "type": "calendar",
            "id": "book",
            "start": 9,
            "label": "Book, {{ first_name }}",
            "slot": "Tuesday",
            "href": "https://cal.example/{{ first_name | urlencode }}",
            "when": "days < 100",
        },
    ],
}


def _resolve(scene: dict = SCENE, duration: float = 10, **row: object) -> dict:
    return resolve_interactive(parse_scene(scene), {**ROW, **row}, duration=duration)


def test_a_row_that_keeps_everything_is_asked_everything_at_template_times():
    resolved = _resolve(vip=True)
    assert [i["id"] for i in resolved["interactions"]] == ["inside", "score", "topic", "signup", "book"]
    assert [(i["start"], i["end"]) for i in resolved["interactions"]] == [
        (1.5, 10),  # shown 10 s, bounded by the video
        (3, None),  # pauses: stays until answered
        (3.5, None),
        (8.5, None),
        (9, 10),
    ]
    assert resolved["sections"] == [
        {"name": "offer", "start": 1, "end": 2, "then": None},
        {"name": "billing", "start": 4, "end": 6, "then": "outro"},
        {"name": "savings", "start": 6, "end": 8, "then": "outro"},
        {"name": "outro", "start": 8, "end": 10, "then": None},
    ]
    topic = find(resolved, "topic")
    assert topic["options"] == [
        {"section": "billing", "label": "Billing for Zoë"},
        {"section": "savings", "label": "Savings"},
    ]
    assert (topic["default"], topic["timeout"], topic["pause"]) == ("savings", 8, True)
    assert find(resolved, "score")["question"] == "Zoë, recommend us?"
    assert find(resolved, "book") == {
        "id": "book",
        "type": "calendar",
        "start": 9,
        "end": 10,
        "pause": False,
        "skippable": True,
        "label": "Book, Zoë",
        "slot": "Tuesday",
        "href": "https://cal.example/Zo%C3%AB",
    }


def test_skipped_sections_move_later_times_and_drop_what_is_inside_them():
    resolved = _resolve(days=90, vip=False, duration=7)  # the offer (1-2 s) and savings (6-8 s) are cut
    assert [s["name"] for s in resolved["sections"]] == ["billing", "outro"]
    assert [(s["start"], s["end"]) for s in resolved["sections"]] == [(3, 5), (5, 7)]
    assert find(resolved, "inside") is None  # it starts inside the skipped offer
    assert (find(resolved, "score")["start"], find(resolved, "signup")["start"]) == (2, 5.5)
    topic = find(resolved, "topic")
    assert topic["options"] == [{"section": "billing", "label": "Billing for Zoë"}]  # savings is not in this video
    assert topic["default"] == "billing"  # the scene's default is gone: the first option left
    assert find(resolved, "book")["end"] == 7  # the non-pausing window, bounded by the shorter video


def test_a_path_with_no_branch_left_is_not_asked():
    scene = copy.deepcopy(SCENE)
    scene["sections"][1]["when"] = "false"
    resolved = _resolve(scene, vip=False)
    assert find(resolved, "topic") is None and find(resolved, "score") is not None


def test_when_decides_who_is_asked():
    assert find(_resolve(days=10), "book") is not None
    assert find(_resolve(days=200), "book") is None


def test_prefill_only_where_the_scene_says():
    (email, phone) = find(_resolve(), "signup")["fields"]
    assert email["value"] == "zoe@example.com"
    assert "value" not in phone  # the row has a phone, but the scene does not ask to show it
    assert email["type"] == "email" and phone["required"] is False


def test_labels_render_in_the_sandbox_and_a_failing_one_drops_only_its_interaction(caplog):
    scene = copy.deepcopy(SCENE)
    scene["interactions"][1]["question"] = "{{ first_name.__class__.__mro__ }}"  # blocked by the sandbox
    scene["interactions"][3]["title"] = "Hi {{ nickname }}"  # not in the row
    scene["interactions"][4]["href"] = "{{ 'javascript' }}:alert(1)"  # renders, but is no http(s) link
    with caplog.at_level(logging.WARNING, logger="pvideo.plan.interactive"):
        resolved = _resolve(scene)
    assert [i["id"] for i in resolved["interactions"]] == ["inside", "topic"]
    assert "nickname" in caplog.text and "'score' left out" in caplog.text


def test_customer_text_is_data_not_markup():
    resolved = _resolve(first_name="<b>{{ 7 * 7 }}</b>")
    assert find(resolved, "score")["question"] == "<b>{{ 7 * 7 }}</b>, recommend us?"  # not evaluated again


def test_a_when_that_fails_on_the_row_leaves_the_interaction_out(caplog):
    scene = copy.deepcopy(SCENE)
    scene["interactions"][1]["when"] = "days / 0 > 1"
    with caplog.at_level(logging.WARNING, logger="pvideo.plan.interactive"):
        assert find(_resolve(scene), "score") is None
    assert "ZeroDivisionError" in caplog.text


@pytest.mark.parametrize("index", range(len(SCENE["interactions"])))
def test_every_templated_text_is_what_the_page_renders(index):
    """Breaking any one text ``templated_texts`` lists drops its interaction: the row checks,
    which render that list, check what the page shows."""
    spec = parse_scene(SCENE)
    item = spec.interactions[index]
    for path, _ in templated_texts(item):
        broken = copy.deepcopy(SCENE)
        node = broken["interactions"][index]
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        for key in parents:
            node = node[key]
        node[last] = "{{ missing_name }}"
        resolved = resolve_interactive(parse_scene(broken), {**ROW, "vip": True}, duration=10)
        assert find(resolved, item.id) is None, path


def test_a_scene_without_interactions_resolves_to_nothing():
    scene = {k: v for k, v in SCENE.items() if k != "interactions"}
    assert resolve_interactive(parse_scene(scene), ROW) == {"sections": [], "interactions": []}
