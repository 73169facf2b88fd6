"""CLI entry points of the render engine: template ingest and engine choice."""

from __future__ import annotations

import av
from typer.testing import CliRunner

from pvideo.cli import app
from tests.conftest import FPS, SECONDS


def _env(settings):
    return {
        "PVIDEO_ASSETS_DIR": str(settings.assets_dir),
        "PVIDEO_SCENES_DIR": str(settings.scenes_dir),
        "PVIDEO_DATA_DIR": str(settings.data_dir),
        "PVIDEO_SECRET_KEY": "k" * 40,
        "COLUMNS": "200",
    }


def test_template_ingest_for_a_scene_then_render_reuses_it(settings):
    runner = CliRunner()
    result = runner.invoke(
        app, ["template", "ingest", "--scene", str(settings.scenes_dir / "card.yaml")], env=_env(settings)
    )
    assert result.exit_code == 0, result.output
    prefix = result.output.split(":")[0].strip()
    # the 1 s grid and a cut where the CTA's window starts (2.5 s): keyframes where the personalization is
    assert prefix.startswith("templates/") and f"{FPS * SECONDS} frames in {SECONDS + 1} segments" in result.output
    stored = settings.data_dir / "storage" / prefix
    assert (stored / "manifest.json").is_file() and len(list(stored.glob("seg_*.ts"))) == SECONDS + 1
    before = {p: p.stat().st_mtime_ns for p in stored.iterdir()}
    out = settings.data_dir / "one.mp4"
    result = runner.invoke(
        app,
        [
            "render",
            str(settings.scenes_dir / "card.yaml"),
            "--row",
            "customer_id=c",
            "--row",
            "first_name=Ana",
            "--row",
            "price=2",
            "-o",
            str(out),
        ],
        env=_env(settings),
    )
    assert result.exit_code == 0, result.output
    assert {p: p.stat().st_mtime_ns for p in stored.iterdir()} == before  # reused, not re-ingested


def test_render_with_the_full_engine(settings, tmp_path):
    out = tmp_path / "full.mp4"
    result = CliRunner().invoke(
        app,
        [
            "render",
            str(settings.scenes_dir / "card.yaml"),
            "--engine",
            "full",
            "--row",
            "customer_id=c",
            "--row",
            "first_name=Bo",
            "--row",
            "price=1",
            "-o",
            str(out),
        ],
        env=_env(settings),
    )
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == FPS * SECONDS


def test_template_ingest_needs_something_to_ingest(settings):
    result = CliRunner().invoke(app, ["template", "ingest"], env=_env(settings))
    assert result.exit_code == 1 and "VIDEO or --scene" in result.output


def test_template_ingest_for_a_scene_with_media_chosen_by_data(settings, tmp_path):
    """Clips, music and images picked per row are not part of the shared version: ingest leaves them
    out instead of failing on a made-up sample row, and a real row's render then reuses that version."""
    import copy

    import yaml

    from tests.conftest import CARD_SCENE, copy_assets
    from tests.synthetic import write_clip, write_track

    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    write_clip(assets / "clips" / "Pro.mp4")
    write_track(settings.ffmpeg_exe, assets / "music" / "Pro.m4a", 1000)
    scene = copy.deepcopy(CARD_SCENE)
    scene["fields"]["plan"] = {"type": "str"}  # required: the made-up sample row says "Sample", no such clip
    (assets / "avatars").mkdir()
    (assets / "avatars" / "c.png").write_bytes((assets / "logo.png").read_bytes())
    scene["layers"] += [
        {
            "type": "video",
            "src": "clips/{{ plan }}.mp4",
            "start": 1,
            "end": 2,
            "box": {"x": 0, "y": 0, "w": 160, "h": 90},
        },
        {"type": "audio", "src": "music/{{ plan }}.m4a", "volume": 0.5},
        {
            "type": "image",
            "src": "avatars/{{ customer_id }}.png",
            "start": 0,
            "end": 1,
            "box": {"x": 0, "y": 100, "w": 64, "h": 64},
        },
    ]
    path = tmp_path / "media.yaml"
    path.write_text(yaml.safe_dump(scene, sort_keys=False))
    env = {**_env(settings), "PVIDEO_ASSETS_DIR": str(assets)}
    runner = CliRunner()
    result = runner.invoke(app, ["template", "ingest", "--scene", str(path)], env=env)
    assert result.exit_code == 0, result.output
    stored = settings.data_dir / "storage" / result.output.split(":")[0].strip()
    before = {p: p.stat().st_mtime_ns for p in stored.iterdir()}
    out = tmp_path / "one.mp4"
    result = runner.invoke(
        app,
        [
            "render",
            str(path),
            "--row",
            "customer_id=c",
            "--row",
            "first_name=Ana",
            "--row",
            "price=2",
            "--row",
            "plan=Pro",
            "-o",
            str(out),
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert {p: p.stat().st_mtime_ns for p in stored.iterdir()} == before  # the base version was reused
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == FPS * SECONDS
