"""One customer's video rendered before the campaign exists: the wizard's "render a sample".

The production path, as ``pvideo scene render`` takes it: the row is typed like a
campaign's (``coerce_row``), compiled, and rendered by the configured engine on the
scene's template version (made once, then shared with the campaign's renders). The
caller bounds how many run at once; the MP4 is written to ``out`` atomically.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pvideo.db.engine import Database
from pvideo.errors import RenderError
from pvideo.plan.compiler import compile_plan
from pvideo.plan.uploads import asset_root
from pvideo.render.probe import VideoInfo, probe
from pvideo.render.versions import render_on_template, template_version
from pvideo.scene.customers import coerce_row, customer_id
from pvideo.scene.spec import SceneSpec
from pvideo.settings import Settings
from pvideo.storage import Storage


def render_sample(
    spec: SceneSpec,
    raw: Mapping[str, Any],
    *,
    number: int,
    out: Path,
    settings: Settings,
    storage: Storage,
    db: Database | None = None,
    source: str = "customers",
) -> VideoInfo:
    """Render row ``number`` (its mapped values ``raw``) to ``out``; ``DataError`` for a bad row."""
    data = coerce_row(spec, raw, row=number, source=source)
    plan = compile_plan(
        spec,
        data,
        assets_dir=asset_root(settings, storage),
        customer_id=customer_id(spec, data, number),
        row_number=number,
        storage=storage,
        allow_private_fetch=settings.fetch_allow_private,
    )
    version = template_version(plan, storage, settings, db=db)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pvideo-sample-", dir=out.parent) as tmp:
        outputs = render_on_template(plan, version, storage, settings, Path(tmp))
        if outputs.video is None:
            raise RenderError("the engine made no MP4")
        part = Path(tmp) / "sample.mp4"
        shutil.copyfile(outputs.video, part)
        os.replace(part, out)
    return probe(out, count_frames=False)
