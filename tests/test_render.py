"""The renderer: decode real output and check frames, pixels, duration, audio and layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from pvideo.customers import coerce_row
from pvideo.plan import compile
from pvideo.probe import probe
from pvideo.render import EncodeOptions, poster_args, render, render_args
from tests.conftest import FPS, HEIGHT, SECONDS, WIDTH
from tests.media import box_diff, frames_rgb, top_level_atoms

NAME = "Zoë O'Brien: 100% {x} \\ [y]"


@pytest.fixture()
def rendered(card_spec, settings, tmp_path):
    row = coerce_row(card_spec, {"customer_id": "c-1", "first_name": NAME, "price": "9.99"})
    plan = compile(card_spec, row, assets_dir=settings.assets_dir)
    return plan, render(plan, tmp_path / "out", settings)


def test_output_matches_template_timing_and_streams(rendered, settings):
    plan, out = rendered
    template = probe(plan.template)
    info = probe(out.video)
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.frames == template.frames == FPS * SECONDS
    assert abs(info.duration - template.duration) <= 1 / FPS
    assert info.video_codec == "h264" and info.has_audio and info.audio_codec == "aac"
    with av.open(str(out.video)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    atoms = top_level_atoms(out.video)
    assert atoms.index("moov") < atoms.index("mdat"), atoms


def test_poster_is_a_jpeg_of_the_video(rendered):
    _, out = rendered
    data = out.poster.read_bytes()
    assert data[:3] == b"\xff\xd8\xff"
    with av.open(str(out.poster)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (WIDTH, HEIGHT)


def test_pixels_change_only_inside_active_layers(rendered, card_spec):
    plan, out = rendered
    base, personal = frames_rgb(plan.template), frames_rgb(out.video)
    assert len(base) == len(personal)
    layers = [(o.layer, (o.x, o.y, o.w, o.h), o.start, o.end) for o in plan.overlays]
    for index in range(0, len(base), 3):
        t = index / FPS
        for name, box, start, end in layers:
            inside, _ = box_diff(personal[index], base[index], box)
            if start <= t < end:
                assert inside > 20, f"{name} missing at t={t:.2f}s (diff {inside:.1f})"
            else:
                assert inside < 8, f"{name} visible outside its window at t={t:.2f}s (diff {inside:.1f})"
        # nowhere else: compare outside the union of every box
        mask = np.ones((HEIGHT, WIDTH), dtype=bool)
        for _, (x, y, w, h), _, _ in layers:
            mask[max(0, y - 16):y + h + 16, max(0, x - 16):x + w + 16] = False
        diff = np.abs(personal[index].astype(np.int16) - base[index].astype(np.int16)).mean(axis=2)
        assert diff[mask].mean() < 6, f"pixels outside every layer changed at t={t:.2f}s"


def test_text_layer_draws_the_customers_text(card_spec, settings, tmp_path):
    """Two customers differ exactly in the greeting box while it is shown."""
    outs = []
    for name in ("Ana", "Bartholomew"):
        row = coerce_row(card_spec, {"customer_id": name, "first_name": name, "price": 5})
        outs.append(frames_rgb(render(compile(card_spec, row, assets_dir=settings.assets_dir),
                                      tmp_path / name, settings).video))
    greeting = (40, 40, 300, 80)
    shown, hidden = int(1.5 * FPS), int(0.5 * FPS)
    assert box_diff(outs[0][shown], outs[1][shown], greeting)[0] > 5
    assert box_diff(outs[0][hidden], outs[1][hidden], greeting)[0] < 2


def test_render_args_keep_customer_text_out_of_ffmpeg(card_spec, settings, tmp_path):
    row = coerce_row(card_spec, {"customer_id": "x", "first_name": NAME, "price": 1})
    plan = compile(card_spec, row, assets_dir=settings.assets_dir)
    template = probe(plan.template)
    pngs = [tmp_path / f"o{i}.png" for i in range(len(plan.overlays))]
    args = render_args(plan, template, pngs, tmp_path / "v.mp4", ffmpeg_exe="ffmpeg",
                       options=EncodeOptions(preset="veryfast", crf=23))
    joined = " ".join(args)
    assert "O'Brien" not in joined and "drawtext" not in joined
    graph = args[args.index("-filter_complex") + 1]
    assert graph.count("overlay=") == 3
    assert r"enable=gte(t\,1)*lt(t\,2)" in graph
    assert args[-1] == str(tmp_path / "v.mp4")
    for flag, value in [("-vcodec", "libx264"), ("-acodec", "copy"), ("-movflags", "+faststart"),
                        ("-preset", "veryfast"), ("-crf", "23")]:
        assert args[args.index(flag) + 1] == value
    assert args[:2] == ["ffmpeg", "-hide_banner"]
    assert [a for a in args if a.endswith(".png")] == [str(p) for p in pngs]


def test_template_without_audio_renders_video_only(card_spec, settings, tmp_path):
    from tests.conftest import make_template

    assets = tmp_path / "assets"
    assets.mkdir()
    shutil.copytree(settings.assets_dir / "fonts", assets / "fonts")
    shutil.copy(settings.assets_dir / "logo.png", assets / "logo.png")
    make_template(assets / "templates" / "tiny.mp4", audio=False, seconds=2)
    row = coerce_row(card_spec, {"customer_id": "x", "first_name": "A", "price": 1})
    out = render(compile(card_spec, row, assets_dir=assets), tmp_path / "out", settings)
    info = probe(out.video)
    assert not info.has_audio and info.frames == 2 * FPS


def test_poster_args_seek_then_take_one_frame():
    args = poster_args(Path("/v.mp4"), 1.5, Path("/p.jpg"), ffmpeg_exe="ffmpeg")
    assert args[args.index("-ss") + 1] == "1.500"
    assert args.index("-ss") < args.index("-i")
    assert args[args.index("-vframes") + 1] == "1"
