"""``pvideo demo --no-serve`` on the bundled sample campaign, as a new user runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import av

from pvideo.probe import probe
from pvideo.settings import PROJECT_ROOT
from tests.media import top_level_atoms


def test_demo_renders_every_sample_customer(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVIDEO_")}
    result = subprocess.run(["pvideo", "demo", "--no-serve"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6/6 rendered" in result.stdout
    assert result.stdout.count("http://127.0.0.1:8000/v/") == 6

    template = probe(PROJECT_ROOT / "assets" / "templates" / "welcome.mp4")
    videos = sorted((tmp_path / "pvideo-data" / "storage" / "outputs").glob("*/video.mp4"))
    assert len(videos) == 6
    for video in videos:
        info = probe(video)
        assert abs(info.duration - template.duration) <= template.frame_duration
        assert info.frames == template.frames
        assert info.has_audio and info.audio_codec == "aac"
        atoms = top_level_atoms(video)
        assert atoms.index("moov") < atoms.index("mdat")
        poster = video.with_name("poster.jpg")
        with av.open(str(poster)) as container:
            assert next(container.decode(video=0)).width == 1280
