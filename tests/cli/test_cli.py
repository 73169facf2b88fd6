"""The ``pvideo`` command line: schema, validate and render, driven through Typer's CliRunner."""

from __future__ import annotations

import copy
import json
import re

import av
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from pvideo.cli import app
from tests.conftest import CARD_SCENE, FPS, HEIGHT, SECONDS, WIDTH

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@pytest.fixture()
def run(tmp_path, assets_dir, scenes_dir):
    runner = CliRunner()
    env = {
        "PVIDEO_ASSETS_DIR": str(assets_dir),
        "PVIDEO_SCENES_DIR": str(scenes_dir),
        "PVIDEO_DATA_DIR": str(tmp_path / "data"),
        "PVIDEO_X264_PRESET": "ultrafast",
        # Rich wraps stderr at the terminal width; keep one problem per line for the asserts.
        "COLUMNS": "2000",
        "TERM": "xterm",
        "NO_COLOR": "1",
    }

    def invoke(*args: str):
        result = runner.invoke(app, [str(a) for a in args], env=env)
        result.clean_out = _ANSI.sub("", result.stdout)
        result.clean_err = _ANSI.sub("", result.stderr)
        return result

    return invoke


def test_schema_prints_json(run):
    result = run("schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["title"] == "SceneSpec"
    assert schema["properties"]["layers"]["items"]["discriminator"]["propertyName"] == "type"


def test_validate_card_ok(run, scenes_dir):
    scene = scenes_dir / "card.yaml"
    result = run("validate", scene)
    assert result.exit_code == 0, result.output
    assert "ok" in result.clean_out and str(scene) in result.clean_out
    assert result.clean_err == ""


def test_validate_card_with_good_data(run, scenes_dir, tmp_path):
    data = tmp_path / "good.csv"
    data.write_text('customer_id,first_name,price\nc1,Ana,3\nc2,"O\'Brien, ""Bo""",4.5\n')
    result = run("validate", scenes_dir / "card.yaml", "--data", data)
    assert result.exit_code == 0, result.output
    assert str(data) in result.clean_out


def test_validate_reports_every_bad_row(run, tmp_path):
    scene_data = copy.deepcopy(CARD_SCENE)
    scene_data["fields"]["link"] = {"type": "str"}
    scene_data["layers"].append(
        {
            "type": "cta",
            "id": "more",
            "label": "More",
            "href": "{{ link }}",
            "start": 0,
            "end": 2,
            "box": {"x": 300, "y": 260, "w": 200, "h": 60},
        }
    )
    scene = tmp_path / "linked.yaml"
    scene.write_text(yaml.safe_dump(scene_data, sort_keys=False))
    data = tmp_path / "bad.csv"
    data.write_text(
        "customer_id,first_name,price,link\n"
        "c1,Ana,3,https://x.example/a\n"  # row 1: fine
        "c2,Bo,abc,https://x.example/b\n"  # row 2: bad price
        "c3,,4,https://x.example/c\n"  # row 3: missing first_name
        "c4,Cy,5,javascript:alert(1)\n"  # row 4: bad href
        "c5,Di,6,https://x.example/e\n"
    )  # row 5: fine
    result = run("validate", scene, "--data", data)
    assert result.exit_code == 1, result.output
    err = result.clean_err
    lines = [line for line in err.splitlines() if line.startswith(str(data))]
    assert len(lines) == 3, err
    assert lines[0] == f"{data}, row 2, field 'price': expected a number, got 'abc'"
    assert lines[1] == f"{data}, row 3, field 'first_name': missing required field"
    assert lines[2].startswith(f"{data}, row 4, field 'href': ")
    assert "layer 4 (cta 'more')" in lines[2] and "javascript" in lines[2]
    assert "3 problem(s) found" in err
    assert "row 1," not in err and "row 5," not in err


def test_validate_missing_column(run, scenes_dir, tmp_path):
    data = tmp_path / "nocol.csv"
    data.write_text("customer_id,price\nc1,3\n")
    result = run("validate", scenes_dir / "card.yaml", "--data", data)
    assert result.exit_code == 1
    assert str(data) in result.clean_err and "first_name" in result.clean_err


def test_validate_unknown_layer_type(run, tmp_path):
    scene_data = copy.deepcopy(CARD_SCENE)
    scene_data["layers"][1]["type"] = "blink"
    scene = tmp_path / "blink.yaml"
    scene.write_text(yaml.safe_dump(scene_data, sort_keys=False))
    result = run("validate", scene)
    assert result.exit_code == 1
    err = result.clean_err
    assert str(scene) in err
    assert "layer 2" in err and "'logo'" in err and "unknown layer type 'blink'" in err


def test_validate_missing_scene_file(run, tmp_path):
    result = run("validate", tmp_path / "nope.yaml")
    assert result.exit_code == 1
    assert "nope.yaml" in result.clean_err and "not found" in result.clean_err


def test_validate_missing_asset(run, tmp_path):
    scene_data = copy.deepcopy(CARD_SCENE)
    scene_data["layers"][1]["src"] = "gone.png"
    scene = tmp_path / "gone.yaml"
    scene.write_text(yaml.safe_dump(scene_data, sort_keys=False))
    result = run("validate", scene)
    assert result.exit_code == 1
    assert "gone.png" in result.clean_err and "layer 2" in result.clean_err


def test_render_writes_mp4_and_poster(run, scenes_dir, tmp_path):
    out = tmp_path / "out" / "out.mp4"
    result = run(
        "render",
        scenes_dir / "card.yaml",
        "--row",
        "customer_id=c1",
        "--row",
        "first_name=Ana",
        "--row",
        "price=3",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    assert out.is_file() and out.stat().st_size > 0
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (WIDTH, HEIGHT)
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == FPS * SECONDS == 120
    poster = out.with_suffix(".jpg")
    with Image.open(poster) as image:
        assert image.format == "JPEG" and image.size == (WIDTH, HEIGHT)
    assert str(out) in result.clean_out
    assert "CTA buy: https://shop.example/buy?c=c1" in result.clean_out


def test_render_bad_row_fails_cleanly(run, scenes_dir, tmp_path):
    out = tmp_path / "bad.mp4"
    result = run(
        "render",
        scenes_dir / "card.yaml",
        "--row",
        "customer_id=c1",
        "--row",
        "first_name=Ana",
        "--row",
        "price=cheap",
        "-o",
        out,
    )
    assert result.exit_code == 1
    assert "field 'price'" in result.clean_err and "cheap" in result.clean_err
    assert not out.exists()


def test_render_row_without_equals(run, scenes_dir, tmp_path):
    result = run("render", scenes_dir / "card.yaml", "--row", "first_name", "-o", tmp_path / "x.mp4")
    assert result.exit_code == 1
    assert "key=value" in result.clean_err
