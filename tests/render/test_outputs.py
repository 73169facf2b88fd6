"""Outputs stored with each render: animated GIF/WebP thumbnails, captions, the chapter/CTA track."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser

import numpy as np
import pytest
import webvtt
import yaml
from fastapi.testclient import TestClient
from PIL import Image

from api.main import create_app
from pvideo.render import thumbnails
from pvideo.render.captions import cue_text, read_track
from pvideo.settings import Settings
from tests.conftest import API_KEY, CARD_SCENE, SECRET, copy_assets, drain
from tests.media import frames_rgb

AUTH = {"X-API-Key": API_KEY}
TEMPLATE_VTT = """WEBVTT

NOTE the template's own captions

intro
00:00:00.000 --> 00:00:01.000
Welcome to <i>Northwind</i>

00:00:02.000 --> 00:00:03.500
Here is what's next
"""
SCENE = {
    **CARD_SCENE,
    "name": "outputs",
    "thumbnail": {"start": 1.0, "duration": 1.0},
    "captions": {
        "src": "templates/tiny.vtt",
        "language": "en-GB",
        "lines": [
            {"start": 1.0, "end": 2.0, "text": "Hello {{ first_name }}, your {{ plan }} plan"},
            {"start": 3.0, "end": 3.5, "text": "Pro perks", "when": "plan == 'Pro'"},
        ],
    },
    "chapters": [
        {"start": 0, "title": "Intro"},
        {"start": 1.5, "title": "{{ first_name }}'s plan"},
        {"start": 3, "title": "Next"},
    ],
}
ROWS = [
    {"customer_id": "c1", "first_name": "Ann", "price": 9},
    {"customer_id": "c2", "first_name": "Maximilian <&>", "plan": "Pro", "price": 9},
]
SECTIONED = {
    **SCENE,
    "name": "sectioned",
    "sections": [{"name": "hello", "start": 1, "end": 2, "when": "plan != 'Pro'"}],
}
GIF_SIZE = (480, 270)  # 640x360 scaled to the ladder's first width
TEXT_BOX = (30, 30, 225, 60)  # the "hello" layer's box (40, 40, 300, 80) at 3/4 scale


@pytest.fixture(scope="module")
def outputs_client(assets_dir, tmp_path_factory):
    """One app for the module (its campaigns are rendered once, see ``_campaign``)."""
    root = tmp_path_factory.mktemp("outputs")
    assets, scenes = root / "assets", root / "scenes"
    copy_assets(assets_dir, assets)
    (assets / "templates" / "tiny.vtt").write_text(TEMPLATE_VTT)
    scenes.mkdir()
    (scenes / "outputs.yaml").write_text(yaml.safe_dump(SCENE, sort_keys=False))
    (scenes / "sectioned.yaml").write_text(yaml.safe_dump(SECTIONED, sort_keys=False))
    from pvideo.runtime import Runtime

    runtime = Runtime.from_settings(
        Settings(
            data_dir=root / "data",
            assets_dir=assets,
            scenes_dir=scenes,
            secret_key=SECRET,
            api_keys=[API_KEY],
            x264_preset="ultrafast",
            public_base_url="http://testserver",
            ffmpeg_timeout=120,
        )
    )
    with TestClient(create_app(runtime=runtime)) as client:
        client.campaigns = {}
        yield client
    runtime.db.dispose()


def _campaign(client, outputs: str = "both") -> list[dict]:
    if outputs not in client.campaigns:
        rows = ROWS if outputs == "both" else [{**r, "first_name": f"{r['first_name']} {outputs}"} for r in ROWS]
        response = client.post(
            "/api/campaigns", headers=AUTH, json={"scene": "outputs", "rows": rows, "outputs": outputs}
        )
        assert response.status_code == 201, response.text
        drain(client)
        renders = client.get(f"/api/campaigns/{response.json()['id']}/renders", headers=AUTH).json()
        assert [r["status"] for r in renders] == ["done", "done"], renders
        client.campaigns[outputs] = renders
    return client.campaigns[outputs]


def _get(client, url: str) -> bytes:
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200, url
    return response.content


def _decode(data: bytes) -> tuple[list[np.ndarray], list[int]]:
    image = Image.open(io.BytesIO(data))
    frames, durations = [], []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("RGB")))
        durations.append(image.info["duration"])
    return frames, durations


def _region(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return frame[y : y + h, x : x + w].astype(np.int16)


@pytest.mark.parametrize("kind", ["gif", "webp"])
def test_animated_thumbnail_loops_the_customers_text_under_a_play_button(outputs_client, kind):
    ann, max_ = _campaign(outputs_client)
    data = _get(outputs_client, ann[f"thumbnail_{kind}_url"])
    assert len(data) <= thumbnails.MAX_BYTES
    frames, durations = _decode(data)
    assert Image.open(io.BytesIO(data)).format == kind.upper()
    assert len(frames) == 12 and set(durations) == {80}  # 1 s at 12.5 fps, whole centiseconds
    assert sum(durations) <= 3000 and frames[0].shape[:2] == GIF_SIZE[::-1]

    centre = np.array([f[GIF_SIZE[1] // 2, GIF_SIZE[0] // 2 + 4] for f in frames])
    assert centre.min() >= 225  # the white triangle of the play button, in every frame
    # The thumbnail's frame at 1.48 s shows what the MP4 shows then: the customer's greeting.
    video = frames_rgb(
        outputs_client.app.state.pvideo.runtime.storage.local_path(_key(outputs_client, ann, "video.mp4"))
    )
    reference = np.asarray(Image.fromarray(video[int(1.48 * 30)]).resize(GIF_SIZE, Image.Resampling.LANCZOS))
    mine, theirs = frames[6], _decode(_get(outputs_client, max_[f"thumbnail_{kind}_url"]))[0][6]
    assert np.abs(_region(mine, TEXT_BOX) - _region(reference, TEXT_BOX)).mean() < 10
    assert np.abs(_region(mine, TEXT_BOX) - _region(theirs, TEXT_BOX)).mean() > 15  # another name


def _key(client, render: dict, name: str) -> str:
    from pvideo.db.models import Render

    with client.app.state.pvideo.runtime.db.session() as session:
        row = session.get(Render, render["id"])
        return row.video_key if name == "video.mp4" else row.outputs[name]


def _vtt(text: str) -> list[tuple[float, float, str]]:
    def seconds(ts) -> float:
        return ts.hours * 3600 + ts.minutes * 60 + ts.seconds + ts.milliseconds / 1000

    return [
        (seconds(c.start_time), seconds(c.end_time), "\n".join(c.lines))
        for c in webvtt.from_buffer(io.StringIO(text)).captions
    ]


def test_captions_merge_the_template_file_with_personalized_lines(outputs_client):
    ann, max_ = _campaign(outputs_client)
    response = outputs_client.get(ann["captions_url"].removeprefix("http://testserver"))
    assert response.headers["content-type"].startswith("text/vtt")
    assert _vtt(response.text) == [
        (0.0, 1.0, "Welcome to <i>Northwind</i>"),
        (1.0, 2.0, "Hello Ann, your Basic plan"),
        (2.0, 3.5, "Here is what's next"),
    ]
    theirs = _vtt(_get(outputs_client, max_["captions_url"]).decode())
    assert (1.0, 2.0, "Hello Maximilian &lt;&amp;&gt;, your Pro plan") in theirs  # escaped cue text
    assert (3.0, 3.5, "Pro perks") in theirs  # a line whose `when` holds only for Pro


def test_track_carries_the_scene_chapters_and_the_cta_window(outputs_client):
    ann, _ = _campaign(outputs_client)
    text = _get(outputs_client, ann["track_url"]).decode()
    chapters, ctas = read_track(text)
    assert [(c.start, c.end, c.title) for c in chapters] == [
        (0.0, 1.5, "Intro"),
        (1.5, 3.0, "Ann's plan"),
        (3.0, 4.0, "Next"),
    ]
    assert ctas == [{"id": "buy", "label": "Get Basic", "start": 2.5, "end": 4.0}]
    assert all(json.loads(c[2]) for c in _vtt(text))  # every cue is one JSON object


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_landing_page_uses_the_stored_captions_and_chapters(outputs_client):
    ann, _ = _campaign(outputs_client)
    page = ann["landing_url"].removeprefix("http://testserver")
    parser = _Tags()
    parser.feed(outputs_client.get(page).text)
    tracks = {a["kind"]: a for t, a in parser.tags if t == "track"}
    assert tracks["captions"]["src"] == f"{page}/captions.vtt" and tracks["captions"]["srclang"] == "en-GB"
    assert tracks["metadata"]["src"] == f"{page}/track.vtt"
    assert tracks["chapters"]["src"] == f"{page}/chapters.vtt"
    assert [a["data-seek"] for t, a in parser.tags if t == "button"] == ["0.0", "1.5", "3.0"]
    chapters = _vtt(outputs_client.get(f"{page}/chapters.vtt").text)
    assert chapters == [(0.0, 1.5, "Intro"), (1.5, 3.0, "Ann's plan"), (3.0, 4.0, "Next")]


def test_manifest_lists_every_output(outputs_client):
    ann, _ = _campaign(outputs_client)
    for column, name in (
        ("thumbnail_gif_url", "thumbnail.gif"),
        ("thumbnail_webp_url", "thumbnail.webp"),
        ("captions_url", "captions.vtt"),
        ("track_url", "track.vtt"),
    ):
        assert ann[column] == f"{ann['landing_url']}/{name}"


def test_hls_only_renders_get_thumbnails_too(outputs_client):
    ann, _ = _campaign(outputs_client, outputs="hls")  # other names: nothing reused from the MP4 campaign
    assert ann["video_url"].endswith("index.m3u8")
    assert _key(outputs_client, ann, "thumbnail.gif") not in {
        _key(outputs_client, r, "thumbnail.gif") for r in _campaign(outputs_client)
    }
    frames, durations = _decode(_get(outputs_client, ann["thumbnail_gif_url"]))
    assert len(frames) == 12 and sum(durations) == 960


def test_unknown_token_and_missing_outputs_are_404(outputs_client):
    assert outputs_client.get("/v/not-a-token/thumbnail.gif").status_code == 404
    assert outputs_client.get("/v/not-a-token/captions.vtt").status_code == 404


def test_ladder_steps_down_until_the_limit_holds():
    rng = np.random.default_rng(1)
    frames = [Image.fromarray(rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)) for _ in range(6)]
    first = thumbnails.encode_gif(thumbnails._prepare(frames, thumbnails.LADDER[0]), thumbnails.LADDER[0])
    data = thumbnails.fit(frames, thumbnails.encode_gif, limit=len(first) // 3)
    assert len(data) <= len(first) // 3
    assert Image.open(io.BytesIO(data)).width < thumbnails.LADDER[0].width


def test_window_is_at_most_three_seconds_inside_the_video():
    assert thumbnails.window(20, 3, 30) == (20, 3)
    assert thumbnails.window(29, 3, 30) == (27, 3)
    assert thumbnails.window(0, 5, 2) == (0, 2)


def test_cue_text_cannot_end_a_cue_or_inject_markup():
    assert cue_text("a --> b\n\n<c>&") == "a -&gt; b\n&lt;c&gt;&amp;"


def test_a_skipped_section_moves_captions_and_chapters_earlier(outputs_client):
    response = outputs_client.post("/api/campaigns", headers=AUTH, json={"scene": "sectioned", "rows": ROWS[1:]})
    drain(outputs_client)
    (pro,) = outputs_client.get(f"/api/campaigns/{response.json()['id']}/renders", headers=AUTH).json()
    assert pro["status"] == "done", pro
    cues = _vtt(_get(outputs_client, pro["captions_url"]).decode())
    assert cues == [
        (0.0, 1.0, "Welcome to <i>Northwind</i>"),  # the personal line at 1-2 s went with the section
        (1.0, 2.5, "Here is what's next"),
        (2.0, 2.5, "Pro perks"),
    ]
    chapters, ctas = read_track(_get(outputs_client, pro["track_url"]).decode())
    assert [(c.start, c.end, c.title) for c in chapters] == [
        (0.0, 1.0, "Intro"),
        (1.0, 2.0, "Maximilian <&>'s plan"),
        (2.0, 3.0, "Next"),
    ]
    assert ctas == [{"id": "buy", "label": "Get Pro", "start": 1.5, "end": 3.0}]
    frames, durations = _decode(_get(outputs_client, pro["thumbnail_gif_url"]))
    assert sum(durations) <= 1000 and len(frames) >= 10


def test_landing_reads_a_stored_track_once(tmp_path):
    """Track keys are named by the hash of their text, so the chapters are cached per key: a second
    landing view does not read storage (here: the file is gone and the chapters are still there)."""
    from api.landing import stored_chapters
    from pvideo.db.models import Render
    from pvideo.render.captions import to_webvtt, track_cues
    from pvideo.render.chapters import Chapter
    from pvideo.storage import LocalStorage

    storage = LocalStorage(tmp_path / "store")
    track = to_webvtt(track_cues([Chapter(0, 2, "Hello"), Chapter(2, 4, "Offer")], []))
    storage.put_bytes("outputs/abc/track.vtt", track.encode())
    render = Render(outputs={"track.vtt": "outputs/abc/track.vtt"})
    first = stored_chapters(render, storage)
    assert [c["title"] for c in first] == ["Hello", "Offer"]
    first[0]["title"] = "changed by a caller"  # callers get copies, never the cached dicts
    storage.local_path("outputs/abc/track.vtt").unlink()
    assert stored_chapters(render, storage) == [
        {"start": 0, "end": 2, "title": "Hello"},
        {"start": 2, "end": 4, "title": "Offer"},
    ]
    assert stored_chapters(Render(outputs={"track.vtt": "outputs/missing/track.vtt"}), storage) is None
