"""A template of solid colour blocks, scenes with branch sections over it, and a campaign of it
rendered and served: which section a decoded frame comes from shows in its colour.

Shared by the interactive player's browser tests (``test_interactive_player.py``,
``test_branch_timeline.py``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import API_KEY, FPS, HEIGHT, WIDTH, copy_assets

FRAME = 1 / FPS

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 200, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "magenta": (255, 0, 255),
    "cyan": (0, 255, 255),
    "white": (255, 255, 255),
}


def make_colour_template(path: Path, blocks: list[tuple[str, float]], ffmpeg_exe: str) -> Path:
    """``blocks`` of (palette colour, seconds) one after the other, 640x360 at 30 fps, with a tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [ffmpeg_exe, "-hide_banner", "-loglevel", "error", "-y"]
    for colour, seconds in blocks:
        r, g, b = PALETTE[colour]
        args += ["-f", "lavfi", "-i", f"color=c=0x{r:02x}{g:02x}{b:02x}:s={WIDTH}x{HEIGHT}:r={FPS}:d={seconds}"]
    total = sum(seconds for _, seconds in blocks)
    args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={total}"]
    joined = "".join(f"[{n}:v]" for n in range(len(blocks)))
    args += ["-filter_complex", f"{joined}concat=n={len(blocks)}:v=1:a=0,format=yuv420p[v]"]
    args += ["-map", "[v]", "-map", f"{len(blocks)}:a", "-c:v", "libx264", "-preset", "ultrafast", "-g", str(FPS)]
    args += ["-c:a", "aac", "-b:a", "96k", "-t", str(total), str(path)]
    subprocess.run(args, check=True)
    return path


def scene(name: str, video: str, sections: list[dict[str, Any]], interactions: list[dict[str, Any]]) -> dict:
    return {
        "name": name,
        "video": video,
        "poster_at": 0.5,
        "fields": {
            "customer_id": {"type": "str"},
            "first_name": {"type": "str", "required": False, "default": "there"},
            "email": {"type": "str", "required": False, "default": ""},
        },
        "layers": [],
        "sections": sections,
        "interactions": interactions,
    }


def make_colour_assets(assets_dir: Path, target: Path, blocks: list[tuple[str, float]]) -> Path:
    """A copy of the test assets whose ``templates/colours.mp4`` is made of ``blocks``."""
    from pvideo.settings import Settings

    assets = copy_assets(assets_dir, target)
    make_colour_template(assets / "templates" / "colours.mp4", blocks, Settings().ffmpeg_exe)
    return assets


def use_scenes(settings: Any, assets: Path, scenes_dir: Path, *specs: dict) -> Any:
    """``settings`` pointed at ``assets`` and at a scenes folder holding ``specs``."""
    settings.assets_dir = assets
    settings.scenes_dir = scenes_dir
    for spec in specs:
        write_scene(scenes_dir, spec)
    return settings


def write_scene(scenes_dir: Path, spec: dict) -> None:
    scenes_dir.mkdir(parents=True, exist_ok=True)
    (scenes_dir / f"{spec['name']}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def render_campaign(
    base: str, app, scene_name: str, rows: list[dict], *, outputs: str = "both"
) -> tuple[str, list[str]]:
    """Submit ``rows`` of ``scene_name`` through the API, wait for the renders: (campaign id, landing URLs)."""
    with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=60) as api:
        created = api.post("/api/campaigns", json={"scene": scene_name, "rows": rows, "outputs": outputs})
        assert created.status_code == 201, created.text
        app.state.pvideo.queue.join(timeout_ms=180_000)
        campaign_id = created.json()["id"]
        renders = api.get(f"/api/campaigns/{campaign_id}/renders").json()
    assert all(r["status"] == "done" for r in renders), renders
    by_row = sorted(renders, key=lambda r: r["customer_id"])
    return campaign_id, [r["landing_url"] for r in by_row]


def nearest(rgb: list[int] | tuple[int, ...]) -> tuple[str, float]:
    """The palette colour nearest ``rgb`` and how far it is (0..441)."""
    name, ref = min(PALETTE.items(), key=lambda kv: sum((a - b) ** 2 for a, b in zip(kv[1], rgb)))
    return name, sum((a - b) ** 2 for a, b in zip(ref, rgb)) ** 0.5


SAMPLER = """() => {
  // Each presented frame, and the first one presented after each seek, drawn to a small canvas:
  // the colour the viewer saw, with the frame's media time.
  const v = document.getElementById('pvideo-video');
  const c = document.createElement('canvas');
  c.width = 8; c.height = 8;
  const g = c.getContext('2d', {willReadFrequently: true});
  const colour = () => { g.drawImage(v, 0, 0, 8, 8); return Array.from(g.getImageData(4, 4, 1, 1).data.slice(0, 3)); };
  const out = window.__frames = {frames: [], seeks: []};
  v.addEventListener('seeked', () => {
    const seek = {t: v.currentTime, frame: null, rgb: null};
    out.seeks.push(seek);
    v.requestVideoFrameCallback((_now, meta) => { seek.frame = meta.mediaTime; seek.rgb = colour(); });
  });
  const onFrame = (_now, meta) => { out.frames.push({t: meta.mediaTime, rgb: colour()}); v.requestVideoFrameCallback(onFrame); };
  v.requestVideoFrameCallback(onFrame);
}"""
"""Injected into a landing page: ``window.__frames`` = {frames: [{t, rgb}], seeks: [{t, frame, rgb}]}:
every presented frame, and for each seek where it landed and the first frame presented after it."""
