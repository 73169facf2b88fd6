"""Scene scripts: loading, and error messages that name the file, the layer and the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from pvideo.errors import SceneError
from pvideo.scene.layers import CtaLayer, ImageLayer, TextLayer
from pvideo.scene.spec import SceneSpec, load_scene, parse_scene
from pvideo.settings import PROJECT_ROOT
from tests.conftest import CARD_SCENE


def _write(tmp_path: Path, data, name: str = "scene.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _scene_error(tmp_path: Path, mutate) -> tuple[Path, str]:
    data = copy.deepcopy(CARD_SCENE)
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(SceneError) as info:
        load_scene(path)
    return path, str(info.value)


# --- good scenes ---------------------------------------------------------------------------


def test_welcome_scene_loads():
    spec = load_scene(PROJECT_ROOT / "scenes" / "welcome.yaml")
    assert spec.name == "welcome"
    assert spec.video == "templates/welcome.mp4"
    assert [type(layer) for layer in spec.layers] == [ImageLayer, TextLayer, TextLayer, CtaLayer]
    assert [layer.id for layer in spec.layers] == ["logo", "greeting", "plan_line", "get_started"]
    assert spec.fields["plan"].default == "Basic" and spec.fields["plan"].required is False
    assert spec.fields["price"].type == "float" and spec.fields["price"].required is True
    assert spec.fields["email"].required is False


def test_card_scene_loads(card_spec):
    assert card_spec.name == "card"
    assert card_spec.video == "templates/tiny.mp4"
    hello, logo, buy = card_spec.layers
    assert isinstance(hello, TextLayer) and hello.text == "Hi {{ first_name }}!"
    assert (hello.box.x, hello.box.y, hello.box.w, hello.box.h) == (40, 40, 300, 80)
    assert hello.background == "#102040"
    assert isinstance(logo, ImageLayer) and logo.src == "logo.png"
    assert isinstance(buy, CtaLayer) and buy.id == "buy" and (buy.start, buy.end) == (2.5, 4.0)
    # defaults from the model
    assert hello.font == "Inter-Bold" and hello.min_size == 14 and hello.align == "left"


def test_spec_is_frozen(card_spec):
    with pytest.raises(Exception):
        card_spec.name = "other"  # type: ignore[misc]
    with pytest.raises(Exception):
        card_spec.layers[0].box.w = 1  # type: ignore[misc]


# --- bad layers: file, layer number/type/id and field in the message -----------------------


def test_unknown_layer_type_names_file_and_layer(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d["layers"][0].update(type="blink"))
    assert path.name in msg
    assert "layer 1" in msg and "'hello'" in msg
    assert "unknown layer type 'blink'" in msg
    assert "text, image, cta" in msg


def test_box_width_zero(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d["layers"][1]["box"].update(w=0))
    assert path.name in msg
    assert "layer 2 (image 'logo')" in msg
    assert "field box.w" in msg
    assert "greater than 0" in msg


def test_bad_color(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d["layers"][0].update(color="red"))
    assert path.name in msg
    assert "layer 1 (text 'hello')" in msg
    assert "field color" in msg
    assert "'red' is not a color" in msg


def test_bad_cta_background_color(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d["layers"][2].update(background="#12345"))
    assert path.name in msg
    assert "layer 3 (cta 'buy')" in msg and "field background" in msg


@pytest.mark.parametrize("end", [1.0, 0.5])
def test_end_not_after_start(tmp_path, end):
    path, msg = _scene_error(tmp_path, lambda d: d["layers"][0].update(start=1.0, end=end))
    assert path.name in msg
    assert "layer 1 (text 'hello')" in msg
    assert "end" in msg and "must be after start" in msg


def test_duplicate_cta_ids(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d["layers"].append(copy.deepcopy(d["layers"][2])))
    assert path.name in msg
    assert "duplicate CTA id 'buy'" in msg
    assert "layer 4 (cta 'buy')" in msg  # the second one is the culprit
    assert "field id" in msg


def test_extra_unknown_key_typo(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d["layers"][0].update(colour="#ffffff"))
    assert path.name in msg
    assert "layer 1 (text 'hello')" in msg
    assert "field colour" in msg
    assert "unknown key 'colour'; did you mean 'color'?" in msg


def test_extra_unknown_top_level_key(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d.update(vidoe="x.mp4"))
    assert path.name in msg and "field vidoe" in msg


def test_missing_video(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d.pop("video"))
    assert path.name in msg
    assert "field video" in msg and "required" in msg.lower()


def test_missing_layer_field(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d["layers"][1].pop("src"))
    assert path.name in msg and "layer 2 (image 'logo'), field src" in msg


def test_bad_cta_id(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d["layers"][2].update(id="buy-now"))
    assert path.name in msg and "layer 3 (cta 'buy-now'), field id" in msg


def test_every_problem_is_reported(tmp_path):
    def mutate(d):
        d["layers"][0].update(color="red")
        d["layers"][2]["box"].update(h=0)

    _, msg = _scene_error(tmp_path, mutate)
    lines = msg.splitlines()
    assert len(lines) == 2
    assert "layer 1 (text 'hello'), field color" in lines[0]
    assert "layer 3 (cta 'buy'), field box.h" in lines[1]


@pytest.mark.parametrize("content", ["- a\n- b\n", "just a string\n", "", "42\n"])
def test_non_mapping_yaml(tmp_path, content):
    path = tmp_path / "list.yaml"
    path.write_text(content)
    with pytest.raises(SceneError) as info:
        load_scene(path)
    assert path.name in str(info.value)
    assert "must be a mapping" in str(info.value)


def test_invalid_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\nvideo: x.mp4\n")
    with pytest.raises(SceneError) as info:
        load_scene(path)
    assert path.name in str(info.value)
    assert "not valid YAML" in str(info.value)


def test_file_not_found(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(SceneError) as info:
        load_scene(path)
    assert path.name in str(info.value) and "not found" in str(info.value)


def test_parse_scene_names_source():
    data = copy.deepcopy(CARD_SCENE)
    data["layers"][0]["box"]["h"] = -3
    with pytest.raises(SceneError) as info:
        parse_scene(data, source="campaign 42")
    assert str(info.value).startswith("campaign 42: layer 1 (text 'hello'), field box.h")


def test_field_default_must_match_type(tmp_path):
    path, msg = _scene_error(tmp_path, lambda d: d["fields"].update(price={"type": "float", "default": "abc"}))
    assert path.name in msg
    assert "fields.price" in msg and "default" in msg and "'abc'" in msg


def test_field_default_is_typed():
    data = copy.deepcopy(CARD_SCENE)
    data["fields"]["price"] = {"type": "float", "default": "2.5"}
    field = parse_scene(data).fields["price"]
    assert field.default == 2.5 and type(field.default) is float and field.required is False


# --- schema and plain-data round trip ------------------------------------------------------


def test_json_schema_discriminates_layers_on_type():
    schema = SceneSpec.model_json_schema()
    json.dumps(schema)  # plain JSON
    items = schema["properties"]["layers"]["items"]
    assert items["discriminator"]["propertyName"] == "type"
    assert set(items["discriminator"]["mapping"]) == {"text", "image", "cta", "shape", "video", "audio"}
    assert len(items["oneOf"]) == 6
    assert schema["$defs"]["TextLayer"]["additionalProperties"] is False
    assert set(schema["required"]) >= {"name", "video"}


@pytest.mark.parametrize("which", ["card", "welcome"])
def test_to_json_round_trips(card_spec, which):
    spec = card_spec if which == "card" else load_scene(PROJECT_ROOT / "scenes" / "welcome.yaml")
    data = spec.to_json()
    # plain data: survives JSON unchanged
    assert json.loads(json.dumps(data)) == data
    again = parse_scene(json.loads(json.dumps(data)))
    assert again == spec
    assert again.to_json() == data
