"""The render benchmark's workloads: a template, a scene and a row per customer.

``reference``: a 30 s 1280x720 30 fps ``testsrc2`` template with AAC audio,
three 3 s text overlays and one CTA on whole seconds (30% of the frames
personalized), built here. ``welcome``: the bundled welcome template
(``assets/templates/welcome.mp4``) with ``scenes/welcome.yaml``'s layers, their
windows moved off whole seconds (greeting 1.3-4.7 s, plan 10.4-18.6 s, CTA
20.2-28.9 s: 68% of the frames personalized) so that keyframes have to be placed
where the personalization is.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pvideo.settings import PROJECT_ROOT, Settings

NAMES = [
    "Ana",
    "Bartholomew",
    "Chiara",
    "Dmitri",
    "Eun-ji",
    "Fatima",
    "Gustavo",
    "Hiroko",
    "Ingrid",
    "Jamal",
    "Kofi",
    "Lucía",
]
SCENE = {
    "name": "bench",
    "video": "bench/template.mp4",
    "poster_at": 3,
    "fields": {"customer_id": {"type": "str"}, "name": {"type": "str"}, "plan": {"type": "str"}},
    "layers": [
        {
            "type": "text",
            "id": "hello",
            "text": "Hello, {{ name }}!",
            "start": 2,
            "end": 5,
            "box": {"x": 80, "y": 80, "w": 700, "h": 110},
            "size": 72,
            "background": "#00000099",
        },
        {
            "type": "text",
            "id": "plan",
            "text": "Your {{ plan }} plan is ready",
            "start": 12,
            "end": 15,
            "box": {"x": 80, "y": 520, "w": 800, "h": 90},
            "size": 56,
            "background": "#1f2a44cc",
        },
        {
            "type": "text",
            "id": "offer",
            "text": "{{ name }}, this offer is yours",
            "start": 22,
            "end": 25,
            "box": {"x": 80, "y": 80, "w": 900, "h": 100},
            "size": 60,
            "background": "#00000099",
        },
        {
            "type": "cta",
            "id": "claim",
            "label": "Claim it, {{ name }}",
            "href": "https://example.com/o?c={{ customer_id | urlencode }}",
            "start": 22,
            "end": 25,
            "box": {"x": 80, "y": 560, "w": 420, "h": 90},
        },
    ],
}


def build_workload(root: Path, settings: Settings) -> Path:
    """Template + scene under ``root`` (reused when present). Returns the scene path."""
    assets = root / "assets"
    template = assets / "bench" / "template.mp4"
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                settings.ffmpeg_exe,
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=1280x720:rate=30:duration=30",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=220:beep_factor=4:sample_rate=48000:duration=30",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-movflags",
                "+faststart",
                str(template),
            ],
            check=True,
        )
    fonts = assets / "fonts"
    if not fonts.exists():
        fonts.symlink_to(settings.assets_dir.resolve() / "fonts", target_is_directory=True)
    scene = root / "bench.yaml"
    scene.write_text(yaml.safe_dump(SCENE, sort_keys=False))
    return scene


WELCOME_WINDOWS = {"greeting": (1.3, 4.7), "plan_line": (10.4, 18.6), "get_started": (20.2, 28.9)}
PLANS = ["Basic", "Plus", "Pro"]


@dataclass(frozen=True)
class Workload:
    name: str
    scene: Path
    assets_dir: Path

    def row(self, index: int) -> dict[str, Any]:
        name, plan = NAMES[index % len(NAMES)], PLANS[index % 3]
        if self.name == "welcome":
            return {"customer_id": f"c{index}", "first_name": name, "plan": plan, "price": 9.0 + index}
        return {"customer_id": f"c{index}", "name": name, "plan": plan}


WORKLOADS = ("reference", "welcome")


def workload(name: str, root: Path) -> Workload:
    """The workload ``name`` as built under ``root`` (``prepare`` builds it)."""
    if name == "reference":
        return Workload(name, root / "bench.yaml", root / "assets")
    if name == "welcome":
        return Workload(name, root / "welcome.yaml", PROJECT_ROOT / "assets")
    raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")


def prepare(name: str, root: Path, settings: Settings) -> Workload:
    """Build workload ``name`` under ``root`` (the template is reused when present)."""
    if name == "reference":
        build_workload(root, settings)
    elif name == "welcome":
        scene = yaml.safe_load((PROJECT_ROOT / "scenes" / "welcome.yaml").read_text())
        for layer in scene["layers"]:
            if layer.get("id") in WELCOME_WINDOWS:
                layer["start"], layer["end"] = WELCOME_WINDOWS[layer["id"]]
        (root / "welcome.yaml").write_text(yaml.safe_dump(scene, sort_keys=False))
    return workload(name, root)
