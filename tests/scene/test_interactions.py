"""Interactions in the scene script: each mistake is an error naming the interaction, the field
and the line, from the loader (``pvideo validate``) and from the studio editor's problem list."""

from __future__ import annotations

import copy

import pytest
import yaml

from pvideo.errors import SceneError
from pvideo.scene.interactions import (
    DEFAULT_SHOWN_SECONDS,
    FormField,
    NpsInteraction,
    templated_texts,
    window,
)
from pvideo.scene.problems import message_path, spec_problems
from pvideo.scene.spec import parse_scene, scene_from_text
from pvideo.settings import PROJECT_ROOT

BASE = {
    "name": "twoway",
    "video": "templates/tiny.mp4",
    "fields": {"first_name": {"type": "str"}, "email": {"type": "str", "default": ""}},
    "sections": [
        {"name": "billing", "start": 1, "end": 2, "then": "outro"},
        {"name": "savings", "start": 2, "end": 3, "then": "outro"},
        {"name": "outro", "start": 3, "end": 4},
    ],
    "interactions": [
        {"type": "nps", "id": "score", "start": 0.2, "pause": True, "question": "Hi {{ first_name }}?"},
        {
            "type": "choice",
            "id": "topic",
            "start": 0.8,
            "question": "Tell me about",
            "options": [{"section": "billing", "label": "Billing"}, {"section": "savings", "label": "Savings"}],
        },
        {
            "type": "form",
            "id": "signup",
            "start": 3.2,
            "pause": True,
            "title": "Stay in touch",
            "fields": [{"name": "email", "type": "email", "label": "Email", "prefill": "{{ email }}"}],
            "consent": {"text": "You may email me."},
        },
        {"type": "calendar", "id": "book", "start": 3.5, "end": 4, "href": "https://cal.example/b"},
    ],
}


def _with(path: str, value: object) -> dict:
    """BASE with the value at a dotted path (``interactions.1.options.0.section``) replaced."""
    scene = copy.deepcopy(BASE)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = scene
    for key in parents:
        node = node[key]
    node[last] = value
    return scene


def _error(scene: dict) -> str:
    with pytest.raises(SceneError) as caught:
        parse_scene(scene, source="twoway.yaml")
    return str(caught.value)


def test_a_good_two_way_scene_loads():
    spec = parse_scene(BASE)
    assert [i.type for i in spec.interactions] == ["nps", "choice", "form", "calendar"]
    assert [s.then for s in spec.sections] == ["outro", "outro", None]
    assert all(s.when is None for s in spec.sections)


@pytest.mark.parametrize(
    ("path", "value", "where", "says"),
    [
        ("interactions.0.type", "npss", "interaction 1 (npss 'score')", "unknown interaction type 'npss'; did you"),
        ("interactions.3.end", 3, "interaction 4 (calendar 'book'), field end", "must be after start (3.5)"),
        ("interactions.3.href", "javascript:alert(1)", "interaction 4 (calendar 'book'), field href", "'javascript'"),
        ("interactions.2.id", "score", "interaction 3 (form 'score'), field id", "also interaction 1's id"),
        (
            "interactions.1.options.1.section",
            "savngs",
            "interaction 2 (choice 'topic'), field options.1.section",
            "'savngs' is not a section (sections: billing, savings, outro)",
        ),
        (
            "interactions.1.start",
            1.5,
            "interaction 2 (choice 'topic'), field options.0.section",
            "section 'billing' starts at 1 s, not after the choice (1.5 s)",
        ),
        ("interactions.1.default", "outro", "interaction 2 (choice 'topic'), field default", "not one of the options"),
        ("interactions.1.timeout", 0, "interaction 2 (choice 'topic'), field timeout", "greater than 0"),
        (
            "interactions.3.skipable",
            True,
            "interaction 4 (calendar 'book'), field skipable",
            "did you mean 'skippable'",
        ),
        ("sections.0.then", "outr", "section 1 ('billing'), field then", "'outr' is neither a section"),
        ("sections.1.then", "billing", "section 2 ('savings'), field then", "'billing' starts at 1 s, before"),
        (
            "interactions.2.start",
            0.2,
            "interaction 3 (form 'signup'), field start",
            "while interaction 1 ('score') does (from 0.2 s): at most one pausing interaction at a time",
        ),
        ("interactions.2.fields.0.type", "choice", "interaction 3 (form 'signup'), field fields.0", "at least 2"),
        ("interactions.2.fields.0.type", "tel", "interaction 3 (form 'signup'), field fields.0.type", "'phone'"),
        ("interactions.0.when", "{{ x }}", "interaction 1 (nps 'score'), field when", "not a valid Jinja2 expression"),
    ],
)
def test_each_mistake_names_the_interaction_and_the_field(path, value, where, says):
    message = _error(_with(path, value))
    assert f"twoway.yaml: {where}: " in message and says in message, message


def test_a_gate_holds_the_video_unless_it_is_before_playback():
    gate = {"type": "gate", "id": "lead", "start": 0, "pause": False}
    assert parse_scene(_with("interactions", [gate])).interactions[0].fields[0].type == "email"
    message = _error(_with("interactions", [{**gate, "start": 2}]))
    assert "interaction 1 (gate 'lead'), field pause: a gate at 2 s must pause the video" in message


def test_a_path_that_plays_on_must_choose_before_its_branches():
    scene = _with("interactions.1.pause", False)
    scene["interactions"][1]["timeout"] = 0.2
    assert parse_scene(scene).interactions[1].timeout == 0.2  # chosen at 1 s, as the first branch starts
    message = _error(_with("interactions.1", {**scene["interactions"][1], "timeout": 3}))
    assert "interaction 2 (choice 'topic'), field timeout: 3 s from 0.8 s runs into the first branch (1 s)" in message


