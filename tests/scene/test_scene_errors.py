"""Scene mistakes point at the line and column, suggest the key meant, and never show a server path."""

from __future__ import annotations

import pytest

from pvideo.errors import SceneError
from pvideo.scene.marks import did_you_mean, yaml_marks
from pvideo.scene.spec import SceneSpec, load_scene
from tests.conftest import API_KEY

TYPO_SCENE = """\
name: typo
video: templates/tiny.mp4
fields:
  first_name: {tpye: str}
layers:
  - type: text
    id: hello
    text: "Hi {{ first_name }}"
    sise: 72
    box: {x: 40, y: 40, w: 300, h: 0}
    start: 0
    end: 2
vidoe: other.mp4
"""


def _error(tmp_path, text: str, name: str = "typo.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SceneError) as info:
        load_scene(path)
    return str(info.value)


def test_unknown_key_has_line_column_and_did_you_mean(tmp_path):
    lines = _error(tmp_path, TYPO_SCENE).splitlines()
    assert (
        "typo.yaml, line 9, column 5: layer 1 (text 'hello'), field sise: unknown key 'sise'; did you mean 'size'?"
        in lines
    )
    assert (
        "typo.yaml, line 4, column 16: field fields.first_name.tpye: unknown key 'tpye'; did you mean 'type'?" in lines
    )
    assert "typo.yaml, line 13, column 1: field vidoe: unknown key 'vidoe'; did you mean 'video'?" in lines


def test_bad_value_points_at_its_key(tmp_path):
    msg = _error(tmp_path, TYPO_SCENE)
    assert "typo.yaml, line 10, column 33: layer 1 (text 'hello'), field box.h: Input should be greater than 0" in msg


def test_layer_level_problem_points_at_the_layer(tmp_path):
    text = (
        TYPO_SCENE.replace("    sise: 72\n", "")
        .replace("h: 0", "h: 80")
        .replace("  first_name: {tpye: str}\n", "  first_name: {}\n")
    )
    text = text.replace("vidoe: other.mp4\n", "").replace("end: 2", "end: 0.5").replace("start: 0", "start: 1")
    msg = _error(tmp_path, text)
    assert msg.startswith("typo.yaml, line 6, column 5: layer 1 (text 'hello'): end (0.5) must be after start")


def test_no_suggestion_for_a_key_like_nothing_known(tmp_path):
    msg = _error(tmp_path, TYPO_SCENE.replace("sise: 72", "zzqqxx: 72"))
    assert "unknown key 'zzqqxx'" in msg and "zzqqxx'; did you mean" not in msg


def test_suggestions_come_from_the_model_at_that_place():
    assert did_you_mean(SceneSpec, ("layers", 0, "cta", "hreff")) == "href"
    assert did_you_mean(SceneSpec, ("layers", 0, "text", "colour")) == "color"
    assert did_you_mean(SceneSpec, ("layers", 0, "text", "box", "depth")) is None
    assert did_you_mean(SceneSpec, ("layers", 0, "text", "animate", "inn")) == "in"  # the YAML alias
    assert did_you_mean(SceneSpec, ("thumbnail", "durration")) == "duration"


def test_marks_of_keys_and_items():
    marks = yaml_marks("a:\n  - x: 1\n    y: [2, 3]\n")
    assert marks[("a",)] == (1, 1)
    assert marks[("a", 0)] == (2, 5)
    assert marks[("a", 0, "y", 1)] == (3, 12)


def test_message_names_the_file_not_its_folder(tmp_path):
    msg = _error(tmp_path, TYPO_SCENE)
    assert str(tmp_path) not in msg and "typo.yaml" in msg
    missing = tmp_path / "gone.yaml"
    with pytest.raises(SceneError) as info:
        load_scene(missing)
    assert str(info.value) == "gone.yaml: scene file not found"


def test_api_answer_has_line_and_no_server_path(client, settings):
    (settings.scenes_dir / "typo.yaml").write_text(TYPO_SCENE)
    try:
        response = client.post(
            "/api/campaigns", json={"scene": "typo", "rows": [{"first_name": "Ana"}]}, headers={"X-API-Key": API_KEY}
        )
    finally:
        (settings.scenes_dir / "typo.yaml").unlink()
    assert response.status_code == 422
    assert "typo.yaml, line 9, column 5" in response.text and "did you mean 'size'?" in response.text
    assert str(settings.scenes_dir) not in response.text


def test_unknown_layer_type_points_at_type_with_a_suggestion(tmp_path):
    lines = _error(tmp_path, TYPO_SCENE.replace("type: text", "type: txt")).splitlines()
    expected = "typo.yaml, line 6, column 5: layer 1 (txt 'hello'): unknown layer type 'txt'; did you mean 'text'?"
    assert any(line.startswith(expected) for line in lines)


def test_duplicate_cta_id_points_at_the_second_id(tmp_path):
    cta = "  - {type: cta, id: buy, label: Buy, href: 'https://x.example', start: 0, end: 1, box: {x: 0, y: 0, w: 9, h: 9}}\n"
    text = TYPO_SCENE.replace("vidoe: other.mp4\n", "").replace("layers:\n", "layers:\n" + cta + cta)
    msg = _error(tmp_path, text.replace("    sise: 72\n", "").replace("h: 0", "h: 8").replace("tpye", "type"))
    assert msg == (
        "typo.yaml, line 7, column 17: layer 2 (cta 'buy'), field id: duplicate CTA id 'buy', already used by layer 1"
    )
