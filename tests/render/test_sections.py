"""Conditional sections: a skipped template range leaves the customer's video, everything after moves earlier.

Ingest cuts segments at every section boundary (also off the 1-second grid), so
a skipped section is whole segments: the MP4 splice leaves them out and closes
the timestamp gap, the HLS playlist leaves them out behind a discontinuity.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace

import av
import numpy as np
import pytest

from pvideo.db.models import Render
from pvideo.errors import DataError, SceneError
from pvideo.files import file_hash
from pvideo.jobs.pipeline import render_customer
from pvideo.plan.compiler import compile_plan
from pvideo.render import hls
from pvideo.render.engine import render_plan
from pvideo.render.ingest import IngestOptions, ingest, segment_files, version_hash
from pvideo.render.parts import skipped_segments
from pvideo.render.versions import cache_dir, store_hls, template_version
from pvideo.scene.customers import CustomerRow, coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.conftest import FPS, SECONDS
from tests.jobs.runs import submit
from tests.media import frames_rgb, psnr

SECTION = (1.5, 2.5)  # off the 1 s segment grid on purpose
KEPT_FRAMES = FPS * SECONDS - FPS  # 120 - 30

SCENE = {
    "name": "renewal",
    "video": "templates/tiny.mp4",
    "poster_at": 2.0,
    "fields": {"customer_id": {"type": "str"}, "days_left": {"type": "int"}, "first_name": {"type": "str"}},
    "sections": [{"name": "offer", "start": SECTION[0], "end": SECTION[1], "when": "days_left <= 30"}],
    "layers": [
        {
            "type": "text",
            "id": "hello",
            "text": "Hi {{ first_name }}",
            "start": 0.5,
            "end": 1.0,
            "box": {"x": 40, "y": 40, "w": 300, "h": 80},
            "background": "#102040",
        },
        {
            "type": "text",
            "id": "deal",
            "text": "{{ days_left }} days",
            "start": 1.6,
            "end": 2.4,
            "box": {"x": 40, "y": 140, "w": 300, "h": 80},
            "background": "#401020",
        },
        {
            "type": "cta",
            "id": "renew",
            "label": "Renew, {{ first_name }}",
            "href": "https://shop.example/renew",
            "start": 2.5,
            "end": 3.0,
            "box": {"x": 40, "y": 260, "w": 240, "h": 60},
        },
    ],
}


def _plan(settings, days_left: int, first_name: str = "Ann"):
    spec = parse_scene(SCENE)
    row = coerce_row(spec, {"customer_id": "c", "days_left": days_left, "first_name": first_name})
    return compile_plan(spec, row, assets_dir=settings.assets_dir)


@pytest.fixture()
def skipped(settings, tmp_path):
    """A customer far from renewal: the offer section is skipped; both engines rendered."""
    plan = _plan(settings, days_left=90)
    storage = LocalStorage(tmp_path / "store")
    version = template_version(plan, storage, settings)
    paths = segment_files(version, storage, cache_dir(settings))
    out = {
        e: render_plan(plan, version, paths, tmp_path / e, ffmpeg_exe=settings.ffmpeg_exe, engine=e)
        for e in ("segments", "full")
    }
    return plan, version, paths, storage, out


def test_spec_rejects_overlapping_and_twice_named_sections():
    base = {"name": "s", "video": "v.mp4"}
    with pytest.raises(SceneError, match="sections 'a' and 'b' overlap"):
        parse_scene(
            {
                **base,
                "sections": [
                    {"name": "a", "start": 1, "end": 3, "when": "x"},
                    {"name": "b", "start": 2, "end": 4, "when": "x"},
                ],
            }
        )
    with pytest.raises(SceneError, match="'a' is named twice"):
        parse_scene(
            {
                **base,
                "sections": [
                    {"name": "a", "start": 1, "end": 2, "when": "x"},
                    {"name": "a", "start": 3, "end": 4, "when": "x"},
                ],
            }
        )
    with pytest.raises(SceneError, match="end"):
        parse_scene({**base, "sections": [{"name": "a", "start": 3, "end": 2, "when": "x"}]})


def test_plan_maps_template_time_to_output_time(settings):
    plan = _plan(settings, days_left=90)
    # cuts: the section's bounds and every personal window's, "deal" too (the scene's, not the row's)
    assert plan.keyframes == (0.5, 1.0, 1.6, 2.4, 2.5, 3.0)
    assert [s.name for s in plan.skipped] == ["offer"] and plan.cuts == (0.5, 1.0, 1.5, 1.6, 2.4, 2.5, 3.0)
    assert plan.kept(SECONDS) == [(0.0, 1.5), (2.5, 4.0)]
    assert [plan.output_time(t) for t in (1.0, 2.0, 2.5, 3.5)] == [1.0, 1.5, 1.5, 2.5]
    assert {o.layer.split("'")[1] for o in plan.overlays} == {"hello", "renew"}  # "deal" lies inside the section
    (renew,) = plan.hotspots
    assert (renew.start, renew.end) == (1.5, 2.0)
    kept = _plan(settings, days_left=10)
    assert not kept.skipped and kept.cuts == plan.cuts and kept.hotspots[0].start == 2.5
    assert {o.layer.split("'")[1] for o in kept.overlays} == {"hello", "deal", "renew"}


def test_section_condition_errors_name_the_row_and_section(settings):
    spec = parse_scene({**SCENE, "sections": [{"name": "offer", "start": 1, "end": 2, "when": "nope > 1"}]})
    row = coerce_row(spec, {"customer_id": "c", "days_left": 3, "first_name": "A"})
    with pytest.raises(DataError) as err:
        compile_plan(spec, row, assets_dir=settings.assets_dir, row_number=7)
    assert "row 7" in str(err.value) and "section 'offer'" in str(err.value)


def test_ingest_cuts_segments_at_section_boundaries(skipped, settings):
    plan, version, paths, _, _ = skipped
    starts = [s.first_frame for s in version.segments]
    # the grid, the section (45, 75) and the personal windows (hello 15-30, deal 48-72, renew 75-90)
    assert starts == [0, 15, 30, 45, 48, 60, 72, 75, 90]
    assert [s.frames for s in version.segments] == [15, 15, 15, 3, 12, 12, 3, 15, 30]
    for path in paths:
        with av.open(str(path)) as container:
            assert next(container.decode(video=0)).key_frame
    assert skipped_segments(plan, version) == {3, 4, 5, 6}
    source = file_hash(plan.template)
    options = IngestOptions(preset=settings.x264_preset, crf=settings.x264_crf)
    assert version.hash == version_hash(source, replace(options, cuts=plan.cuts), plan.static_overlays)
    assert version_hash(source, options) != version_hash(source, replace(options, cuts=SECTION))


def _packets(path) -> dict[str, list[tuple[float, bytes]]]:
    """Each stream's packets as (seconds, bytes), in file order."""
    out: dict[str, list[tuple[float, bytes]]] = {"video": [], "audio": []}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size:
                out[packet.stream.type].append((float(packet.pts * packet.time_base), bytes(packet)))
    return out


