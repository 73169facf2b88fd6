"""Studio assets: uploads checked and stored by content in the configured storage (local and S3),
videos ingested after upload, scenes on uploaded assets rendered from storage alone, and new scenes."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
import yaml
from fastapi.testclient import TestClient
from PIL import Image

from api.main import create_app
from pvideo.db.models import Asset, IngestState
from pvideo.errors import AssetError
from pvideo.jobs import assetlibrary, scenelibrary
from pvideo.jobs.samplevideo import render_sample
from pvideo.plan.assets import resolve_asset, resolve_font
from pvideo.plan.uploads import AssetRoot, asset_root
from pvideo.render.ingest import stored_version
from pvideo.runtime import Runtime
from pvideo.scene.spec import scene_from_text
from pvideo.settings import PROJECT_ROOT
from pvideo.storage import LocalStorage, storage_from_settings
from tests.conftest import make_template
from tests.media import frames_rgb
from tests.studio.conftest import csrf_of, sign_in_as

RED = (230, 20, 20)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A 2 s template video, a red PNG, a font, and files pvideo must refuse."""
    root = tmp_path_factory.mktemp("media")
    video = make_template(root / "intro clip.mp4", seconds=2).read_bytes()
    png = io.BytesIO()
    Image.new("RGB", (40, 40), RED).save(png, format="PNG")
    gif = io.BytesIO()
    Image.new("RGB", (8, 8), RED).save(gif, format="GIF")
    return {
        "video": video,
        "png": png.getvalue(),
        "font": (PROJECT_ROOT / "assets" / "fonts" / "NotoSans-Regular.ttf").read_bytes(),
        "gif": gif.getvalue(),
    }


def upload(client, name: str, data: bytes, *, json_answer: bool = True):
    page = client.get("/studio/assets")
    headers = {"Accept": "application/json"} if json_answer else {}
    return client.post(
        "/studio/assets",
        files={"file": (name, data)},
        data={"csrf": csrf_of(page.text)},
        headers=headers,
        follow_redirects=False,
    )


@pytest.fixture(params=["local", "s3"])
def studio(request, settings):
    """A marketer's client over local storage, and over S3 (moto's real HTTP server)."""
    if request.param == "s3":
        endpoint, bucket = request.getfixturevalue("s3_bucket")
        settings = settings.model_copy(update={"storage_url": f"s3://{bucket}/pv", "s3_endpoint_url": endpoint})
    runtime = Runtime.from_settings(settings)
    with TestClient(create_app(runtime=runtime)) as client:
        sign_in_as(client, runtime, "mia@example.com", "marketing")
        yield client, runtime
    runtime.db.dispose()


def test_uploads_are_stored_by_content_and_listed(studio, media):
    client, runtime = studio
    answers = {name: upload(client, name, media[kind]) for name, kind in [("Logo.PNG", "png"), ("Brand.ttf", "font")]}
    for name, answer in answers.items():
        assert answer.status_code == 201, (name, answer.text)
    logo, font = answers["Logo.PNG"].json(), answers["Brand.ttf"].json()
    sha = hashlib.sha256(media["png"]).hexdigest()
    assert logo["path"] == f"uploads/{sha}/Logo.png" and logo["kind"] == "image"
    assert (logo["width"], logo["height"]) == (40, 40)
    assert runtime.storage.get_bytes(f"assets/{sha}.png") == media["png"]
    assert font["kind"] == "font" and font["ingest_state"] == IngestState.NONE
    # the same bytes again are the same asset
    assert upload(client, "other.png", media["png"]).json()["path"] == logo["path"]
    page = client.get("/studio/assets")
    assert page.status_code == 200 and logo["path"] in page.text and font["path"] in page.text
    thumb = client.get(logo["thumbnail"])
    assert thumb.status_code == 200
    assert Image.open(io.BytesIO(thumb.content)).convert("RGB").getpixel((5, 5)) == RED


