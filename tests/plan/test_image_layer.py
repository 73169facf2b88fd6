"""Image layers: ``src`` from assets, ``storage:`` keys or http(s) URLs (per customer), ``fit`` and ``mask``.

Bad pictures chosen by data fail that row with a ``DataError`` naming the row
and the field; the video tests decode the render and look at the pixels.
"""

from __future__ import annotations

import copy
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

from pvideo.errors import AssetError, DataError
from pvideo.plan import raster
from pvideo.plan.compiler import check_assets, compile_plan
from pvideo.render.engine import render_plan
from pvideo.render.ingest import ingest, segment_files
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.media import frames_rgb
from tests.synthetic import bomb_png

RED, BLUE = (230, 20, 20), (20, 20, 230)
BOX = {"x": 40, "y": 40, "w": 120, "h": 120}
SCENE = {
    "name": "avatars",
    "video": "templates/tiny.mp4",
    "fields": {"customer_id": {"type": "str"}, "avatar": {"type": "str", "required": False, "default": ""}},
    "layers": [
        {
            "type": "image",
            "id": "avatar",
            "src": "{{ avatar }}",
            "fit": "cover",
            "mask": "circle",
            "start": 1.0,
            "end": 2.0,
            "box": BOX,
        },
        {
            "type": "image",
            "id": "logo",
            "src": "logo.png",
            "start": 0,
            "end": 4,
            "box": {"x": 540, "y": 20, "w": 80, "h": 80},
        },
    ],
}