@pytest.mark.parametrize("engine", ["segments", "full"])
def test_audio_after_the_section_keeps_its_place_against_the_video(skipped, engine):
    """The first kept segment's audio packets sit as far from its first frame as in the mezzanine."""
    _, _, paths, _, out = skipped
    source = _packets(paths[7])  # the first kept segment after the section (template frame 75)
    start, first_audio = source["video"][0][0], source["audio"][0][0]
    run = [data[7:] for _, data in source["audio"]]  # MP4 keeps AAC without the ADTS header
    output = _packets(out[engine].video)
    audio = [data for _, data in output["audio"]]
    (at,) = [i for i in range(len(audio)) if audio[i : i + len(run)] == run]
    assert abs((output["audio"][at][0] - output["video"][45][0]) - (first_audio - start)) < 1e-4


@pytest.mark.parametrize("engine", ["segments", "full"])
def test_output_leaves_the_section_out_cleanly(skipped, settings, engine):
    _, _version, _, _, out = skipped
    video = out[engine].video
    check = subprocess.run(
        [settings.ffmpeg_exe, "-v", "error", "-i", str(video), "-f", "null", "-"], capture_output=True, text=True
    )
    assert check.returncode == 0 and check.stderr == ""
    with av.open(str(video)) as container:
        v, a = container.streams.video[0], container.streams.audio[0]
        tick, audio_tick = v.time_base, a.time_base
        packets = [(p.stream.type, p.pts, p.duration) for p in container.demux() if p.size]
    stamps = [pts for kind, pts, _ in packets if kind == "video"]
    audio = [(pts, duration) for kind, pts, duration in packets if kind == "audio"]
    frame_ticks = round(1 / (FPS * tick))
    assert len(stamps) == KEPT_FRAMES and set(np.diff(stamps)) == {frame_ticks}  # the gap is closed
    video_end = (stamps[-1] + frame_ticks) * tick
    audio_end = (audio[-1][0] + audio[-1][1]) * audio_tick
    assert abs(float(audio_end - video_end)) <= 1 / FPS
    assert abs(float(audio[0][0] * audio_tick - stamps[0] * tick)) <= 1 / FPS
    assert len(frames_rgb(video)) == KEPT_FRAMES


