"""``pvideo validate`` on the issue #4 features: conditions, fonts, weights, filters, shapes."""

from __future__ import annotations

import copy

import yaml

from pvideo.jobs.validation import validate_scene
from tests.conftest import CARD_SCENE


def _scene(tmp_path, extra_layers, name="scene.yaml"):
    data = copy.deepcopy(CARD_SCENE)
    data["fields"]["renews"] = {"type": "str", "default": "2026-03-31"}
    data["layers"] += extra_layers
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


BOX = {"x": 300, "y": 100, "w": 200, "h": 60}


def test_good_scene_with_every_new_feature_is_ok(settings, tmp_path):
    scene = _scene(
        tmp_path,
        [
            {
                "type": "shape",
                "id": "badge",
                "shape": "rounded_rectangle",
                "fill": "#ff00ff",
                "stroke": {"width": 2, "color": "#ffffff"},
                "when": "plan == 'Pro'",
                "start": 0,
                "end": 2,
                "box": BOX,
            },
            {
                "type": "text",
                "id": "price",
                "text": "{{ price | money('EUR', 'de_DE') }} until {{ renews | date }}",
                "weight": "regular",
                "line_height": 1.2,
                "valign": "bottom",
                "stroke": {"width": 2},
                "shadow": {"dx": 2, "dy": 3},
                "padding": 4,
                "radius": 6,
                "start": 0,
                "end": 2,
                "box": BOX,
            },
        ],
    )
    data = tmp_path / "customers.csv"
    data.write_text("customer_id,first_name,price,plan\nc1,Ana,3,Pro\nc2,Bo,4.5,Basic\n")
    assert validate_scene(scene, None, settings) == []
    assert validate_scene(scene, data, settings) == []


def test_bad_when_expression_names_file_layer_and_field(settings, tmp_path):
    scene = _scene(tmp_path, [{"type": "shape", "id": "badge", "when": "plan ==", "start": 0, "end": 1, "box": BOX}])
    problems = validate_scene(scene, None, settings)
    assert len(problems) == 1
    assert str(scene) in problems[0] and "layer 4 (shape 'badge'), field when" in problems[0]
    assert "not a valid Jinja2 expression" in problems[0]


def test_when_on_an_unknown_field_is_reported_per_row(settings, tmp_path):
    scene = _scene(
        tmp_path, [{"type": "shape", "id": "badge", "when": "tier == 'gold'", "start": 0, "end": 1, "box": BOX}]
    )
    data = tmp_path / "customers.csv"
    data.write_text("customer_id,first_name,price\nc1,Ana,3\nc2,Bo,x\n")
    problems = validate_scene(scene, data, settings)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{data}, row 1, field 'layer 4 (shape 'badge') when'")
    assert "'tier' is undefined" in problems[0]
    assert problems[1] == f"{data}, row 2, field 'price': expected a number, got 'x'"


def test_unknown_font_is_reported_once_and_rows_still_checked(settings, tmp_path):
    scene = _scene(
        tmp_path,
        [
            {
                "type": "text",
                "id": "fancy",
                "text": "Hi",
                "font": "Comic",
                "weight": "bold",
                "start": 0,
                "end": 1,
                "box": BOX,
            }
        ],
    )
    data = tmp_path / "customers.csv"
    data.write_text("customer_id,first_name,price\nc1,Ana,3\nc2,Bo,x\nc3,Cy,4\n")
    problems = validate_scene(scene, data, settings)
    assert len(problems) == 2, problems
    assert str(scene) in problems[0] and "layer 4 (text 'fancy')" in problems[0]
    assert "unknown font 'Comic-Bold'" in problems[0] and "Inter-Bold" in problems[0]
    assert problems[1] == f"{data}, row 2, field 'price': expected a number, got 'x'"


def test_unknown_weight_and_shape_are_scene_errors(settings, tmp_path):
    scene = _scene(
        tmp_path,
        [
            {"type": "text", "id": "t", "text": "Hi", "weight": "heavy", "start": 0, "end": 1, "box": BOX},
            {"type": "shape", "id": "s", "shape": "star", "start": 0, "end": 1, "box": BOX},
        ],
    )
    problems = validate_scene(scene, None, settings)
    text = "\n".join(problems)
    assert "layer 4 (text 't'), field weight" in text and "'regular' or 'bold'" in text
    assert "layer 5 (shape 's'), field shape" in text


def test_filter_errors_name_the_row(settings, tmp_path):
    scene = _scene(
        tmp_path,
        [{"type": "text", "id": "renew", "text": "{{ renews | date('d MMMM y') }}", "start": 0, "end": 1, "box": BOX}],
    )
    data = tmp_path / "customers.csv"
    data.write_text("customer_id,first_name,price,renews\nc1,Ana,3,2026-01-02\nc2,Bo,4,next week\n")
    problems = validate_scene(scene, data, settings)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{data}, row 2, field 'layer 4 (text 'renew') text'")
    assert "expected a date" in problems[0]


def test_date_fields_are_typed(settings, tmp_path):
    scene = _scene(
        tmp_path,
        [
            {
                "type": "text",
                "id": "renew",
                "text": "{{ renews | date('long') }}",
                "when": "renews < '2027-01-01'",
                "start": 0,
                "end": 1,
                "box": BOX,
            }
        ],
    )
    data = yaml.safe_load(scene.read_text())
    data["fields"]["renews"] = {"type": "date"}
    scene.write_text(yaml.safe_dump(data, sort_keys=False))
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "customer_id,first_name,price,renews\nc1,Ana,3,2026-01-02\nc2,Bo,4,soon\n"
        "c3,Cy,5,2026-02-30\nc4,Di,6,2028-05-01T09:30:00\n"
    )
    problems = validate_scene(scene, customers, settings)
    assert problems == [
        f"{customers}, row 2, field 'renews': expected a date like 2026-03-31, got 'soon'",
        f"{customers}, row 3, field 'renews': expected a date like 2026-03-31, got '2026-02-30'",
    ]
    from pvideo.scene.customers import coerce_row
    from pvideo.scene.spec import load_scene

    spec = load_scene(scene)
    assert (
        coerce_row(spec, {"customer_id": "c", "first_name": "A", "price": 1, "renews": "2028-05-01T09:30:00"})["renews"]
        == "2028-05-01"
    )


def test_storage_pictures_are_read_from_the_configured_storage(settings, tmp_path):
    """Validation compiles with the storage renders use: a ``storage:`` picture that is there is
    fine, one that is not is reported for the row that names it."""
    from PIL import Image

    from pvideo.storage import storage_from_settings

    picture = tmp_path / "brand.png"
    Image.new("RGBA", (40, 40), (0, 128, 255, 255)).save(picture)
    storage_from_settings(settings).put_file("brands/c1.png", picture)
    layer = {"type": "image", "id": "brand", "src": "storage:brands/{{ customer_id }}.png", "start": 0, "end": 1}
    scene = _scene(tmp_path, [{**layer, "box": BOX}])
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,first_name,price\nc1,Ana,3\nc2,Bo,4\n")
    problems = validate_scene(scene, customers, settings)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{customers}, row 2") and "storage key 'brands/c2.png' not found" in problems[0]
