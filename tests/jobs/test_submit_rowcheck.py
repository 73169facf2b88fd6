"""Submit rejects every row bound to fail: what ``RowCheck`` finds is exactly what ``compile_plan`` raises.

A row whose CTA link from the data is not http(s), whose template names a value the
row lacks, or whose data picks a missing asset is in the 201 answer's ``rejected``
list, not queued to fail at render time.
"""

from __future__ import annotations

import pytest
import yaml

from pvideo.errors import PvideoError
from pvideo.jobs.rowcheck import RowCheck
from pvideo.plan.compiler import compile_plan
from pvideo.render.captions import caption_cues, scene_chapters
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from tests.conftest import API_KEY, drain

LINK_SCENE = {
    "name": "linkcard",
    "video": "templates/tiny.mp4",
    "poster_at": 1.0,
    "fields": {
        "customer_id": {"type": "str"},
        "first_name": {"type": "str"},
        "offer_url": {"type": "str"},
        "vip": {"type": "bool", "default": False},
        "photo": {"type": "str", "default": " "},
    },
    "sections": [{"name": "vip", "start": 3.0, "end": 4.0, "when": "vip"}],
    "captions": {
        "lines": [
            {"start": 0, "end": 1, "text": "Hi {{ first_name }}"},
            {"start": 1, "end": 2, "text": "{{ caption_extra }}", "when": "photo == 'logo.png'"},
        ]
    },
    "chapters": [{"start": 0, "title": "For {{ first_name | upper }}"}],
    "layers": [
        {
            "type": "text",
            "id": "hello",
            "text": "Hi {{ first_name }}!",
            "start": 0,
            "end": 1,
            "box": {"x": 20, "y": 20, "w": 200, "h": 60},
        },
        {
            "type": "cta",
            "id": "buy",
            "label": "Buy",
            "href": "{{ offer_url }}",
            "start": 1,
            "end": 2,
            "box": {"x": 20, "y": 100, "w": 160, "h": 50},
        },
        {
            "type": "cta",
            "id": "club",
            "label": "Club",
            "href": "{{ club_url }}",  # not a declared field: a vip row must carry it
            "when": "vip",
            "start": 1,
            "end": 2,
            "box": {"x": 200, "y": 100, "w": 160, "h": 50},
        },
        {
            "type": "image",
            "id": "photo",
            "src": "{{ photo }}",
            "start": 0,
            "end": 2,
            "box": {"x": 400, "y": 20, "w": 80, "h": 80},
        },
        {
            "type": "cta",
            "id": "late",
            "label": "Later",
            "href": "{{ late_url }}",  # only in the vip section: skipped for everyone else
            "start": 3.0,
            "end": 4.0,
            "box": {"x": 20, "y": 200, "w": 160, "h": 50},
        },
    ],
}

GOOD = {"customer_id": "c1", "first_name": "Ana", "offer_url": "https://shop.example/o?c=1"}
ROWS = [
    GOOD,
    {**GOOD, "customer_id": "c2", "offer_url": "ftp://shop.example/o"},
    {**GOOD, "customer_id": "c3", "offer_url": "javascript:alert(1)"},
    {**GOOD, "customer_id": "c4", "offer_url": "https://shop.example/a b"},
    {**GOOD, "customer_id": "c5", "vip": "yes"},  # no club_url, no late_url
    {**GOOD, "customer_id": "c6", "vip": "yes", "club_url": "https://club.example", "late_url": "https://x.example"},
    {**GOOD, "customer_id": "c7", "photo": "missing.png"},
    {**GOOD, "customer_id": "c8", "photo": "logo.png"},  # no caption_extra for its caption line
    {**GOOD, "customer_id": "c9", "vip": "yes", "club_url": "https://club.example", "late_url": "mailto:a@b"},
    {**GOOD, "customer_id": "c10", "photo": "logo.png", "caption_extra": "Nice photo"},
    {**GOOD, "customer_id": "c11", "offer_url": ""},  # a missing field: rejected before any compile
]
REJECTED = {
    2: "(cta 'buy')",
    3: "(cta 'buy')",
    4: "(cta 'buy')",
    5: "(cta 'club')",
    7: "(image 'photo')",
    8: "captions line 2",
    9: "(cta 'late')",
    11: None,
}


