"""Scene authoring: a still frame of a scene for one row, while the scene is being written.

Previews are bounded: the scene and row are size-limited, YAML aliases are
refused (no exponential documents), at most ``AppState.previews`` run at once
(else 429) and one that takes longer than ``PREVIEW_SECONDS`` answers 504.
"""

from __future__ import annotations

import io
import json
from typing import Any

import anyio
import yaml
from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import CampaignsKeyDep, StateDep
from pvideo.errors import SceneError
from pvideo.plan.compiler import compile_plan
from pvideo.render.preview import preview_frame
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.settings import Settings
from pvideo.storage import Storage

router = APIRouter(prefix="/api/scenes", tags=["scenes"])

PREVIEW_SECONDS = 30.0
MAX_SCENE_CHARS = 100_000
MAX_ROW_FIELDS = 200


class ScenePreview(BaseModel):
    scene: str | dict[str, Any] = Field(description="the scene script: YAML text or the same as a JSON object")
    row: dict[str, Any] = Field(
        default_factory=dict, max_length=MAX_ROW_FIELDS, description="one customer row: field -> value"
    )
    at: float = Field(ge=0, le=86_400, description="second of the frame to show")


def scene_data(scene: str | dict[str, Any]) -> dict[str, Any]:
    """The scene as data; YAML text without aliases (an alias bomb never expands) and within size."""
    if isinstance(scene, dict):
        if len(json.dumps(scene, default=str)) > MAX_SCENE_CHARS:
            raise SceneError(f"scene: more than {MAX_SCENE_CHARS} characters as JSON")
        return scene
    if len(scene) > MAX_SCENE_CHARS:
        raise SceneError(f"scene: more than {MAX_SCENE_CHARS} characters")
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(scene, Loader=yaml.SafeLoader)):
            raise SceneError("scene: YAML aliases (*name) are not allowed here")
        data = yaml.safe_load(scene)
    except yaml.YAMLError as exc:
        raise SceneError(f"scene: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SceneError("scene: a scene must be a mapping with name, video and layers")
    return data


def render_preview(body: ScenePreview, settings: Settings, storage: Storage) -> bytes:
    """Compiled like ``pvideo preview`` does (same assets, storage and fetch policy), then composited."""
    spec = parse_scene(scene_data(body.scene), source="scene")
    row = coerce_row(spec, body.row, source="row")
    plan = compile_plan(
        spec, row, assets_dir=settings.assets_dir, storage=storage, allow_private_fetch=settings.fetch_allow_private
    )
    frame = preview_frame(plan, body.at)
    out = io.BytesIO()
    frame.save(out, format="PNG")
    return out.getvalue()


@router.post(
    "/preview",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "the frame as a PNG"},
        422: {"description": "the scene, row or time is invalid; detail names the problem"},
        429: {"description": "too many previews running"},
        504: {"description": "the preview took too long"},
    },
)
async def preview(body: ScenePreview, state: StateDep, _: CampaignsKeyDep) -> Response:
    """The frame at ``at`` seconds of ``scene`` for ``row``, composited by moviepy (no video is encoded)."""
    slots = state.previews
    if not slots.acquire(blocking=False):
        raise HTTPException(429, "too many previews running; try again shortly", headers={"Retry-After": "2"})
    runtime = state.runtime

    def work() -> bytes:
        try:
            return render_preview(body, runtime.settings, runtime.storage)
        finally:
            slots.release()  # only when the work ends, even if the request gave up waiting

    try:
        with anyio.fail_after(PREVIEW_SECONDS):
            png = await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except TimeoutError:
        raise HTTPException(504, f"the preview took longer than {PREVIEW_SECONDS:g} s") from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
