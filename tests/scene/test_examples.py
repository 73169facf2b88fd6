"""Authoring help: the example scenes, ``pvideo validate`` reporting every problem, the scene reference doc."""

from __future__ import annotations

import io
import json
import re
import shutil

import pytest
import webvtt
import yaml
from typer.testing import CliRunner

from pvideo.cli import app
from pvideo.jobs.validation import validate_scene
from pvideo.plan.compiler import compile_plan
from pvideo.render import captions
from pvideo.render.probe import probe
from pvideo.scene import reference
from pvideo.scene.customers import coerce_row, read_customers
from pvideo.scene.spec import load_scene
from pvideo.settings import PROJECT_ROOT, Settings
from tests.conftest import CARD_SCENE, copy_assets

ASSETS, SCENES = PROJECT_ROOT / "assets", PROJECT_ROOT / "scenes"
EXAMPLES = {
    "welcome": "sample_customers.csv",
    "bill": "bill_customers.csv",
    "renewal": "renewal_customers.csv",
    "checkin": "checkin_customers.csv",
}


def _rows(name: str) -> dict[str, dict]:
    spec = load_scene(SCENES / f"{name}.yaml")
    return {r.data["customer_id"]: coerce_row(spec, r.data) for r in read_customers(ASSETS / EXAMPLES[name], spec)}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_scene_validates_on_a_small_bundled_template(name):
    settings = Settings(assets_dir=ASSETS, scenes_dir=SCENES)
    assert validate_scene(SCENES / f"{name}.yaml", ASSETS / EXAMPLES[name], settings) == []
    spec = load_scene(SCENES / f"{name}.yaml")
    template = ASSETS / spec.video
    info = probe(template)
    assert (info.width, info.height) == (1280, 720) and info.duration <= 30 and info.has_audio
    assert template.stat().st_size < 3 * 1024 * 1024
    vtt = webvtt.from_buffer(io.StringIO((ASSETS / spec.captions.src).read_text()))
    assert len(vtt.captions) >= 3 and spec.chapters
    assert 2 <= len(read_customers(ASSETS / EXAMPLES[name], spec)) <= 6


def _texts(cues) -> list[str]:
    return [c.text for c in cues]


def test_bill_formats_money_dates_numbers_and_plurals():
    spec, rows = load_scene(SCENES / "bill.yaml"), _rows("bill")
    dandre = rows["B-2002"]
    plan = compile_plan(spec, dandre, assets_dir=ASSETS)
    assert [h.label for h in plan.hotspots] == ["Pay $1,234.50"]
    lines = _texts(captions.caption_cues(spec, dandre, ASSETS))
    assert "D&#x27;Andre, your bill is $1,234.50." in lines or "D'Andre, your bill is $1,234.50." in lines
    assert "You used 5,120 kilowatt hours." in lines and "Pay by 20 December 2026." in lines
    assert [c.title for c in captions.scene_chapters(spec, dandre, 9.0)] == [
        "Your bill",
        "What changed",
        "Pay $1,234.50",
    ]
    # the late-fee line is a layer only for customers with fees
    layers = {o.layer for o in plan.overlays}
    assert any("late_fees" in name for name in layers)
    maya = compile_plan(spec, rows["B-2001"], assets_dir=ASSETS)
    assert not any("late_fees" in o.layer for o in maya.overlays)


def test_renewal_offer_section_is_kept_only_within_30_days():
    spec, rows = load_scene(SCENES / "renewal.yaml"), _rows("renewal")
    soon, later = (compile_plan(spec, rows[c], assets_dir=ASSETS) for c in ("R-3001", "R-3002"))
    assert [s.kept for s in soon.sections] == [True] and [s.kept for s in later.sections] == [False]
    assert [(h.start, h.end) for h in soon.hotspots] == [(9, 12)]
    assert [(h.start, h.end) for h in later.hotspots] == [(6, 9)]  # moved 3 s earlier
    assert not any("offer" in o.layer for o in later.overlays) or later.output_time(6) == later.output_time(9)
    cues = captions.retime(captions.caption_cues(spec, rows["R-3002"], ASSETS), later.output_time)
    assert not any("save" in c.text for c in cues)  # the offer's caption went with the offer
    assert (6.2, 8.8, "Renew in one click.") in [(round(c.start, 3), round(c.end, 3), c.text) for c in cues]
    track = captions.outputs_track(spec, rows["R-3002"], [h.to_json() for h in later.hotspots], 12.0, later.output_time)
    chapters, ctas = captions.read_track(captions.to_webvtt(track))
    assert [(c.start, c.end, c.title) for c in chapters] == [
        (0, 3, "Hello Kenji"),
        (3, 6, "Your Pro plan"),
        (6, 9, "Renew"),
    ]
    assert ctas == [{"id": "renew", "label": "Renew Pro", "start": 6.0, "end": 9.0}]


