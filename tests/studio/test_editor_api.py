"""The scene editor's JSON API through the real app: parse, apply, preview (the sandbox's PNG),
save (a version a campaign pins), diff, schema, sample render and sample rows; marketing and
admins only for what changes or renders, CSRF on every POST, clear 413/422 answers."""

from __future__ import annotations

import io
import re
import time

import av
import numpy as np
import yaml
from PIL import Image
from sqlalchemy import select

from pvideo.db.models import Campaign
from pvideo.jobs import scenelibrary as library
from tests.conftest import CARD_SCENE
from tests.studio.conftest import csrf_of, sign_in_as
from tests.studio.test_library import submit_through_wizard

CARD = "# the card scene, as marketing keeps it\n" + yaml.safe_dump(CARD_SCENE, sort_keys=False)
BASE = "/studio/scenes/card/editor"
ROW = {"customer_id": "c1", "first_name": "Ann", "plan": "Gold", "price": 9.5}


def token(client) -> str:
    return csrf_of(client.get("/studio/scenes/card").text)


def post(client, path: str, body: dict, csrf: str | None = "fetch"):
    headers = {"X-CSRF-Token": token(client) if csrf == "fetch" else csrf} if csrf else {}
    return client.post(f"{BASE}/{path}", json=body, headers=headers)


def test_parse_answers_problems_frame_and_placed_layers(marketer):
    parsed = yaml.safe_load(CARD)
    parsed["layers"][2]["box"] = {"anchor": "bottom-right", "x": "10%", "y": 0, "w": "50%", "h": 60}
    sent = post(marketer, "parse", {"yaml": yaml.safe_dump(parsed, sort_keys=False)})
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["problems"] == []
    assert body["frame"] == {"width": 640, "height": 360} and body["duration"] == 4.0 and body["fps"] == 30.0
    hello, logo, cta = body["layers"]
    assert (hello["x"], hello["y"], hello["w"], hello["h"], hello["start"], hello["end"]) == (40, 40, 300, 80, 1, 2)
    assert hello["text"] == "Hi {{ first_name }}!" and hello["color"] == "#ffffff" and hello["type"] == "text"
    assert (cta["x"], cta["y"], cta["w"], cta["h"]) == (640 - 320 - 64, 360 - 60, 320, 60)  # anchors resolved
    assert cta["label"] == "Get {{ plan }}" and cta["href"].startswith("https://shop.example/")
    assert logo["id"] == "logo" and logo["index"] == 1
    assert {f["name"]: (f["type"], f["required"], f["default"]) for f in body["fields"]}["plan"] == (
        "str",
        False,
        "Basic",
    )

    open_end = CARD.replace("  end: 2.0\n", "", 1)
    assert post(marketer, "parse", {"yaml": open_end}).json()["layers"][0]["end"] == 4.0  # the video's end

    bad = post(marketer, "parse", {"yaml": CARD.replace("size: 48", "size: huge")}).json()
    assert bad["layers"] == [] and bad["problems"][0]["layer"] == 0 and bad["problems"][0]["field"] == "size"
    assert CARD.splitlines()[bad["problems"][0]["line"] - 1].strip() == "size: 48"
    broken = post(marketer, "parse", {"yaml": "name: [\n"})
    assert broken.status_code == 200 and broken.json()["layers"] == [] and broken.json()["problems"][0]["line"]


def test_limits_roles_and_csrf(marketer, client, runtime):
    assert post(marketer, "parse", {"yaml": "x" * 100_001}).status_code == 413
    assert post(marketer, "parse", {"yaml": "a: b\n", "pad": "x" * 500_000}).status_code == 413
    assert post(marketer, "parse", {"nope": 1}).status_code == 422
    assert post(marketer, "parse", {"yaml": CARD}, csrf=None).status_code == 403
    assert post(marketer, "parse", {"yaml": CARD}, csrf="forged").status_code == 403
    assert marketer.get(f"{BASE}/schema.json").json()["title"] == "SceneSpec"

    sign_in_as(client, runtime, "ann@example.com", "analyst")
    for path in ("parse", "apply", "preview", "save", "sample"):
        answer = post(client, path, {"yaml": CARD, "edits": [], "row": ROW, "at": 1})
        assert answer.status_code == 403, path
    assert client.get(f"{BASE}/rows").status_code == 403
    assert "layers" in client.get(f"{BASE}/schema.json").json()["properties"]  # analysts may read the schema


def test_apply_edits_keep_the_rest_and_refuse_impossible_ones(marketer):
    edits = [
        {"layer": 0, "set": {"text": "Hello {{ first_name }}", "x": 60, "color": "#ff0000"}},
        {"add": {"type": "text", "text": "P.S."}},
        {"remove": 1},
        {"move": 1, "to": 0},
    ]
    sent = post(marketer, "apply", {"yaml": CARD, "edits": edits})
    assert sent.status_code == 200, sent.text
    text = sent.json()["yaml"]
    assert text.startswith("# the card scene, as marketing keeps it\n")
    layers = yaml.safe_load(text)["layers"]
    assert [layer["id"] for layer in layers] == ["buy", "hello", "text_4"]
    assert layers[1]["text"] == "Hello {{ first_name }}" and layers[1]["box"]["x"] == 60

    for edit, field in (
        ({"layer": 7, "set": {"x": 1}}, None),
        ({"layer": 0, "set": {"colour": "#fff"}}, "colour"),
        ({"layer": 0, "set": {"color": "red"}}, "color"),
        ({"layer": 0, "set": {"w": -5}}, "box.w"),
        ({"add": {"type": "sparkles"}}, "type"),
    ):
        refused = post(marketer, "apply", {"yaml": CARD, "edits": [edit]})
        assert refused.status_code == 422, edit
        assert refused.json()["problems"][0]["field"] == field, refused.json()
    assert post(marketer, "apply", {"yaml": CARD, "edits": "no"}).status_code == 422