def test_frames_after_the_section_are_the_mezzanines(skipped, tmp_path, settings):
    """Output frame k >= 45 is template frame k + 30; untouched segments bit for bit."""
    _, _version, paths, _, out = skipped
    mezzanine = tmp_path / "m.ts"
    mezzanine.write_bytes(b"".join(p.read_bytes() for p in paths))
    base = frames_rgb(mezzanine)
    personal = frames_rgb(out["segments"].video)
    assert [(p.first, p.count) for p in out["segments"].parts] == [(1, 1), (7, 1)]  # hello, renew
    untouched = [*range(0, 15), *range(30, 45), *range(60, KEPT_FRAMES)]  # all but hello's and renew's frames
    for k in untouched:
        source = k if k < 45 else k + FPS
        assert np.array_equal(personal[k], base[source]), f"output frame {k}"
    for k in range(45, 60):  # the renew part, re-encoded: template frames 75..89 under the button
        assert psnr(personal[k], base[k + FPS]) > 15 and not np.array_equal(personal[k], base[k])
    full = frames_rgb(out["full"].video)
    assert min(psnr(personal[k], full[k]) for k in range(KEPT_FRAMES)) >= 30


def test_poster_inside_a_skipped_section_moves_to_its_end(skipped, tmp_path, settings):
    """poster_at 2.0 s lies in the skipped offer: the poster is the first frame after it (output frame 45)."""
    from PIL import Image

    _, _, paths, _, out = skipped
    mezzanine = tmp_path / "m.ts"
    mezzanine.write_bytes(b"".join(p.read_bytes() for p in paths))
    skipped_frame = frames_rgb(mezzanine)[60].astype(float)
    for engine in ("segments", "full"):
        expected = frames_rgb(out[engine].video)[45].astype(float)
        poster = np.asarray(Image.open(out[engine].poster).convert("RGB"), dtype=float)
        assert np.abs(poster - expected).mean() < 4 < np.abs(poster - skipped_frame).mean(), engine


