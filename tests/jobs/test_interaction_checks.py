"""Interactions under ``pvideo validate``, the studio editor and campaign submission: times inside
the template, and per row every ``when``, label, prefill and booking link the landing page
would render, each problem naming the row (or the line), the interaction and the field."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from pvideo.jobs.rowcheck import RowCheck
from pvideo.jobs.sceneedit import check_scene_text
from pvideo.jobs.validation import validate_scene
from pvideo.plan.interactive import find, resolve_interactive
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from tests.conftest import API_KEY

SCENE = {
    "name": "askcard",
    "video": "templates/tiny.mp4",  # 4 s
    "fields": {
        "customer_id": {"type": "str"},
        "first_name": {"type": "str"},
        "email": {"type": "str", "default": ""},
        "booking": {"type": "str", "default": "https://cal.example/me"},
        "vip": {"type": "bool", "default": True},
        "divisor": {"type": "int", "default": 1},
    },
    "sections": [
        {"name": "billing", "start": 1, "end": 2, "then": "outro"},
        {"name": "savings", "start": 2, "end": 3, "when": "vip", "then": "outro"},
        {"name": "outro", "start": 3, "end": 4},
    ],
    "interactions": [
        {"type": "nps", "id": "score", "start": 0.2, "pause": True, "question": "{{ first_name }}, recommend us?"},
        {
            "type": "choice",
            "id": "topic",
            "start": 0.6,
            "question": "Tell me about",
            "options": [
                {"section": "billing", "label": "Billing"},
                {"section": "savings", "label": "Savings, {{ nickname }}"},  # nickname: not a declared field
            ],
        },
        {
            "type": "form",
            "id": "signup",
            "start": 3.1,
            "pause": True,
            "when": "10 / divisor > 1",
            "title": "Stay in touch",
            "fields": [{"name": "email", "type": "email", "label": "Email", "prefill": "{{ email | lower }}"}],
        },
        {"type": "calendar", "id": "book", "start": 3.5, "end": 4, "href": "{{ booking }}"},
    ],
}
GOOD = {"customer_id": "c1", "first_name": "Ann", "nickname": "Annie", "email": "ANN@example.com"}
ROWS = [
    GOOD,
    {**GOOD, "customer_id": "c2", "booking": "javascript:alert(1)"},
    {**GOOD, "customer_id": "c3", "divisor": 0},
    {k: v for k, v in GOOD.items() if k != "nickname"} | {"customer_id": "c4"},
    {k: v for k, v in GOOD.items() if k != "nickname"} | {"customer_id": "c5", "vip": False},  # no savings branch
]
REJECTED = {
    2: "interaction 4 (calendar 'book'), field href: 'javascript:alert(1)': link scheme 'javascript' is not allowed",
    3: "interaction 3 (form 'signup'), field when: ZeroDivisionError: division by zero",
    4: "interaction 2 (choice 'topic'), field options.1.label: 'nickname' is undefined",
}


@pytest.fixture()
def spec():
    return parse_scene(SCENE)


def test_row_check_names_the_row_the_interaction_and_the_field(spec, assets_dir):
    check = RowCheck(spec, assets_dir)
    for number, raw in enumerate(ROWS, start=1):
        problem = check.problem(coerce_row(spec, raw), number=number, source="people.csv")
        if number in REJECTED:
            assert problem is not None and str(problem).startswith(f"people.csv, row {number}: {REJECTED[number]}")
        else:
            assert problem is None, problem
    # what the check rejects is what the page would leave out; what it passes, the page shows
    c3, c5 = (resolve_interactive(spec, coerce_row(spec, ROWS[i]), duration=4) for i in (2, 4))
    assert find(c3, "signup") is None and find(c5, "topic")["options"] == [{"section": "billing", "label": "Billing"}]


def test_submission_rejects_the_rows_whose_page_would_fail(client, scenes_dir):
    (scenes_dir / "askcard.yaml").write_text(yaml.safe_dump(SCENE, sort_keys=False))
    response = client.post("/api/campaigns", headers={"X-API-Key": API_KEY}, json={"scene": "askcard", "rows": ROWS})
    assert response.status_code == 201, response.text
    submitted = response.json()
    errors = {r["row"]: r["error"] for r in submitted["rejected"]}
    assert sorted(errors) == sorted(REJECTED) and submitted["queued"] == len(ROWS) - len(REJECTED)
    for number, message in REJECTED.items():
        assert errors[number].startswith(f"rows, row {number}: {message}"), errors[number]


def _write(tmp_path, scene: dict, rows: list[dict] | None = None):
    path = tmp_path / "askcard.yaml"
    path.write_text(yaml.safe_dump(scene, sort_keys=False))
    if rows is None:
        return path, None
    data = tmp_path / "people.json"  # JSON: a row may lack a key, as row 4 lacks nickname
    data.write_text(json.dumps(rows))
    return path, data


def test_validate_reports_every_interaction_problem_of_every_row(settings, tmp_path):
    path, data = _write(tmp_path, SCENE, ROWS)
    problems = validate_scene(path, data, settings)
    assert [p.split(": ", 1)[0] for p in problems] == [f"{data}, row {n}" for n in sorted(REJECTED)]
    for problem, number in zip(problems, sorted(REJECTED), strict=True):
        assert REJECTED[number] in problem


def test_validate_without_data_checks_times_against_the_template_at_their_lines(settings, tmp_path):
    scene = copy.deepcopy(SCENE)
    scene["interactions"][1]["options"][1]["label"] = "Savings"
    assert validate_scene(_write(tmp_path, scene)[0], None, settings) == []
    scene["interactions"][2]["start"] = 4.5  # the template is 4 s long
    scene["interactions"][3]["end"] = 6
    scene["sections"][2]["end"] = 5
    path, _ = _write(tmp_path, scene)
    lines = path.read_text().splitlines()
    problems = validate_scene(path, None, settings)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "interaction 3 (form 'signup'), field start: 4.5 s is not inside the 4 s video",
        "interaction 4 (calendar 'book'), field end: 6 s is after the video's end (4 s)",
    ]
    for problem, key in zip(problems, ("start: 4.5", "end: 6"), strict=True):
        line = int(problem.split(", line ", 1)[1].split(",", 1)[0])
        assert problem.startswith(f"{path}, line {line}, column ") and key in lines[line - 1]


def test_a_branch_past_the_end_of_the_video_is_reported_at_the_option(settings, tmp_path):
    scene = copy.deepcopy(SCENE)
    scene["interactions"][1]["options"][1]["label"] = "Savings"
    scene["sections"][1]["end"] = 5
    scene["sections"][2] = {"name": "outro", "start": 5, "end": 6}
    problems = validate_scene(_write(tmp_path, scene)[0], None, settings)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "interaction 2 (choice 'topic'), field options.1.section: section 'savings' ends at 5 s, "
        "after the video's end (4 s)"
    ]


def test_the_editor_places_interaction_problems_at_their_keys(settings):
    scene = copy.deepcopy(SCENE)
    scene["interactions"][0]["start"] = 9
    scene["interactions"][1]["options"][1]["label"] = "Savings"
    text = yaml.safe_dump(scene, sort_keys=False)
    (problem,) = check_scene_text(text, settings).problems
    assert problem.field == "interactions.0.start" and problem.layer is None
    assert problem.message == "interaction 1 (nps 'score'), field start: 9 s is not inside the 4 s video"
    assert text.splitlines()[problem.line - 1].strip() == "start: 9"
    scene["interactions"][0]["start"] = 0.2
    scene["interactions"][0]["question"] = "{{ first_nam }}?"
    (problem,) = check_scene_text(yaml.safe_dump(scene, sort_keys=False), settings).problems
    assert (problem.field, problem.message) == (
        "interactions.0.question",
        "interaction 1 (nps 'score'), field question: 'first_nam' is undefined",
    )


def test_a_booking_link_only_real_data_can_judge_is_left_to_the_data(settings, tmp_path):
    """A ``str`` field holding a whole link: the sample row's text is no link, so without data the
    link is not judged (as a CTA's); with data each row's link is."""
    path, _ = _write(tmp_path, {**SCENE, "interactions": SCENE["interactions"][3:]})
    scene = yaml.safe_load(path.read_text())
    scene["fields"]["booking"] = {"type": "str"}
    path.write_text(yaml.safe_dump(scene, sort_keys=False))
    assert validate_scene(path, None, settings) == []
