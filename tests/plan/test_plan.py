"""compile_plan(): scene + customer row -> frozen RenderPlan with rasterized overlays and CTA hotspots."""

from __future__ import annotations

import copy
import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from pvideo.errors import AssetError, DataError
from pvideo.plan.compiler import compile_plan
from pvideo.plan.model import Hotspot, Overlay, RenderPlan
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from tests.conftest import CARD_SCENE

ROW = {"customer_id": "c 1\"'&x", "first_name": "Ana", "price": "3"}

LINK_SCENE = {
    "name": "link",
    "video": "templates/tiny.mp4",
    "fields": {"link": {"type": "str"}},
    "layers": [
        {
            "type": "cta",
            "id": "go",
            "label": "Go",
            "href": "{{ link }}",
            "start": 0,
            "end": 1,
            "box": {"x": 10, "y": 10, "w": 120, "h": 40},
        }
    ],
}

BAD_LINKS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:x",
    "data:text/html,x",
    "vbscript:x",
    "//evil.example",
    "https://",
    "http://a b",
]


def _compile_plan(spec, raw, assets_dir, **kw) -> RenderPlan:
    return compile_plan(spec, coerce_row(spec, raw), assets_dir=assets_dir, **kw)


def _png(data: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(data)))


def _card(**changes):
    data = copy.deepcopy(CARD_SCENE)
    for index, update in changes.items():
        data["layers"][int(index[1:])].update(update)
    return parse_scene(data, source="card.yaml")


def test_compile_card(card_spec, assets_dir):
    plan = _compile_plan(card_spec, ROW, assets_dir, customer_id="c1")
    assert isinstance(plan, RenderPlan)
    assert plan.scene == "card" and plan.customer_id == "c1" and plan.poster_at == 1.0
    assert plan.template == (assets_dir / "templates" / "tiny.mp4").resolve()
    assert plan.template.is_file()

    # overlays in layer order, with boxes and windows
    got = [(o.layer, o.x, o.y, o.w, o.h, o.start, o.end) for o in plan.overlays]
    assert got == [
        ("layer 1 (text 'hello')", 40, 40, 300, 80, 1.0, 2.0),
        ("layer 2 (image 'logo')", 540, 20, 80, 80, 0.0, 4.0),
        ("layer 3 (cta 'buy')", 40, 260, 240, 60, 2.5, 4.0),
    ]
    for overlay in plan.overlays:
        pixels = _png(overlay.png)
        assert pixels.shape == (overlay.h, overlay.w, 4)
        assert pixels[..., 3].max() == 255  # something is drawn

    # CTA: label rendered from the row (default plan), href with the id urlencoded
    assert plan.hotspots == (
        Hotspot(
            id="buy",
            label="Get Basic",
            href="https://shop.example/buy?c=c%201%22%27%26x",
            x=40,
            y=260,
            w=240,
            h=60,
            start=2.5,
            end=4.0,
        ),
    )
    assert plan.hotspots[0].to_json()["href"] == "https://shop.example/buy?c=c%201%22%27%26x"


def test_text_overlay_follows_the_name(card_spec, assets_dir):
    a = _compile_plan(card_spec, ROW, assets_dir)
    b = _compile_plan(card_spec, {**ROW, "first_name": "Bob"}, assets_dir)
    assert a.overlays[0].png != b.overlays[0].png
    assert a.overlays[1].png == b.overlays[1].png  # logo does not depend on the row


def test_plan_is_frozen(card_spec, assets_dir):
    plan = _compile_plan(card_spec, ROW, assets_dir)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.scene = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.overlays[0].x = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.hotspots[0].href = "javascript:alert(1)"  # type: ignore[misc]
    assert isinstance(plan.overlays, tuple) and isinstance(plan.hotspots, tuple)
    assert all(isinstance(o, Overlay) for o in plan.overlays)