def _png(size, color, split: tuple[int, int, int] | None = None) -> bytes:
    """A solid picture; with ``split`` its right half has that color."""
    image = Image.new("RGB", size, color)
    if split:
        image.paste(split, (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class _Images(BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        _Images.paths.append(self.path)
        body = {
            "/blue.png": _png((64, 64), BLUE),
            "/blue.png?campaign=logo": _png((64, 64), BLUE),
            "/text.png": b"<html>surprise</html>",
            "/bomb.png": bomb_png(),
        }.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture()
def storage(tmp_path):
    store = LocalStorage(tmp_path / "store")
    store.put_bytes("avatars/c1.png", _png((200, 100), RED))
    store.put_bytes("avatars/not-image.png", b"GIF89a but not really")
    store.put_bytes("avatars/bomb.png", bomb_png())
    return store


def _plan(avatar, assets_dir, storage=None, *, allow_private=False, row_number=7):
    spec = parse_scene(SCENE)
    return compile_plan(
        spec,
        coerce_row(spec, {"customer_id": "c1", "avatar": avatar}),
        assets_dir=assets_dir,
        storage=storage,
        allow_private_fetch=allow_private,
        row_number=row_number,
    )


def _pixels(png: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(png)).convert("RGBA"))


# --- fit and mask ---------------------------------------------------------------------------


def test_contain_keeps_the_whole_picture_and_cover_fills_the_box():
    wide = _png((200, 100), RED, split=BLUE)
    contain = _pixels(raster.render_image(wide, 100, 100, fit="contain"))
    cover = _pixels(raster.render_image(wide, 100, 100, fit="cover"))
    assert contain[10, 50, 3] == 0 and contain[89, 50, 3] == 0  # letterboxed above and below
    assert tuple(contain[50, 2, :3]) == RED and tuple(contain[50, 97, :3]) == BLUE and contain[50, 50, 3] == 255
    assert (cover[..., 3] == 255).all()  # no transparent band
    assert tuple(cover[50, 2, :3]) == RED and tuple(cover[50, 97, :3]) == BLUE  # the middle half, cropped


def test_circle_mask_makes_the_corners_transparent():
    pixels = _pixels(raster.render_image(_png((80, 80), RED), 80, 80, fit="cover", mask="circle"))
    for y, x in [(0, 0), (0, 79), (79, 0), (79, 79), (8, 8)]:
        assert pixels[y, x, 3] == 0
    assert pixels[40, 40, 3] == 255 and pixels[40, 1, 3] > 128 and pixels[1, 40, 3] > 128
    edge = pixels[..., 3][(pixels[..., 3] > 0) & (pixels[..., 3] < 255)]
    assert len(edge) > 40  # anti-aliased rim, not a jagged one


def test_rounded_mask_cuts_only_the_corners():
    pixels = _pixels(raster.render_image(_png((100, 60), BLUE), 100, 60, fit="cover", mask="rounded", radius=20))
    assert pixels[0, 0, 3] == 0 and pixels[59, 99, 3] == 0 and pixels[3, 3, 3] == 0
    assert pixels[0, 50, 3] == 255 and pixels[30, 0, 3] == 255 and pixels[30, 50, 3] == 255


# --- sources --------------------------------------------------------------------------------


def test_per_customer_image_is_personal_and_bundled_one_static(assets_dir, storage):
    plan = _plan("storage:avatars/c1.png", assets_dir, storage)
    kinds = {o.layer: o.static for o in plan.overlays}
    assert kinds == {"layer 1 (image 'avatar')": False, "layer 2 (image 'logo')": True}
    avatar = _pixels(plan.overlays[0].png)
    assert tuple(avatar[60, 60, :3]) == RED and avatar[0, 0, 3] == 0


def test_empty_per_customer_src_leaves_the_layer_out(assets_dir):
    plan = _plan("", assets_dir)
    assert [o.layer for o in plan.overlays] == ["layer 2 (image 'logo')"]


def test_url_image_is_fetched(assets_dir, server):
    plan = _plan(f"{server}/blue.png", assets_dir, allow_private=True)
    assert tuple(_pixels(plan.overlays[0].png)[60, 60, :3]) == BLUE


def test_a_url_on_every_row_is_fetched_once(assets_dir, server):
    url = f"{server}/blue.png?campaign=logo"  # a URL no other test asks for
    for row in range(1, 6):
        plan = _plan(url, assets_dir, allow_private=True, row_number=row)
        assert tuple(_pixels(plan.overlays[0].png)[60, 60, :3]) == BLUE
    assert _Images.paths.count("/blue.png?campaign=logo") == 1


@pytest.mark.parametrize(
    "avatar, allow_private, message",
    [
        ("storage:avatars/missing.png", False, "storage key 'avatars/missing.png' not found"),
        ("storage:../secret.png", False, "not valid"),
        ("storage:avatars/not-image.png", False, "is not a readable image"),
        ("storage:avatars/bomb.png", False, "too large to decode safely"),
        ("{server}/text.png", True, "is not a PNG, JPEG, WebP or GIF image"),
        ("{server}/bomb.png", True, "decompression bomb"),
        ("{server}/blue.png", False, "is not a public address"),
        ("http://169.254.169.254/latest/meta-data/", True, "is not a public address"),
        ("file:///etc/passwd", False, "only http(s) URLs"),
        ("no/such/file.png", False, "not found"),
    ],
)
def test_bad_picture_fails_the_row_naming_row_and_field(avatar, allow_private, message, assets_dir, storage, server):
    with pytest.raises(DataError) as err:
        _plan(avatar.format(server=server), assets_dir, storage, allow_private=allow_private)
    assert err.value.row == 7 and err.value.field == "src"
    assert "layer 1 (image 'avatar')" in str(err.value) and message in str(err.value)


def test_a_missing_bundled_image_is_a_scene_problem(assets_dir):
    data = copy.deepcopy(SCENE)
    data["layers"][1]["src"] = "missing-logo.png"
    with pytest.raises(AssetError, match="layer 2 \\(image 'logo'\\).*missing-logo.png"):
        check_assets(parse_scene(data), assets_dir)
    check_assets(parse_scene(SCENE), assets_dir)  # a templated src is checked per row, not here


# --- in the video ---------------------------------------------------------------------------


def test_avatars_from_storage_and_url_are_burned_in_as_circles(settings, welcome_assets, storage, server, tmp_path):
    frame = 45  # 1.5 s, inside the avatar's window
    x, y = BOX["x"], BOX["y"]
    template = frames_rgb(welcome_assets / "templates" / "tiny.mp4")[frame].astype(np.int16)
    for avatar, color in [("storage:avatars/c1.png", RED), (f"{server}/blue.png", BLUE)]:
        plan = _plan(avatar, welcome_assets, storage, allow_private=True)
        version = ingest(plan.template, storage, ffmpeg_exe=settings.ffmpeg_exe, baked=plan.static_overlays)
        out = render_plan(
            plan,
            version,
            segment_files(version, storage, tmp_path / "cache"),
            tmp_path / avatar[:5],
            ffmpeg_exe=settings.ffmpeg_exe,
        )
        pixels = frames_rgb(out.video)[frame].astype(np.int16)
        centre = pixels[y + 40 : y + 80, x + 40 : x + 80].reshape(-1, 3).mean(axis=0)
        assert np.abs(centre - color).max() < 25
        assert np.abs(template[y + 40 : y + 80, x + 40 : x + 80].reshape(-1, 3).mean(axis=0) - color).max() > 60
        corner = np.abs(pixels[y : y + 12, x : x + 12] - template[y : y + 12, x : x + 12]).mean()
        assert corner < 8  # the template shows through the circle's corners