# -- pvideo validate: every problem, per row --------------------------------------------

BROKEN = {
    **CARD_SCENE,
    "name": "broken",
    "fields": {
        **CARD_SCENE["fields"],
        "avatar": {"type": "str"},
        "days_left": {"type": "int"},
        "link": {"type": "str"},
    },
    "sections": [{"name": "offer", "start": 1, "end": 2, "when": "days_left <= 30"}],
    "layers": [
        *CARD_SCENE["layers"],
        {
            "type": "image",
            "id": "avatar",
            "src": "avatars/{{ avatar }}.png",
            "start": 0,
            "end": 4,
            "box": {"x": 500, "y": 200, "w": 100, "h": 100},
        },
        {
            "type": "cta",
            "id": "more",
            "label": "More",
            "href": "{{ link }}",
            "start": 3,
            "end": 4,
            "box": {"x": 300, "y": 260, "w": 200, "h": 60},
        },
        {
            "type": "text",
            "id": "vip",
            "text": "VIP",
            "when": "nickname | length > 3",
            "start": 0,
            "end": 1,
            "box": {"x": 10, "y": 10, "w": 100, "h": 40},
        },
        {
            "type": "video",
            "id": "clip",
            "src": "clips/{{ plan }}.mp4",
            "start": 0,
            "end": 2,
            "box": {"x": 400, "y": 20, "w": 160, "h": 90},
        },
    ],
    "captions": {"lines": [{"start": 0, "end": 1, "text": "Hi {{ nickname }}"}]},
}
GOOD = {
    "customer_id": "c1",
    "first_name": "Ann",
    "price": 1,
    "avatar": "ann",
    "days_left": 3,
    "link": "https://x.example/a",
    "nickname": "Annie",
    "plan": "Basic",
}
CUSTOMERS = [
    GOOD,
    {**GOOD, "customer_id": "c2", "avatar": "nobody"},  # missing avatar
    {**GOOD, "customer_id": "c3", "link": "javascript:alert(1)", "avatar": "nobody"},  # two layers at once
    {**GOOD, "customer_id": "c4", "price": "lots", "days_left": "soon"},  # two bad fields
    {k: v for k, v in GOOD.items() if k != "nickname"} | {"customer_id": "c5"},  # when + caption fail
    {**GOOD, "customer_id": "c6", "plan": "Gold"},  # no clip for Gold
]


@pytest.fixture()
def broken(tmp_path, settings):
    assets = tmp_path / "assets"
    copy_assets(settings.assets_dir, assets)
    (assets / "avatars").mkdir()
    shutil.copy(assets / "logo.png", assets / "avatars" / "ann.png")
    (assets / "clips").mkdir()
    shutil.copy(assets / "templates" / "tiny.mp4", assets / "clips" / "Basic.mp4")
    scene = tmp_path / "broken.yaml"
    scene.write_text(yaml.safe_dump(BROKEN, sort_keys=False))
    data = tmp_path / "customers.json"
    data.write_text(json.dumps(CUSTOMERS))
    return scene, data, settings.model_copy(update={"assets_dir": assets})


def test_validate_reports_every_problem_of_every_row(broken):
    scene, data, settings = broken
    problems = validate_scene(scene, data, settings)
    expected = [
        (2, "src", "avatars/nobody.png"),
        (3, "src", "avatars/nobody.png"),
        (3, "href", "javascript:alert(1)"),
        (4, "price", "expected a number"),
        (4, "days_left", "expected an integer"),
        (5, None, "nickname"),  # the layer's when
        (6, "src", "clips/Gold.mp4"),
    ]
    for row, field, fragment in expected:
        where = f"{data}, row {row}" + (f", field '{field}'" if field else "")
        assert any(p.startswith(where) and fragment in p for p in problems), (row, field, fragment, problems)
    assert not any(", row 1" in p for p in problems)
    row5 = [p for p in problems if ", row 5" in p]
    assert any("layer 6 (text 'vip')" in p for p in row5) and any("captions line 1" in p for p in row5)
    assert not (settings.data_dir / "storage").exists()  # nothing was rendered or stored