def test_every_problem_is_reported_at_its_line():
    scene = _with("interactions.1.options.1.section", "savngs")
    scene["sections"][0]["then"] = "nowhere"
    text = yaml.safe_dump(scene, sort_keys=False)
    lines = text.splitlines()
    with pytest.raises(SceneError) as caught:
        scene_from_text(text, source="twoway.yaml")
    reported = str(caught.value).splitlines()
    assert len(reported) == 2
    for line in reported:
        number = int(line.split("line ", 1)[1].split(",", 1)[0])
        key = "then" if "then" in line else "section: savngs"
        assert key in lines[number - 1], (line, lines[number - 1])


def test_the_editor_gets_the_same_problems_placed_at_their_keys():
    scene = _with("interactions.1.options.1.section", "savngs")
    scene["interactions"][3]["href"] = "ftp://cal.example/b"
    text = yaml.safe_dump(scene, sort_keys=False)
    spec, problems, _, _ = spec_problems(text)
    assert spec is None
    by_field = {p.field: p for p in problems}
    assert set(by_field) == {"interactions.3.href"}  # a field's own check first; cross checks need valid fields
    href = by_field["interactions.3.href"]
    assert href.message.startswith("interaction 4 (calendar 'book'), field href: link scheme 'ftp'")
    assert "href: ftp://" in text.splitlines()[href.line - 1] and href.layer is None
    del scene["interactions"][3]["href"]
    scene["interactions"][3]["href"] = "https://cal.example/b"
    spec, problems, _, _ = spec_problems(yaml.safe_dump(scene, sort_keys=False))
    (problem,) = problems
    assert problem.field == "interactions.1.options.1.section"
    assert problem.message == (
        "interaction 2 (choice 'topic'), field options.1.section: 'savngs' is not a section "
        "(sections: billing, savings, outro)"
    )


def test_a_message_names_the_path_it_is_about():
    assert message_path("x.csv, row 3: interaction 2 (poll 'q'), field choices.1.label: 'a' is undefined") == [
        "interactions",
        1,
        "choices",
        1,
        "label",
    ]
    assert message_path("section 3 ('outro'), field then: no") == ["sections", 2, "then"]
    assert message_path("interaction 1 (gate 'lead'): x") == ["interactions", 0]
    assert message_path("layer 1 (text 'hi'), field text: no") is None


def test_personal_data_fields_are_marked():
    pii = {t: FormField(name="f", type=t, label="F", choices=_choices(t)).pii for t in _FIELD_TYPES}
    assert pii == {"email": True, "phone": True, "text": True, "number": False, "choice": False, "date": False}


_FIELD_TYPES = ("email", "phone", "text", "number", "choice", "date")


def _choices(kind: str) -> list[dict]:
    return [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}] if kind == "choice" else []


def test_window_of_a_pausing_and_a_playing_interaction():
    def nps(**kw):
        return NpsInteraction.model_validate({"type": "nps", "id": "n", "question": "Q", **kw})

    assert window(nps(start=2, pause=True)) == (2, 2)
    assert window(nps(start=2)) == (2, 2 + DEFAULT_SHOWN_SECONDS)
    assert window(nps(start=2, end="end")) == (2, 2 + DEFAULT_SHOWN_SECONDS)  # `end: end` is left out
    assert window(nps(start=2, end=5)) == (2, 5)


def test_templated_texts_list_every_text_a_page_shows():
    spec = parse_scene(BASE)
    nps, choice, form, calendar = spec.interactions
    assert templated_texts(nps) == [("question", "Hi {{ first_name }}?")]
    assert [p for p, _ in templated_texts(choice)] == ["question", "options.0.label", "options.1.label"]
    assert [p for p, _ in templated_texts(choice, kept={"savings"})] == ["question", "options.1.label"]
    assert [p for p, _ in templated_texts(form)] == ["title", "fields.0.label", "fields.0.prefill"]
    assert [p for p, _ in templated_texts(calendar)] == ["label", "href"]


def test_the_example_checkin_scene_uses_every_part_of_a_path():
    text = (PROJECT_ROOT / "scenes" / "checkin.yaml").read_text(encoding="utf-8")
    spec = scene_from_text(text, source="checkin.yaml")
    assert {i.type for i in spec.interactions} == {"nps", "choice", "form", "calendar"}
    (choice,) = [i for i in spec.interactions if i.type == "choice"]
    assert [o.section for o in choice.options] == ["billing", "savings"]
    assert {s.name: s.then for s in spec.sections} == {"billing": "outro", "savings": "outro", "outro": None}
    (form,) = [i for i in spec.interactions if i.type == "form"]
    assert [(f.name, f.type, f.pii, f.prefill) for f in form.fields] == [
        ("email", "email", True, "{{ email }}"),
        ("phone", "phone", True, None),
        ("topic", "choice", False, None),
    ]
    assert form.consent is not None and form.consent.required


def test_a_long_pause_keeps_out_every_later_pausing_interaction():
    def nps(ident: str, start: float, **more: object) -> dict:
        return {"type": "nps", "id": ident, "start": start, "pause": True, "question": "Q", **more}

    scene = _with("interactions", [nps("long", 0, end=2.5), nps("b", 1), nps("c", 2), nps("d", 2.5)])
    reported = _error(scene).splitlines()
    assert [line.split(": ", 2)[1] for line in reported] == [
        "interaction 2 (nps 'b'), field start",
        "interaction 3 (nps 'c'), field start",
    ]
    assert all("while interaction 1 ('long') does (from 0 s)" in line for line in reported)