def test_digest_stable_and_sensitive(card_spec, assets_dir):
    first = _compile_plan(card_spec, ROW, assets_dir).digest()
    assert first == _compile_plan(card_spec, dict(ROW), assets_dir).digest()
    assert len(first) == 64 and int(first, 16) >= 0
    assert _compile_plan(card_spec, {**ROW, "first_name": "Anna"}, assets_dir).digest() != first
    assert _compile_plan(card_spec, {**ROW, "plan": "Pro"}, assets_dir).digest() != first  # CTA label pixels


def test_digest_changes_with_window(assets_dir):
    a = _compile_plan(_card(l0={"end": 2.0}), ROW, assets_dir).digest()
    b = _compile_plan(_card(l0={"end": 2.5}), ROW, assets_dir).digest()
    assert a != b


@pytest.mark.parametrize("link", BAD_LINKS)
def test_cta_href_must_be_http(assets_dir, link):
    spec = parse_scene(LINK_SCENE)
    with pytest.raises(DataError) as info:
        compile_plan(spec, {"link": link}, assets_dir=assets_dir, row_number=7)
    err = info.value
    assert err.field == "href" and err.row == 7
    msg = str(err)
    assert "layer 1 (cta 'go')" in msg
    assert "href" in msg and "row 7" in msg


@pytest.mark.parametrize("link", ["https://x.example/a?b=c", "HTTPS://x.example", "http://localhost:8080/p"])
def test_cta_href_good_links(assets_dir, link):
    plan = compile_plan(parse_scene(LINK_SCENE), {"link": link}, assets_dir=assets_dir)
    assert plan.hotspots[0].href == link


def test_undefined_name_in_layer_is_data_error(assets_dir):
    spec = _card(l0={"text": "Hi {{ frist_name }}"})
    with pytest.raises(DataError) as info:
        _compile_plan(spec, ROW, assets_dir, row_number=4)
    assert info.value.row == 4
    assert "layer 1 (text 'hello')" in str(info.value) and "frist_name" in str(info.value)


def test_missing_image_asset(assets_dir):
    spec = _card(l1={"src": "missing/logo2.png"})
    with pytest.raises(AssetError) as info:
        _compile_plan(spec, ROW, assets_dir)
    assert "missing/logo2.png" in str(info.value)
    assert "layer 2 (image 'logo')" in str(info.value)


def test_image_asset_not_an_image(assets_dir):
    with pytest.raises(AssetError) as info:
        _compile_plan(_card(l1={"src": "not-an-image.png"}), ROW, assets_dir)
    assert "not-an-image.png" in str(info.value)


@pytest.mark.parametrize("src", ["../secret.png", "/etc/passwd", "fonts/../../secret.png", "..\\secret.png"])
def test_asset_path_cannot_escape(assets_dir, src):
    (assets_dir.parent / "secret.png").write_bytes((assets_dir / "logo.png").read_bytes())
    with pytest.raises(AssetError) as info:
        _compile_plan(_card(l1={"src": src}), ROW, assets_dir)
    assert repr(src) in str(info.value)


def test_missing_video(assets_dir):
    data = copy.deepcopy(CARD_SCENE)
    data["video"] = "templates/nope.mp4"
    with pytest.raises(AssetError) as info:
        _compile_plan(parse_scene(data), ROW, assets_dir)
    assert "templates/nope.mp4" in str(info.value)


@pytest.mark.parametrize("layer", ["l0", "l2"])
def test_unknown_font(assets_dir, layer):
    with pytest.raises(AssetError) as info:
        _compile_plan(_card(**{layer: {"font": "Comic-Sans"}}), ROW, assets_dir)
    msg = str(info.value)
    assert "Comic-Sans" in msg and "Inter-Bold" in msg
    assert ("layer 1 (text 'hello')" if layer == "l0" else "layer 3 (cta 'buy')") in msg


def test_compile_writes_nothing(card_spec, assets_dir):
    before = sorted(p.relative_to(assets_dir) for p in assets_dir.rglob("*"))
    _compile_plan(card_spec, ROW, assets_dir)
    assert sorted(p.relative_to(assets_dir) for p in assets_dir.rglob("*")) == before
