"""Branch sections (the sections a choose-your-path jumps to) have no ``when``: every customer's
video keeps the whole template, and each branch starts on a segment of its own, so the player
can jump to it on the MP4 and on the HLS playlist alike.
"""

from __future__ import annotations

import math

import numpy as np

from pvideo.db.models import Render
from pvideo.jobs.pipeline import render_customer
from pvideo.plan.compiler import compile_plan
from pvideo.plan.interactive import resolve_interactive
from pvideo.render import hls
from pvideo.render.versions import cache_dir, segment_files, template_version
from pvideo.scene.customers import CustomerRow, coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.conftest import FPS, SECONDS
from tests.jobs.runs import submit
from tests.media import frames_rgb

BRANCHES = {"billing": (1.5, 2.5), "savings": (2.5, 3.2), "outro": (3.2, 4.0)}  # off the 1 s grid on purpose
SCENE = {
    "name": "paths",
    "video": "templates/tiny.mp4",
    "fields": {"customer_id": {"type": "str"}, "first_name": {"type": "str"}},
    "sections": [
        {"name": "billing", "start": 1.5, "end": 2.5, "then": "outro"},
        {"name": "savings", "start": 2.5, "end": 3.2, "then": "outro"},
        {"name": "outro", "start": 3.2, "end": 4.0},
    ],
    "interactions": [
        {"type": "nps", "id": "score", "start": 0.5, "pause": True, "question": "{{ first_name }}, recommend us?"},
        {
            "type": "choice",
            "id": "topic",
            "start": 1.0,
            "question": "Tell me about",
            "options": [{"section": "billing", "label": "Billing"}, {"section": "savings", "label": "Savings"}],
        },
    ],
    "layers": [
        {
            "type": "text",
            "id": "hello",
            "text": "Hi {{ first_name }}",
            "start": 0.2,
            "end": 1.0,
            "box": {"x": 40, "y": 40, "w": 300, "h": 80},
            "background": "#102040",
        }
    ],
}
ROW = {"customer_id": "c1", "first_name": "Ann"}


def test_branch_sections_are_cut_points_and_none_is_skipped(settings, tmp_path):
    spec = parse_scene(SCENE)
    plan = compile_plan(spec, coerce_row(spec, ROW), assets_dir=settings.assets_dir)
    assert plan.skipped == () and [s.kept for s in plan.sections] == [True, True, True]
    assert {1.5, 2.5, 3.2} <= set(plan.cuts)
    assert plan.kept(SECONDS) == [(0.0, SECONDS)]
    storage = LocalStorage(tmp_path / "store")
    version = template_version(plan, storage, settings)
    starts = {s.first_frame for s in version.segments}
    assert {round(start * FPS) for start, _ in BRANCHES.values()} <= starts  # frames 45, 75, 96
    assert sum(s.frames for s in version.segments) == FPS * SECONDS
    assert len(segment_files(version, storage, cache_dir(settings))) == len(version.segments)


def test_a_campaign_with_branches_renders_the_whole_video(runtime, tmp_path):
    spec = parse_scene(SCENE)
    _, (render_id,) = submit(runtime, spec, [CustomerRow(1, ROW)])
    assert render_customer(runtime.db, runtime.storage, runtime.settings, render_id) == "done"
    with runtime.db.session() as session:
        render = session.get(Render, render_id)
        video_key, digest, duration = render.video_key, render.plan_digest, render.duration
    assert math.isclose(duration, SECONDS)

    frames = frames_rgb(runtime.storage.local_path(video_key))
    assert len(frames) == FPS * SECONDS  # no branch left out of the file
    plan = compile_plan(spec, coerce_row(spec, ROW), assets_dir=runtime.settings.assets_dir)
    version = template_version(plan, runtime.storage, runtime.settings)
    mezzanine = tmp_path / "m.ts"
    mezzanine.write_bytes(
        b"".join(p.read_bytes() for p in segment_files(version, runtime.storage, cache_dir(runtime.settings)))
    )
    template = frames_rgb(mezzanine)
    for start, end in BRANCHES.values():  # each branch in its place, its frames the template's own
        for k in (round(start * FPS), round(end * FPS) - 1):
            assert np.array_equal(frames[k], template[k]), k

    playlist = runtime.storage.get_bytes(hls.playlist_key(digest)).decode()
    assert "#EXT-X-DISCONTINUITY" not in playlist
    lengths = [float(line[8:].rstrip(",")) for line in playlist.splitlines() if line.startswith("#EXTINF:")]
    assert math.isclose(sum(lengths), SECONDS, abs_tol=1e-3)
    bounds = {round(sum(lengths[:k]), 3) for k in range(len(lengths))}
    assert {start for start, _ in BRANCHES.values()} <= bounds  # a jump lands on a segment's first frame
    played = [f for uri in hls.playlist_keys(playlist) for f in frames_rgb(runtime.storage.local_path(uri))]
    assert len(played) == FPS * SECONDS

    interactive = resolve_interactive(spec, ROW, duration=duration)
    assert [(s["name"], s["start"], s["end"], s["then"]) for s in interactive["sections"]] == [
        (name, start, end, "outro" if name != "outro" else None) for name, (start, end) in BRANCHES.items()
    ]