def test_validate_reports_a_failing_section_condition(broken):
    scene, data, settings = broken
    data.write_text(json.dumps([{**GOOD, "days_left": None}]))
    BROKEN_WITH_OPTIONAL = {**BROKEN, "fields": {**BROKEN["fields"], "days_left": {"type": "int", "required": False}}}
    scene.write_text(yaml.safe_dump(BROKEN_WITH_OPTIONAL, sort_keys=False))
    problems = validate_scene(scene, data, settings)
    assert any("row 1" in p and "section 'offer' when" in p for p in problems), problems


def test_validate_cli_lists_problems_and_fails(broken, tmp_path):
    scene, data, settings = broken
    env = {
        "PVIDEO_ASSETS_DIR": str(settings.assets_dir),
        "PVIDEO_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "2000",
        "NO_COLOR": "1",
    }
    result = CliRunner().invoke(app, ["validate", str(scene), "--data", str(data)], env=env)
    assert result.exit_code == 1
    assert re.search(r"(\d+) problem\(s\) found", result.output).group(1) == str(
        len(validate_scene(scene, data, settings))
    )


def test_scene_wide_problems_are_reported_once(broken):
    scene, data, settings = broken
    scene.write_text(
        yaml.safe_dump(
            {**BROKEN, "video": "templates/gone.mp4", "captions": {"src": "templates/gone.vtt"}}, sort_keys=False
        )
    )
    problems = validate_scene(scene, data, settings)
    assert sum("gone.mp4" in p for p in problems) == 1 and sum("gone.vtt" in p for p in problems) == 1
    (settings.assets_dir / "bad.vtt").write_text("not a caption file")
    scene.write_text(yaml.safe_dump({**BROKEN, "captions": {"src": "bad.vtt"}}, sort_keys=False))
    assert [p for p in validate_scene(scene, data, settings) if "bad.vtt" in p] == [
        f"{scene}: captions 'bad.vtt' is not a valid WebVTT file: Invalid format"
    ]


# -- the scene reference (docs/scene-reference.md) -----------------------------------------

REGENERATE = "run: python3 -m pvideo.scene.reference"


def test_scene_reference_doc_is_what_the_schema_generates():
    doc = reference.DOC.read_text(encoding="utf-8")
    assert reference.START in doc and reference.END in doc, f"{reference.DOC} lost its markers; {REGENERATE}"
    block = reference.START + doc.split(reference.START, 1)[1].split(reference.END, 1)[0] + reference.END
    assert block == reference.markdown(), f"{reference.DOC} is stale; {REGENERATE}"


def test_scene_reference_names_every_option_of_every_object():
    sections = dict(re.findall(r'<a id="([\w-]+)"></a>\n(.*?)(?=\n<a id=|\Z)', reference.markdown(), re.S))
    for name, schema in reference.models().items():
        anchor = reference._anchor(name)
        assert anchor in sections, f"{name} is missing from the scene reference"
        for option in schema.get("properties", {}):
            assert f"| `{option}` |" in sections[anchor], f"{name}.{option} is missing from the scene reference"


def test_reference_module_rewrites_only_the_block(tmp_path, capsys):
    doc = tmp_path / "reference.md"
    doc.write_text(f"# x\n\n{reference.START}\nstale\n{reference.END}\n\nafter\n")
    reference.main([str(doc)])
    assert "updated" in capsys.readouterr().out
    text = doc.read_text()
    assert text == f"# x\n\n{reference.markdown()}\n\nafter\n"
    reference.main([str(doc)])
    assert "already up to date" in capsys.readouterr().out and doc.read_text() == text
    doc.write_text("no markers\n")
    with pytest.raises(ValueError, match="no generated scene reference block"):
        reference.update(doc)


def test_schema_cli_prints_and_rewrites_the_reference(tmp_path):
    result = CliRunner().invoke(app, ["schema", "--markdown"])
    assert result.exit_code == 0 and result.output.strip() == reference.markdown()
    doc = tmp_path / "scene-reference.md"
    doc.write_text(f"# x\n\n{reference.START}\nstale\n{reference.END}\n\nafter\n")
    result = CliRunner().invoke(app, ["schema", "--readme", str(doc)])
    assert result.exit_code == 0 and "updated" in result.output
    text = doc.read_text()
    assert reference.markdown() in text and text.endswith("\n\nafter\n") and "stale" not in text
    assert json.loads(CliRunner().invoke(app, ["schema"]).output)["title"] == "SceneSpec"
