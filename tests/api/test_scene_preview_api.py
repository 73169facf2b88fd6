"""``POST /api/scenes/preview``: a PNG of one frame, the same as ``pvideo preview``, with bounded cost."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from api.routes import scenes
from pvideo.access.apikeys import create_key
from tests.api.served import close_previews
from tests.conftest import API_KEY, CARD_SCENE, HEIGHT, WIDTH
from tests.preview_cli import cli_preview

AUTH = {"X-API-Key": API_KEY}
ROW = {"customer_id": "c1", "first_name": "Zoë", "price": "9.5"}
HELLO = (40, 40, 300, 80)  # the "hello" text layer's box, shown 1.0-2.0 s on #102040


@pytest.fixture()
def client(client):
    """The app's client; its warm preview child ends with the test."""
    yield client
    close_previews(client.app)


def _post(client, **body):
    return client.post(
        "/api/scenes/preview", headers=AUTH, json={"scene": yaml.safe_dump(CARD_SCENE), "row": ROW, "at": 1.5, **body}
    )


def _png(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        return np.asarray(image.convert("RGB"))


def _box(frame: np.ndarray, box=HELLO) -> np.ndarray:
    x, y, w, h = box
    return frame[y + 10 : y + h - 10, x + 10 : x + w - 10]


def test_preview_shows_the_personalized_text(client):
    frame = _png(_post(client))
    box = _box(frame)
    background = np.all(np.abs(box.astype(int) - (0x10, 0x20, 0x40)) <= 3, axis=2)
    white = np.all(box >= 230, axis=2)
    assert background.mean() > 0.5 and white.mean() > 0.03  # the text box, and glyphs in it
    later = _png(_post(client, at=2.5))  # the text layer ends at 2.0 s
    assert not np.all(np.abs(_box(later).astype(int) - (0x10, 0x20, 0x40)) <= 3, axis=2).mean() > 0.5
    other = _png(_post(client, row={**ROW, "first_name": "Maximilian"}))
    assert np.abs(_box(other).astype(int) - box.astype(int)).mean() > 5  # another name, other pixels


def test_preview_matches_the_cli(client, tmp_path, assets_dir, scenes_dir):
    out = cli_preview(CARD_SCENE, ROW, 1.5, tmp_path, assets_dir, scenes_dir)
    from_cli = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(_png(_post(client)), from_cli)
    assert np.array_equal(_png(_post(client, scene=CARD_SCENE)), from_cli)  # the scene as a JSON object


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"scene": "name: [unclosed"}, "not valid YAML"),
        ({"scene": "- a list"}, "must be a mapping"),
        (
            {"scene": {**CARD_SCENE, "layers": [{**CARD_SCENE["layers"][0], "size": -1}]}},
            "layer 1 (text 'hello'), field size",
        ),
        ({"scene": {**CARD_SCENE, "layers": [{"type": "sparkle"}]}}, "unknown layer type 'sparkle'"),
        ({"scene": {**CARD_SCENE, "video": "templates/missing.mp4"}}, "missing.mp4"),
        ({"row": {"customer_id": "c1", "price": "9"}}, "field 'first_name': missing required field"),
        ({"row": {**ROW, "price": "lots"}}, "field 'price': expected a number"),
        ({"at": 99}, "outside the video"),
        ({"scene": "a: &x [1]\nb: *x\n"}, "aliases"),
    ],
)
def test_bad_input_is_422_naming_the_problem(client, body, named):
    response = _post(client, **body)
    assert response.status_code == 422, response.text
    assert named in json.dumps(response.json()["detail"])


def test_oversized_scene_and_negative_time_are_refused(client):
    assert _post(client, scene="x" * (scenes.MAX_SCENE_CHARS + 1)).status_code == 422
    assert _post(client, at=-1).status_code == 422
    assert _post(client, row={f"f{i}": i for i in range(scenes.MAX_ROW_FIELDS + 1)}).status_code == 422


def test_needs_a_campaigns_key(client, runtime):
    assert client.post("/api/scenes/preview", json={"scene": "", "at": 0}).status_code == 401
    with runtime.db.session() as session:
        _, analytics_only = create_key(session, ["analytics"])
    response = client.post(
        "/api/scenes/preview",
        headers={"X-API-Key": analytics_only},
        json={"scene": yaml.safe_dump(CARD_SCENE), "row": ROW, "at": 1.5},
    )
    assert response.status_code == 403


def test_busy_previews_answer_429(client):
    slots = client.app.state.pvideo.previews
    held = 0
    while slots.acquire(blocking=False):
        held += 1
    try:
        response = _post(client)
        assert response.status_code == 429 and response.headers["retry-after"]
    finally:
        for _ in range(held):
            slots.release()
    assert _post(client).status_code == 200


def test_a_slow_preview_answers_504_and_frees_its_slot(client, monkeypatch):
    settings = client.app.state.pvideo.runtime.settings
    monkeypatch.setattr(settings, "preview_timeout_seconds", 0.01)
    response = _post(client)
    assert response.status_code == 504 and "longer than" in response.json()["detail"]
    monkeypatch.setattr(settings, "preview_timeout_seconds", 60)
    for _ in range(3):  # the killed child released its slot
        assert _post(client).status_code == 200
