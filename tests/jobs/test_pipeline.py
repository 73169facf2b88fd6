"""The render pipeline: permanent errors fail one row; finished work is reused, not redone."""

from __future__ import annotations

import yaml

from pvideo.db.models import Render
from pvideo.jobs.pipeline import render_customer
from pvideo.scene.customers import CustomerRow
from pvideo.scene.spec import load_scene
from tests.conftest import CARD_SCENE
from tests.jobs.runs import submit


def _submit(runtime, spec, rows):
    return submit(runtime, spec, rows)[1]


def _render(runtime, render_id):
    status = render_customer(runtime.db, runtime.storage, runtime.settings, render_id)
    with runtime.db.session() as session:
        return status, session.get(Render, render_id)


def test_bad_cta_link_fails_only_that_row(runtime, tmp_path):
    scene = dict(CARD_SCENE, fields={**CARD_SCENE["fields"], "link": {"type": "str"}})
    scene["layers"] = [dict(CARD_SCENE["layers"][2], href="{{ link }}")]
    path = tmp_path / "linked.yaml"
    path.write_text(yaml.safe_dump(scene))
    spec = load_scene(path)
    campaign_id, queued = submit(
        runtime,
        spec,
        [
            CustomerRow(1, {"customer_id": "g", "first_name": "G", "price": 1, "link": "https://ok.example/"}),
            CustomerRow(2, {"customer_id": "b", "first_name": "B", "price": 1, "link": " JavaScript:alert(1)"}),
        ],
    )
    [good] = queued  # the bad link is rejected when the campaign is submitted, not queued to fail later
    with runtime.db.session() as session:
        bad = session.query(Render).filter_by(campaign_id=campaign_id, row_number=2).one()
    assert bad.status == "failed" and bad.video_key is None and bad.attempts == 0
    assert "row 2" in bad.error and "href" in bad.error and "whitespace" in bad.error
    status, row = _render(runtime, good)
    assert status == "done" and row.hotspots[0]["href"] == "https://ok.example/"


def test_identical_work_is_rendered_once(runtime, card_spec):
    data = {"customer_id": "same", "first_name": "Twin", "price": 3}
    first = _submit(runtime, card_spec, [CustomerRow(1, data)])[0]
    _, row = _render(runtime, first)
    video = runtime.storage.local_path(row.video_key)
    stamp = video.stat().st_mtime_ns
    again = _submit(runtime, card_spec, [CustomerRow(1, data)])[0]  # a re-submitted campaign
    status, row2 = _render(runtime, again)
    assert status == "done" and row2.video_key == row.video_key
    assert video.stat().st_mtime_ns == stamp  # reused, not re-encoded
    assert (row2.width, row2.height, row2.duration) == (row.width, row.height, row.duration)
    other = _submit(runtime, card_spec, [CustomerRow(1, dict(data, first_name="Other"))])[0]
    assert _render(runtime, other)[1].video_key != row.video_key


def test_done_render_is_not_rendered_again(runtime, card_spec):
    render_id = _submit(runtime, card_spec, [CustomerRow(1, {"customer_id": "x", "first_name": "X", "price": 1})])[0]
    assert _render(runtime, render_id)[0] == "done"
    _, row = _render(runtime, render_id)  # a redelivered message
    assert row.attempts == 1
