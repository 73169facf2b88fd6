"""Hypothesis properties: scene parsing, CSV import and event validation fail only in their own way."""

from __future__ import annotations

import contextlib
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pvideo.db.models import Render
from pvideo.errors import DataError, SceneError
from pvideo.scene.customers import check_columns, coerce_row, iter_csv, parse_csv
from pvideo.scene.spec import SceneSpec, parse_scene
from pvideo.tracking.events import EventIn, check_event
from tests.conftest import CARD_SCENE

FAST = settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)

layer_keys = st.sampled_from(
    [
        "type",
        "id",
        "text",
        "start",
        "end",
        "box",
        "size",
        "color",
        "href",
        "label",
        "src",
        "background",
        "when",
        "x",
        "y",
        "w",
        "h",
        "fit",
        "shape",
    ]
)
layers = st.lists(
    st.dictionaries(
        layer_keys,
        json_values
        | st.sampled_from(
            [
                "text",
                "image",
                "cta",
                "shape",
                "{{ first_name }}",
                "{{ ''.__class__ }}",
                "https://x.example/",
                1,
                0.5,
                {"x": 0, "y": 0, "w": 10, "h": 10},
            ]
        ),
        max_size=8,
    ),
    max_size=4,
)


def _mutated_scene(data) -> dict:
    scene = json.loads(json.dumps(CARD_SCENE))
    key, value = data
    scene[key] = value
    return scene


@FAST
@given(
    st.one_of(
        json_values,
        st.builds(lambda items: {**CARD_SCENE, "layers": items}, layers),
        st.tuples(st.sampled_from([*list(CARD_SCENE), "extra"]), json_values).map(_mutated_scene),
    )
)
def test_scene_parsing_is_valid_or_scene_error(data):
    try:
        spec = parse_scene(data, source="fuzz.yaml")
    except SceneError as exc:
        assert "fuzz.yaml" in str(exc)
    else:
        assert isinstance(spec, SceneSpec)
        assert parse_scene(spec.to_json()) == spec  # plain data, round-trips


@FAST
@given(st.text(max_size=400))
def test_csv_import_is_rows_or_data_error(text):
    spec = parse_scene(CARD_SCENE)
    try:
        columns, rows = iter_csv(io.StringIO(text, newline=""), source="fuzz.csv")
        check_columns(spec, columns, source="fuzz.csv")
        for row in rows:
            with contextlib.suppress(DataError):
                coerce_row(spec, row.data, row=row.number, source="fuzz.csv")
    except DataError as exc:
        assert "fuzz.csv" in str(exc) or exc.args


@FAST
@given(
    st.lists(st.text(max_size=20), min_size=1, max_size=5),
    st.lists(st.lists(st.text(max_size=20), max_size=6), max_size=5),
)
def test_csv_round_trip_through_parse(header, rows):
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    try:
        _columns, parsed = parse_csv(out.getvalue(), source="fuzz.csv")
    except DataError:
        return
    assert len(parsed) <= len(rows) + 1 and all(r.number >= 1 for r in parsed)


event_fields = st.fixed_dictionaries(
    {},
    optional={
        "event_id": st.text(max_size=120) | json_values,
        "type": st.sampled_from(
            ["page_view", "play", "pause", "ping", "cta_click", "cta_impression", "end", "percent_progress", "x"]
        )
        | json_values,
        "position": st.floats(allow_nan=True, allow_infinity=True) | json_values,
        "cta_id": st.sampled_from(["buy", "nope"]) | json_values,
        "session_id": st.text(max_size=80) | json_values,
        "seq": st.integers() | json_values,
        "percent": st.integers() | json_values,
        "client_ts": st.sampled_from(["2026-01-01T00:00:00Z", "yesterday", "9999-99-99"]) | json_values,
        "duration": st.floats(allow_nan=True) | json_values,
        "detail": st.text(max_size=300) | json_values,
    },
)


@FAST
@given(st.one_of(event_fields, json_values))
def test_event_validation_is_event_or_value_error(raw):
    render = Render(id="r", hotspots=[{"id": "buy"}], duration=10.0)
    try:
        event = check_event(raw, render)
    except ValueError as exc:
        assert str(exc)
    else:
        assert isinstance(event, EventIn)
