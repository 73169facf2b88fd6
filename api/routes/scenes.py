"""Scene authoring: a still frame of a scene for one row, while the scene is being written.

Previews are bounded. Here, before anything is parsed: the scene and row are
size-limited and YAML text is checked for depth, aliases and over-long numbers
(``pvideo.scene.limits``). The work itself runs in a child process
(``pvideo.render.sandboxed``, forked by a warm fork server) with a pixel budget, a memory ceiling and a
CPU-time limit; at most ``AppState.previews`` run at once (else 429), and a
child is killed when it takes longer than ``preview_timeout_seconds`` (504) or
its client goes away. The server's own memory never holds a preview's pixels.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import yaml
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import CampaignsKeyDep, StateDep
from pvideo.errors import PvideoError, SceneError
from pvideo.render.sandboxed import PreviewJob, PreviewSandbox, RunningPreview
from pvideo.scene.limits import check_yaml

router = APIRouter(prefix="/api/scenes", tags=["scenes"])

MAX_SCENE_CHARS = 100_000
MAX_ROW_FIELDS = 200


class ScenePreview(BaseModel):
    scene: str | dict[str, Any] = Field(description="the scene script: YAML text or the same as a JSON object")
    row: dict[str, Any] = Field(
        default_factory=dict, max_length=MAX_ROW_FIELDS, description="one customer row: field -> value"
    )
    at: float = Field(ge=0, le=86_400, description="second of the frame to show")


def check_scene(scene: str | dict[str, Any]) -> None:
    """Cheap checks in the server before the child parses anything: size, then YAML depth,
    aliases (an alias bomb never expands) and number length."""
    if isinstance(scene, dict):
        if len(json.dumps(scene, default=str)) > MAX_SCENE_CHARS:
            raise SceneError(f"scene: more than {MAX_SCENE_CHARS} characters as JSON")
        return
    if len(scene) > MAX_SCENE_CHARS:
        raise SceneError(f"scene: more than {MAX_SCENE_CHARS} characters")
    try:
        check_yaml(scene, "scene", allow_aliases=False)
    except yaml.YAMLError as exc:
        raise SceneError(f"scene: not valid YAML: {exc}") from None


def preview_sandbox(app: FastAPI) -> PreviewSandbox:
    """The app's preview sandbox (its warm fork server), made at the first preview."""
    sandbox = getattr(app.state, "preview_sandbox", None)
    if sandbox is None:
        sandbox = app.state.preview_sandbox = PreviewSandbox()
    return sandbox


async def _kill_when_gone(running: RunningPreview, request: Request) -> None:
    """Kill the child once the client has disconnected (its body is read: nothing else comes)."""
    while (await request.receive())["type"] != "http.disconnect":
        await anyio.sleep(0.1)
    running.kill()


def _outcome(running: RunningPreview) -> bytes | PvideoError:
    try:
        return running.result()
    except PvideoError as exc:
        return exc


async def finish_preview(running: RunningPreview, request: Request, seconds: float) -> bytes:
    """The child's PNG (or its error raised here); ``TimeoutError`` once ``seconds`` pass. The child
    is killed then, or as soon as the client leaves."""
    outcome: list[bytes | PvideoError] = []
    async with anyio.create_task_group() as watchers:
        watchers.start_soon(_kill_when_gone, running, request)
        with anyio.move_on_after(seconds):
            outcome.append(await anyio.to_thread.run_sync(_outcome, running, abandon_on_cancel=True))
        running.kill()  # a no-op once it exited; else its process group dies here
        watchers.cancel_scope.cancel()
    if not outcome:
        raise TimeoutError
    if isinstance(outcome[0], PvideoError):
        raise outcome[0]
    return outcome[0]


@router.post(
    "/preview",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "the frame as a PNG"},
        422: {"description": "the scene, row or time is invalid, or over a limit; detail names the problem"},
        429: {"description": "too many previews running"},
        504: {"description": "the preview took too long"},
    },
)
async def preview(body: ScenePreview, request: Request, state: StateDep, _: CampaignsKeyDep) -> Response:
    """The frame at ``at`` seconds of ``scene`` for ``row``, drawn by the engine's own filters (no video is encoded)."""
    check_scene(body.scene)
    settings = state.runtime.settings
    slots = state.previews
    if not slots.acquire(blocking=False):
        raise HTTPException(429, "too many previews running; try again shortly", headers={"Retry-After": "2"})
    try:
        running = preview_sandbox(request.app).start(PreviewJob.for_settings(settings, body.scene, body.row, body.at))
        try:
            png = await finish_preview(running, request, settings.preview_timeout_seconds)
        except PvideoError:
            if running.killed:  # the client went away; nobody reads this answer
                return Response(status_code=499)
            raise
    except TimeoutError:
        raise HTTPException(504, f"the preview took longer than {settings.preview_timeout_seconds:g} s") from None
    finally:
        slots.release()  # the child is done or dead by now
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