def box_mean(png: bytes, box=(40, 40, 300, 80)) -> np.ndarray:
    x, y, w, h = box
    frame = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    return frame[y + 5 : y + h - 5, x + 5 : x + w - 5].reshape(-1, 3).mean(axis=0)


def test_preview_is_the_sandbox_frame_and_follows_an_edit(marketer):
    first = post(marketer, "preview", {"yaml": CARD, "row": ROW, "at": 1.5})
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(first.content)).size == (640, 360)
    edited = post(marketer, "apply", {"yaml": CARD, "edits": [{"layer": 0, "set": {"background": "#e02020"}}]})
    second = post(marketer, "preview", {"yaml": edited.json()["yaml"], "row": ROW, "at": 1.5})
    assert second.status_code == 200
    before, after = box_mean(first.content), box_mean(second.content)
    assert before[2] > before[0] and after[0] > after[2] + 60  # the box went from dark blue to red
    outside = (400, 150, 80, 60)
    assert np.abs(box_mean(first.content, outside) - box_mean(second.content, outside)).max() < 3

    bad = post(marketer, "preview", {"yaml": CARD.replace("size: 48", "size: -1"), "row": ROW, "at": 1})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "size"
    assert post(marketer, "preview", {"yaml": CARD, "row": ROW, "at": -1}).status_code == 422


def test_save_makes_the_next_version_that_a_campaign_pins(marketer, runtime):
    first = post(marketer, "save", {"yaml": CARD, "note": "from the editor", "base": None})
    assert first.status_code == 200, first.text
    assert (
        first.json()["version"] == 1 and first.json()["url"] == "/studio/scenes/card" and "warning" not in first.json()
    )
    changed = CARD.replace("#102040", "#401020")
    second = post(marketer, "save", {"yaml": changed, "note": "warmer", "base": 1}).json()
    assert second["version"] == 2 and "warning" not in second
    stale = post(marketer, "save", {"yaml": changed.replace("Hi ", "Hey "), "note": "", "base": 1}).json()
    assert stale["version"] == 3 and "latest was version 2" in stale["warning"]
    refused = post(marketer, "save", {"yaml": CARD.replace("src: logo.png", "src: ../secret.png"), "base": 3})
    assert refused.status_code == 422 and refused.json()["problems"][0]["field"] == "src"
    with runtime.db.session() as session:
        versions = library.versions_of(session, "card")
        assert [v.number for v in versions] == [3, 2, 1]
        assert versions[1].yaml_text == changed and versions[1].note == "warmer"
        assert versions[1].author == "mia@example.com"
        latest_id = versions[0].id

    campaign_id = submit_through_wizard(marketer)
    with runtime.db.session() as session:
        assert session.scalar(select(Campaign.scene_version_id).where(Campaign.id == campaign_id)) == latest_id

    rows = marketer.get(f"{BASE}/rows").json()["rows"]
    assert [(r["row"], r["values"]["first_name"]) for r in rows] == [(1, "Ann"), (2, "Bob")]
    assert rows[0]["campaign"] == campaign_id

    diff = marketer.get(f"{BASE}/versions/1/diff/2")
    assert diff.status_code == 200
    assert re.search(r"<del[^>]*>.*background: &#39;#102040&#39;</del>", diff.text)
    assert re.search(r"<ins[^>]*>.*background: &#39;#401020&#39;</ins>", diff.text)
    assert "content-security-policy" in diff.headers
    assert marketer.get(f"{BASE}/versions/1/diff/9").status_code == 404
    page = marketer.get("/studio/scenes/card").text
    assert f"{BASE}/versions/2/diff/3" in page and f"{BASE}/versions/1/diff/2" in page


def test_a_diff_escapes_what_the_yaml_holds(marketer, runtime):
    with runtime.db.session() as session:
        library.save_version(session, "card", CARD, author="t")
        library.save_version(session, "card", CARD.replace("Hi {{", "<script>alert(1)</script> {{"), author="t")
        session.commit()
    page = marketer.get(f"{BASE}/versions/1/diff/2").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_sample_renders_the_whole_video_for_the_row(marketer):
    started = post(marketer, "sample", {"yaml": CARD, "row": ROW})
    assert started.status_code == 202, started.text
    urls = started.json()
    busy = post(marketer, "sample", {"yaml": CARD, "row": ROW})
    status = marketer.get(urls["status_url"]).json()
    if status["status"] == "rendering":
        assert busy.status_code == 429  # one sample at a time per user
    deadline = time.monotonic() + 300
    while status["status"] == "rendering" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = marketer.get(urls["status_url"]).json()
    assert status["status"] == "ready", status
    video = marketer.get(status["video_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 120  # 4 s at 30 fps: the whole video
    assert marketer.get(urls["status_url"].replace(urls["status_url"][-32:], "0" * 32)).status_code == 404
