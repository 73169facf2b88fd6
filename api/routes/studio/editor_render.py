"""The scene editor's frames and sample videos: the production code on the text being edited.

``preview`` is the frame at the playhead for the sample row, made in the scene preview's
sandbox (``pvideo.render.sandboxed``: a child process with memory and CPU limits, killed past
``preview_timeout_seconds``), in one of the app's preview slots. The editor asks after every
change, so each user has at most one frame in the making: a newer request kills the older
one's child, and the older request is answered 409.

``sample`` renders the whole video for the sample row with the engine campaigns use
(``pvideo.jobs.samplevideo``), in the background: one at a time per user
(``AppState.sample_renders``), holding a preview slot, so neither can starve campaign renders.
Its status and MP4 are served to the user who asked, only.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from api.deps import StateDep
from api.routes.scenes import finish_preview, preview_sandbox
from api.routes.studio.editor_api import BodyError, answer, known_name, problems_answer, read_body, refusal
from api.routes.studio.signed_in import CsrfChecked, SubmitterUser
from api.state import AppState
from pvideo.db.models import User
from pvideo.errors import PvideoError
from pvideo.jobs.samplevideo import render_sample
from pvideo.render.sandboxed import PreviewJob, RunningPreview
from pvideo.scene.problems import Problem, spec_problems
from pvideo.scene.spec import SceneSpec

router = APIRouter(prefix="/scenes/{name}/editor")
SLOT_WAIT_SECONDS = 10.0
MAX_ROW_FIELDS = 200
_TOKEN = re.compile(r"[0-9a-f]{32}")


class _Running:
    """Each user's frame in the making (so a newer request can stop it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_user: dict[str, RunningPreview] = {}

    def replace(self, user_id: str, running: RunningPreview) -> None:
        with self.lock:
            older = self.by_user.get(user_id)
            self.by_user[user_id] = running
        if older is not None:
            older.kill()

    def forget(self, user_id: str, running: RunningPreview) -> None:
        with self.lock:
            if self.by_user.get(user_id) is running:
                del self.by_user[user_id]


def _running(request: Request) -> _Running:
    found = getattr(request.app.state, "editor_previews", None)
    if found is None:
        found = request.app.state.editor_previews = _Running()
    return found


def _row(body: dict[str, Any]) -> dict[str, Any]:
    row = body.get("row", {})
    if not isinstance(row, dict) or len(row) > MAX_ROW_FIELDS:
        raise BodyError(422, f'field "row": an object of at most {MAX_ROW_FIELDS} fields')
    return row


def _spec(text: str) -> SceneSpec | list[Problem]:
    spec, problems, _, _ = spec_problems(text)
    return spec if spec is not None else problems


@router.post("/preview", dependencies=[CsrfChecked])
async def preview(request: Request, state: StateDep, user: SubmitterUser, name: str) -> Response:
    """The frame at ``at`` seconds of the text for the row, as a PNG; 422 with problems for a bad scene."""
    try:
        known_name(name)
        body = await read_body(request)
        row = _row(body)
        at = body.get("at", 0)
        if isinstance(at, bool) or not isinstance(at, (int, float)) or not 0 <= at <= 86_400:
            raise BodyError(422, 'field "at": seconds from 0 to 86400')
    except BodyError as exc:
        return refusal(exc)
    spec = await anyio.to_thread.run_sync(_spec, body["yaml"])
    if isinstance(spec, list):
        return problems_answer(spec)
    settings = state.runtime.settings
    running_previews = _running(request)
    with running_previews.lock:
        older = running_previews.by_user.pop(user.id, None)
    if older is not None:
        older.kill()  # its request answers 409; its slot comes free
    if not await anyio.to_thread.run_sync(lambda: state.previews.acquire(timeout=SLOT_WAIT_SECONDS)):
        return answer({"problems": [Problem("too many previews are running; try again shortly").to_json()]}, 429)
    running: RunningPreview | None = None
    try:
        job = PreviewJob.for_settings(settings, body["yaml"], row, float(at))
        running = preview_sandbox(request.app).start(job)
        running_previews.replace(user.id, running)
        try:
            png = await finish_preview(running, request, settings.preview_timeout_seconds)
        finally:
            running_previews.forget(user.id, running)
    except TimeoutError:
        message = f"the frame took longer than {settings.preview_timeout_seconds:g} s"
        return answer({"problems": [Problem(message).to_json()]}, 504)
    except PvideoError as exc:
        if running is not None and running.killed:
            return answer({"problems": [Problem("a newer preview replaced this one").to_json()]}, 409)
        return problems_answer([Problem(str(exc))])
    finally:
        state.previews.release()
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def _samples(state: AppState, user: User) -> Path:
    return state.runtime.settings.data_dir / "studio-editor-samples" / user.id


