"""``pvideo demo --no-serve`` on the bundled example campaigns, as a new user runs it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess

import av
from PIL import Image

from pvideo.render.probe import probe
from pvideo.settings import PROJECT_ROOT
from tests.media import top_level_atoms

TEMPLATES = {
    "welcome": "welcome.mp4",
    "welcome-vertical": "welcome-vertical.mp4",
    "welcome-square": "welcome-square.mp4",
    "bill": "bill.mp4",
    "renewal": "renewal.mp4",
    "checkin": "checkin.mp4",
}


def test_demo_renders_every_example_campaign(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVIDEO_")}
    result = subprocess.run(
        ["pvideo", "demo", "--no-serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("6/6 rendered", "3/3 rendered", "2/2 rendered", "26/26 videos in 6 campaigns"):
        assert line in result.stdout
    assert result.stdout.count("http://127.0.0.1:8000/v/") == 26

    data = tmp_path / "pvideo-data"
    with sqlite3.connect(data / "pvideo.db") as db:
        renders = db.execute(
            "SELECT c.scene_name, r.customer_id, r.video_key, r.outputs FROM renders r "
            "JOIN campaigns c ON c.id = r.campaign_id ORDER BY c.scene_name, r.row_number"
        ).fetchall()
    assert [customer for scene, customer, _, _ in renders if scene == "renewal"] == ["R-3001", "R-3002"]
    with sqlite3.connect(data / "pvideo.db") as db:
        (scene,) = db.execute("SELECT scene FROM campaigns WHERE scene_name = 'checkin'").fetchone()
    asked = [(i["type"], i["id"]) for i in json.loads(scene)["interactions"]]
    assert asked == [("nps", "recommend"), ("choice", "topic"), ("form", "callback"), ("calendar", "book")]
    storage = data / "storage"
    for scene, customer, video_key, outputs in renders:
        template = probe(PROJECT_ROOT / "assets" / "templates" / TEMPLATES[scene])
        video = storage / video_key
        info = probe(video)
        assert (info.width, info.height) == (template.width, template.height), scene
        skipped = 3 if customer == "R-3002" else 0  # renews in 45 days: the offer section is cut
        assert abs(info.duration - (template.duration - skipped)) <= template.frame_duration, (scene, customer)
        assert info.frames == template.frames - skipped * 30
        assert info.has_audio and info.audio_codec == "aac"
        atoms = top_level_atoms(video)
        assert atoms.index("moov") < atoms.index("mdat")
        with av.open(str(video.with_name("poster.jpg"))) as container:
            assert next(container.decode(video=0)).width == template.width
        stored = json.loads(outputs)
        assert set(stored) == {"thumbnail.gif", "thumbnail.webp", "captions.vtt", "track.vtt"}
        for name in ("thumbnail.gif", "thumbnail.webp"):
            path = storage / stored[name]
            assert path.stat().st_size <= 1024 * 1024
            with Image.open(path) as loop:
                assert loop.n_frames > 10
        assert (storage / stored["captions.vtt"]).read_text().startswith("WEBVTT")


def test_example_templates_are_small():
    total = sum((PROJECT_ROOT / "assets" / "templates" / name).stat().st_size for name in TEMPLATES.values())
    assert total < 4 * 1024 * 1024


def test_demo_prints_the_studio_and_a_sign_in_link_for_its_admin(runtime, client, capsys):
    """What ``pvideo demo`` prints before serving (``announce_studio``): the link sets a password and signs in."""
    import re
    from urllib.parse import urlsplit

    from pvideo.cli.demo import announce_studio

    announce_studio(runtime)
    out = capsys.readouterr().out
    assert "studio: http://testserver/studio\n" in out
    link = re.search(r"as demo@pvideo\.local \(admin\), once: (\S+)", out).group(1)
    page = client.get(urlsplit(link).path)
    assert page.status_code == 200 and "demo@pvideo.local" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    form = {"password": "plum orchard seventy kites", "password_again": "plum orchard seventy kites", "csrf": csrf}
    assert client.post(urlsplit(link).path, data=form, follow_redirects=False).status_code == 303
    assert client.get("/studio/users", follow_redirects=False).status_code == 200  # an admin