def test_files_pvideo_cannot_read_are_refused_with_the_reason(marketer, runtime, media):
    cases = {
        "logo.gif": (media["gif"], "logo.gif: not an image pvideo can read: use PNG, JPEG or WebP"),
        "fake.png": (b"this is text, not a PNG", "fake.png: not an image pvideo can read"),
        "fake.mp4": (media["png"], "fake.mp4: not a video pvideo can read"),
        "fake.ttf": (media["png"], "fake.ttf: not a font pvideo can read"),
        "tool.exe": (b"MZ....", "tool.exe: not a video, image, audio track or font"),
        "empty.png": (b"", "empty.png: the file is empty"),
    }
    for name, (data, reason) in cases.items():
        answer = upload(marketer, name, data)
        assert answer.status_code == 422, name
        assert answer.json()["detail"].startswith(reason), answer.json()
    plain = upload(marketer, "logo.gif", media["gif"], json_answer=False)
    assert plain.status_code == 422 and "logo.gif: not an image pvideo can read" in plain.text
    with runtime.db.session() as session:
        assert session.query(Asset).count() == 0


def test_analysts_may_look_but_not_upload(analyst, media):
    assert analyst.get("/studio/assets").status_code == 200
    page = analyst.get("/studio/campaigns")
    answer = analyst.post("/studio/assets", files={"file": ("a.png", media["png"])}, data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 403


def test_uploading_a_video_ingests_its_template_version(studio, media):
    client, runtime = studio
    answer = upload(client, "intro clip.mp4", media["video"], json_answer=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/studio/assets?uploaded=")
    sha = hashlib.sha256(media["video"]).hexdigest()
    page = client.get(answer.headers["location"])
    assert f"/studio/assets/{sha}/state" in page.text  # the state cell polls while the ingest runs
    client.app.state.pvideo.queue.join(timeout_ms=120_000)
    state = client.get(f"/studio/assets/{sha}/state", headers={"Accept": "application/json"}).json()
    assert state["ingest_state"] == IngestState.READY, state
    assert (state["width"], state["height"], round(state["duration"])) == (640, 360, 2)
    version = stored_version(runtime.storage, state["template_hash"])
    assert version is not None and version.frames == 60 and version.source == f"{sha}.mp4"
    cell = client.get(f"/studio/assets/{sha}/state").text
    assert "hx-trigger" not in cell and "ready" in cell


def test_a_scene_on_uploaded_assets_renders_from_storage_alone(settings, media, tmp_path, request):
    """Upload on one "machine", render on another whose data folder is empty: S3 is all they share."""
    endpoint, bucket = request.getfixturevalue("s3_bucket")
    shared = {"storage_url": f"s3://{bucket}/pv", "s3_endpoint_url": endpoint}
    api_side = settings.model_copy(update=shared)
    runtime = Runtime.from_settings(api_side)
    paths = {}
    with runtime.db.session() as session:
        for name, kind in [("intro.mp4", "video"), ("logo.png", "png"), ("Brand.ttf", "font")]:
            asset = assetlibrary.store_asset(
                session, runtime.storage, api_side, io.BytesIO(media[kind]), filename=name, uploaded_by="t"
            )
            paths[kind] = assetlibrary.asset_path(asset)
    runtime.db.dispose()
    scene = {
        "name": "uploaded",
        "video": paths["video"],
        "fields": {"first_name": {"type": "str"}},
        "layers": [
            {"type": "image", "src": paths["png"], "start": 0, "end": 2, "box": {"x": 20, "y": 20, "w": 40, "h": 40}},
            {"type": "text", "text": "Hi {{ first_name }}", "font": paths["font"], "start": 0, "end": 2,
             "box": {"x": 100, "y": 200, "w": 300, "h": 80}},
        ],
    }  # fmt: skip
    spec = scene_from_text(yaml.safe_dump(scene), source="uploaded.yaml")
    worker_side = settings.model_copy(
        update={**shared, "data_dir": tmp_path / "fresh", "assets_dir": tmp_path / "none"}
    )
    storage = storage_from_settings(worker_side)
    out = tmp_path / "fresh" / "sample.mp4"
    info = render_sample(spec, {"first_name": "Ada"}, number=1, out=out, settings=worker_side, storage=storage)
    assert (info.width, info.height) == (640, 360)
    frame = frames_rgb(out)[15]
    assert tuple(int(c) for c in frame[40, 40]) == pytest.approx(RED, abs=12)
    assert (tmp_path / "fresh" / "cache" / "assets").is_dir()  # fetched once into the verified cache


def test_upload_paths_cannot_escape_or_name_other_bytes(settings, media, tmp_path):
    storage = LocalStorage(tmp_path / "store")
    root = AssetRoot(settings.assets_dir, storage, tmp_path / "cache")
    sha = hashlib.sha256(media["png"]).hexdigest()
    storage.put_bytes(f"assets/{sha}.png", media["png"])
    assert resolve_asset(root, f"uploads/{sha}/logo.png").read_bytes() == media["png"]
    bad = [
        "uploads/../../etc/passwd",
        f"uploads/{sha}/../x.png",
        f"uploads/{sha}/sub/x.png",
        f"uploads/{sha[:16]}/logo.png",
        f"uploads/{sha.upper()}/logo.png",
        f"uploads/{sha}/logo.exe",
        f"uploads/{hashlib.sha256(b'other').hexdigest()}/logo.png",  # never uploaded
    ]
    for path in bad:
        with pytest.raises(AssetError):
            resolve_asset(root, path)
    with pytest.raises(AssetError, match="needs the configured storage"):
        resolve_asset(settings.assets_dir, f"uploads/{sha}/logo.png")
    with pytest.raises(AssetError, match="weight: does not apply"):
        resolve_font(root, f"uploads/{sha}/logo.png-Bold")
    # bytes changed in storage no longer match the name: refused, locally and from S3's cache path
    storage.put_bytes(f"assets/{sha}.png", media["gif"])
    with pytest.raises(AssetError, match="do not match their hash"):
        resolve_asset(root, f"uploads/{sha}/logo.png")


def test_a_new_scene_starts_on_an_uploaded_video(marketer, runtime, media):
    uploaded = upload(marketer, "intro.mp4", media["video"]).json()
    form = marketer.get("/studio/scenes/new")
    assert form.status_code == 200 and uploaded["path"] in form.text and "tiny.mp4 (bundled)" in form.text
    token = csrf_of(form.text)
    created = marketer.post(
        "/studio/scenes/new",
        data={"csrf": token, "name": "welcome-2", "video": uploaded["path"]},
        follow_redirects=False,
    )
    assert created.status_code == 303 and created.headers["location"] == "/studio/scenes/welcome-2/edit"
    with runtime.db.session() as session:
        version = scenelibrary.get_version(session, "welcome-2")
        text = version.yaml_text
    assert version.number == 1 and text.startswith("# welcome-2")
    spec = scene_from_text(text, source="welcome-2")
    assert spec.video == uploaded["path"] and "{{ first_name }}" in spec.layers[0].text
    assert resolve_asset(asset_root(runtime.settings, runtime.storage), spec.video).is_file()
    again = marketer.post("/studio/scenes/new", data={"csrf": token, "name": "welcome-2", "video": uploaded["path"]})
    assert again.status_code == 422 and "exists already" in again.text
    foreign = marketer.post("/studio/scenes/new", data={"csrf": token, "name": "x", "video": "../../etc/passwd"})
    assert foreign.status_code == 422 and "choose one of the listed videos" in foreign.text
    library = marketer.get("/studio/scenes")
    assert 'href="/studio/scenes/new"' in library.text and 'href="/studio/assets"' in library.text


def test_the_json_answer_is_what_the_editor_needs(marketer, media):
    answer = upload(marketer, "logo.png", media["png"])
    body = answer.json()
    assert set(body) >= {"path", "kind", "width", "height", "sha256", "thumbnail"}
    assert json.loads(answer.text)["path"].startswith("uploads/")