def _write_status(path: Path, status: dict[str, Any]) -> None:
    part = path.with_suffix(".part")
    part.write_text(json.dumps(status), encoding="utf-8")
    part.replace(path)


@router.post("/sample", dependencies=[CsrfChecked])
async def sample(request: Request, state: StateDep, user: SubmitterUser, name: str) -> Response:
    """Start rendering the whole video of the text for the row; answers where to follow it (202)."""
    try:
        known_name(name)
        body = await read_body(request)
        row = _row(body)
    except BodyError as exc:
        return refusal(exc)
    spec = await anyio.to_thread.run_sync(_spec, body["yaml"])
    if isinstance(spec, list):
        return problems_answer(spec)
    slot = state.sample_renders.one_for(user.id)
    if not slot.__enter__():
        slot.__exit__(None, None, None)
        message = "a sample of yours is rendering already; wait for it"
        return answer({"problems": [Problem(message).to_json()]}, 429)
    token = secrets.token_hex(16)
    folder = _samples(state, user)
    folder.mkdir(parents=True, exist_ok=True)
    status_path = folder / f"{token}.json"
    _write_status(status_path, {"status": "rendering", "started": time.time()})
    runtime = state.runtime

    def render() -> None:
        started = time.time()
        try:
            if not state.previews.acquire(timeout=SLOT_WAIT_SECONDS * 6):
                raise PvideoError("too many previews are running; try again shortly")
            try:
                render_sample(
                    spec, row, number=1, out=folder / f"{token}.mp4", settings=runtime.settings,
                    storage=runtime.storage, db=runtime.db, source="sample row",
                )  # fmt: skip
            finally:
                state.previews.release()
            _write_status(status_path, {"status": "ready", "seconds": round(time.time() - started, 3)})
        except PvideoError as exc:
            _write_status(status_path, {"status": "failed", "error": str(exc)})
        except Exception:
            _write_status(status_path, {"status": "failed", "error": "the sample could not be rendered"})
            raise
        finally:
            slot.__exit__(None, None, None)

    threading.Thread(target=render, name=f"editor-sample-{token[:8]}", daemon=True).start()
    base = f"/studio/scenes/{name}/editor/sample/{token}"
    return answer({"status_url": base, "video_url": f"{base}.mp4"}, 202)


@router.get("/sample/{token}.mp4")  # before /sample/{token}, which would take "x.mp4" too
def sample_video(state: StateDep, user: SubmitterUser, name: str, token: str) -> Response:
    path = _samples(state, user) / f"{token}.mp4"
    if not _TOKEN.fullmatch(token) or not path.is_file():
        return Response("no such sample of yours (yet)", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, no-cache"})


@router.get("/sample/{token}")
def sample_status(state: StateDep, user: SubmitterUser, name: str, token: str) -> Response:
    """``rendering`` (with seconds so far), ``ready`` (with ``video_url``) or ``failed`` (with ``error``)."""
    path = _samples(state, user) / f"{token}.json"
    if not _TOKEN.fullmatch(token) or not path.is_file():
        return answer({"problems": [Problem("no such sample of yours").to_json()]}, 404)
    status = json.loads(path.read_text(encoding="utf-8"))
    if status["status"] == "rendering":
        status["elapsed"] = round(time.time() - status.pop("started"), 1)
    elif status["status"] == "ready":
        status["video_url"] = f"/studio/scenes/{name}/editor/sample/{token}.mp4"
    return answer(status)
