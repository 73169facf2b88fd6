"""Shared fixtures: a tiny synthetic template, test scenes, settings and a runtime.

The tiny template (640x360, 30 fps, 4 s, moving test pattern + a tone) keeps
renders well under a second, so tests can decode and compare every frame.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from PIL import Image, ImageDraw

from pvideo.settings import PROJECT_ROOT, Settings

pytest_plugins = [
    "tests.services",
    "tests.chromium",
    "tests.s3server",
    "tests.webhook_receiver",
]  # services first: chromium imports it


MAX_WORKERS = 4  # tests/services.py gives each worker a Redis database of its own: 7 to 10


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per core, at most ``MAX_WORKERS``."""
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def pytest_addoption(parser):
    parser.addoption(
        "--regenerate-references",
        action="store_true",
        default=False,
        help="rewrite the reference images in tests/reference/ instead of comparing with them",
    )


API_KEY = "test-api-key"
SECRET = "s" * 40
WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 30, 4

CARD_SCENE = {
    "name": "card",
    "video": "templates/tiny.mp4",
    "poster_at": 1.0,
    "fields": {
        "customer_id": {"type": "str"},
        "first_name": {"type": "str"},
        "plan": {"type": "str", "default": "Basic"},
        "price": {"type": "float"},
    },
    "layers": [
        {
            "type": "text",
            "id": "hello",
            "text": "Hi {{ first_name }}!",
            "start": 1.0,
            "end": 2.0,
            "box": {"x": 40, "y": 40, "w": 300, "h": 80},
            "size": 48,
            "color": "#ffffff",
            "background": "#102040",
        },
        {
            "type": "image",
            "id": "logo",
            "src": "logo.png",
            "start": 0,
            "end": 4,
            "box": {"x": 540, "y": 20, "w": 80, "h": 80},
        },
        {
            "type": "cta",
            "id": "buy",
            "label": "Get {{ plan }}",
            "href": "https://shop.example/buy?c={{ customer_id | urlencode }}",
            "start": 2.5,
            "end": 4.0,
            "box": {"x": 40, "y": 260, "w": 240, "h": 60},
        },
    ],
}


def make_template(path: Path, *, audio: bool = True, seconds: int = SECONDS) -> Path:
    from pvideo.settings import Settings as _S

    path.parent.mkdir(parents=True, exist_ok=True)
    args = [
        _S().ffmpeg_exe,
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds}",
    ]
    if audio:
        args += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-c:a",
            "aac",
            "-b:a",
            "96k",
        ]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30", str(path)]
    subprocess.run(args, check=True)
    return path


@pytest.fixture(scope="session")
def assets_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("assets")
    shutil.copytree(PROJECT_ROOT / "assets" / "fonts", root / "fonts")
    make_template(root / "templates" / "tiny.mp4")
    logo = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((0, 0, 119, 119), fill=(250, 200, 0, 255))
    logo.save(root / "logo.png")
    (root / "not-an-image.png").write_bytes(b"this is text, not a PNG")
    return root


@pytest.fixture(scope="session")
def scenes_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scenes")
    (root / "card.yaml").write_text(yaml.safe_dump(CARD_SCENE, sort_keys=False))
    return root


@pytest.fixture()
def settings(tmp_path, assets_dir, scenes_dir) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        assets_dir=assets_dir,
        scenes_dir=scenes_dir,
        secret_key=SECRET,
        api_keys=[API_KEY],
        x264_preset="ultrafast",
        public_base_url="http://testserver",
        ffmpeg_timeout=120,
    )


def copy_assets(source: Path, target: Path) -> Path:
    """A private copy of an assets folder to add files to; files are hard links (the fonts are ~20 MB)."""
    shutil.copytree(source, target, copy_function=os.link)
    return target


def make_welcome_assets(source: Path, target: Path, ffmpeg_exe: str) -> Path:
    """``source`` assets with a 4 s cut of the bundled welcome video as the template.

    On the dense synthetic test pattern two x264 generations alone sit near 30 dB
    apart; designed content like the welcome video is what a preview is for.
    """
    assets = copy_assets(source, target)
    tiny = assets / "templates" / "tiny.mp4"
    tiny.unlink()  # a hard link to the shared template: replace it, never write through it
    subprocess.run(
        [
            ffmpeg_exe,
            "-v",
            "error",
            "-y",
            "-t",
            "4",
            "-i",
            str(PROJECT_ROOT / "assets" / "templates" / "welcome.mp4"),
            "-vf",
            f"scale={WIDTH}:{HEIGHT}",
            "-c:v",
            "libx264",
            "-crf",
            "18",
            "-c:a",
            "copy",
            str(tiny),
        ],
        check=True,
    )
    return assets


@pytest.fixture()
def welcome_assets(settings, tmp_path):
    return make_welcome_assets(settings.assets_dir, tmp_path / "assets", settings.ffmpeg_exe)


@pytest.fixture()
def card_spec(scenes_dir):
    from pvideo.scene.spec import load_scene

    return load_scene(scenes_dir / "card.yaml")


@pytest.fixture()
def client(runtime):
    """The real app over the test runtime, lifespan (in-process worker) included."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(runtime=runtime)) as client:
        yield client


def drain(client) -> None:
    """Wait until the app's in-process queue has rendered everything sent to it."""
    client.app.state.pvideo.queue.join(timeout_ms=120_000)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A fresh database of each kind: a SQLite file, and a private schema on the real PostgreSQL."""
    from pvideo.db.engine import Database

    url = (
        f"sqlite:///{tmp_path / 'db.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    database = Database(url)
    database.create_schema()
    yield database
    database.dispose()


@pytest.fixture()
def runtime(settings) -> Iterator:
    from pvideo.runtime import Runtime

    rt = Runtime.from_settings(settings)
    yield rt
    rt.db.dispose()