def test_hls_playlist_skips_the_section_behind_a_discontinuity(skipped, tmp_path, settings):
    _, version, _, storage, out = skipped
    key = store_hls(version, out["segments"], storage, "outputs/x")
    text = storage.get_bytes(key).decode()
    lines = text.splitlines()
    assert lines.count("#EXT-X-DISCONTINUITY") == 1
    after = lines[lines.index("#EXT-X-DISCONTINUITY") + 2]
    assert after == version.segments[7].key or after.endswith("part_00007.ts")
    durations = [float(line[8:].rstrip(",")) for line in lines if line.startswith("#EXTINF:")]
    assert abs(sum(durations) - KEPT_FRAMES / FPS) < 1e-3
    local = tmp_path / "play.m3u8"
    local.write_text(hls.rewrite(text, lambda k: str(storage.local_path(k))))
    joined = tmp_path / "joined.mp4"
    check = subprocess.run(
        [settings.ffmpeg_exe, "-v", "error", "-allowed_extensions", "ALL", "-i", str(local), "-c", "copy", str(joined)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and check.stderr == "", check.stderr
    assert len(frames_rgb(joined)) == KEPT_FRAMES


def test_kept_section_renders_the_whole_template(settings, tmp_path):
    plan = _plan(settings, days_left=10)
    storage = LocalStorage(tmp_path / "store")
    version = template_version(plan, storage, settings)
    paths = segment_files(version, storage, cache_dir(settings))
    out = render_plan(plan, version, paths, tmp_path / "o", ffmpeg_exe=settings.ffmpeg_exe)
    assert out.skip == frozenset() and len(frames_rgb(out.video)) == FPS * SECONDS


def test_unaligned_section_is_a_clear_error(settings, tmp_path):
    """A version ingested without the scene's cuts cannot skip mid-segment: the error names the section."""
    plan = _plan(settings, days_left=90)
    storage = LocalStorage(tmp_path / "store")
    version = ingest(plan.template, storage, ffmpeg_exe=settings.ffmpeg_exe, options=IngestOptions(preset="ultrafast"))
    with pytest.raises(SceneError, match="section 'offer'"):
        skipped_segments(plan, version)


def test_pipeline_records_output_duration_and_shifted_hotspots(runtime, tmp_path):
    spec = parse_scene(SCENE)
    _, ids = submit(
        runtime,
        spec,
        [
            CustomerRow(1, {"customer_id": "far", "days_left": 90, "first_name": "Far"}),
            CustomerRow(2, {"customer_id": "near", "days_left": 5, "first_name": "Near"}),
        ],
    )
    rows = []
    for render_id in ids:
        assert render_customer(runtime.db, runtime.storage, runtime.settings, render_id) == "done"
        with runtime.db.session() as session:
            rows.append(session.get(Render, render_id))
    far, near = rows
    assert abs(far.duration - KEPT_FRAMES / FPS) < 1e-6 and abs(near.duration - SECONDS) < 1e-6
    assert (far.hotspots[0]["start"], near.hotspots[0]["start"]) == (1.5, 2.5)
    assert len(frames_rgb(runtime.storage.local_path(far.video_key))) == KEPT_FRAMES


def test_sections_skipping_the_whole_video_fail_the_row(settings, tmp_path):
    spec = parse_scene({**SCENE, "sections": [{"name": "all", "start": 0, "end": 4, "when": "days_left < 0"}]})
    plan = compile_plan(
        spec, coerce_row(spec, {"customer_id": "c", "days_left": 5, "first_name": "A"}), assets_dir=settings.assets_dir
    )
    version = template_version(plan, LocalStorage(tmp_path / "store"), settings)
    with pytest.raises(DataError, match="'all' skip the whole video"):
        skipped_segments(plan, version)


def test_a_section_at_the_start_needs_no_leading_discontinuity(settings, tmp_path):
    spec = parse_scene({**SCENE, "sections": [{"name": "intro", "start": 0, "end": 1.5, "when": "days_left < 0"}]})
    plan = compile_plan(
        spec, coerce_row(spec, {"customer_id": "c", "days_left": 5, "first_name": "A"}), assets_dir=settings.assets_dir
    )
    storage = LocalStorage(tmp_path / "store")
    version = template_version(plan, storage, settings)
    paths = segment_files(version, storage, cache_dir(settings))
    out = render_plan(plan, version, paths, tmp_path / "o", ffmpeg_exe=settings.ffmpeg_exe)
    assert len(frames_rgb(out.video)) == FPS * SECONDS - 45
    assert "#EXT-X-DISCONTINUITY" not in hls.media_playlist(hls.entries(version, [], "p", out.skip))
    assert [h.start for h in plan.hotspots] == [1.0]


def test_on_demand_playlist_skips_the_section_from_the_first_view(runtime, tmp_path):
    import yaml
    from fastapi.testclient import TestClient

    from api.main import create_app
    from tests.conftest import API_KEY

    (runtime.settings.scenes_dir / "renewal_sections.yaml").write_text(yaml.safe_dump(SCENE))
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post(
            "/api/campaigns",
            headers={"X-API-Key": API_KEY},
            json={
                "scene": "renewal_sections",
                "render": "on_demand",
                "rows": [{"customer_id": "far", "days_left": 90, "first_name": "Far"}],
            },
        )
        assert response.status_code == 201, response.text
        (render,) = client.get(f"/api/campaigns/{response.json()['id']}/renders", headers={"X-API-Key": API_KEY}).json()
        token = render["landing_url"].rsplit("/", 1)[1]
        text = client.get(f"/v/{token}/index.m3u8").text
        assert text.count("#EXT-X-DISCONTINUITY") == 1
        frames = 0
        for uri in hls.playlist_keys(text):
            path = tmp_path / uri.rsplit("/", 1)[1]
            path.write_bytes(client.get(uri).content)
            frames += len(frames_rgb(path))
        assert frames == KEPT_FRAMES
        client.app.state.pvideo.ondemand.wait(render["id"], timeout=60)
    with runtime.db.session() as session:
        row = session.get(Render, render["id"])
        assert row.status == "done" and abs(row.duration - KEPT_FRAMES / FPS) < 1e-6
        assert row.hotspots[0]["start"] == 1.5