@pytest.fixture()
def spec():
    return parse_scene(LINK_SCENE)


def test_row_check_fails_exactly_the_rows_compile_fails(spec, assets_dir):
    check = RowCheck(spec, assets_dir)
    for number, raw in enumerate(ROWS[:-1], start=1):
        data = coerce_row(spec, raw)
        problem = check.problem(data, number=number, source="people.csv")
        try:  # what a render runs on the row before any encoding
            compile_plan(spec, data, assets_dir=assets_dir, row_number=number)
            caption_cues(spec, data, assets_dir)
            scene_chapters(spec, data, 10.0)
        except PvideoError as exc:
            assert problem is not None, f"row {number} fails to compile ({exc}) but passes the check"
            reason = exc.reason.replace(f" in {assets_dir.resolve()}", "")  # type: ignore[attr-defined]
            assert (problem.reason, problem.field) == (reason, exc.field)  # type: ignore[attr-defined]
            assert str(problem).startswith(f"people.csv, row {number}, field ")
            assert REJECTED[number] in problem.reason
        else:
            assert problem is None, f"row {number} compiles but the check says {problem}"
            assert number not in REJECTED
    assert str(check.problem(coerce_row(spec, ROWS[1]), number=2, source="people.csv")) == (
        "people.csv, row 2, field 'href': layer 2 (cta 'buy') href 'ftp://shop.example/o':"
        " link scheme 'ftp' is not allowed; use http or https"
    )
    assert str(check.problem(coerce_row(spec, ROWS[7]), number=8, source="people.csv")) == (
        "people.csv, row 8, field 'captions line 2 text': captions line 2: 'caption_extra' is undefined"
    )
    missing = check.problem(coerce_row(spec, ROWS[6]), number=7, source="people.csv")
    assert missing is not None and str(assets_dir) not in str(missing)  # no server folder in an answer


@pytest.fixture()
def link_scene(scenes_dir):
    (scenes_dir / "linkcard.yaml").write_text(yaml.safe_dump(LINK_SCENE, sort_keys=False))
    return "linkcard"


def test_api_answer_rejects_every_row_bound_to_fail(client, link_scene):
    response = client.post("/api/campaigns", headers={"X-API-Key": API_KEY}, json={"scene": link_scene, "rows": ROWS})
    assert response.status_code == 201, response.text
    submitted = response.json()
    assert submitted["rejected_count"] == len(REJECTED) and submitted["queued"] == len(ROWS) - len(REJECTED)
    errors = {r["row"]: r["error"] for r in submitted["rejected"]}
    assert sorted(errors) == sorted(REJECTED)
    assert errors[2].startswith("rows, row 2, field 'href': layer 2 (cta 'buy') href 'ftp://shop.example/o'")
    assert errors[5].startswith("rows, row 5, field 'layer 3 (cta 'club') href': layer 3 (cta 'club'):")
    assert "'club_url' is undefined" in errors[5]
    assert errors[11] == "rows, row 11, field 'offer_url': missing required field"
    drain(client)  # what was queued renders: no row fails later than the answer said
    counts = client.get(f"/api/campaigns/{submitted['id']}", headers={"X-API-Key": API_KEY}).json()["counts"]
    assert counts["done"] == len(ROWS) - len(REJECTED) and counts["failed"] == len(REJECTED)


def test_remembered_outcomes_are_per_value_and_per_row(spec, assets_dir):
    check = RowCheck(spec, assets_dir)
    bad = coerce_row(spec, ROWS[1])
    first, again = (check.problem(bad, number=n, source="t.csv") for n in (2, 12))
    assert first is not None and again is not None and first is not again
    assert str(first).startswith("t.csv, row 2, field 'href'") and str(again).startswith("t.csv, row 12, field 'href'")
    assert again.__traceback__ is None or again.__traceback__.tb_next is None  # not growing with each reuse
    assert check.problem(coerce_row(spec, GOOD), number=3, source="t.csv") is None
    # a value from a JSON row that cannot be a key is checked, just not remembered
    unhashable = {**coerce_row(spec, GOOD), "first_name": ["Ana", "Bo"]}
    assert check.problem(unhashable, number=4, source="t.json") is None
