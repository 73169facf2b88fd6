"""The new-campaign wizard, step 6: the campaign's options, and the submission.

The form carries an idempotency key made when the page was rendered (bound to the
user, so no one can name another's submission): a double-clicked submit, or the form
sent again from the browser's history, replays the first campaign instead of making
a second. The rows are read from the stored file under the saved mapping and submitted
as the API submits (``campaigns.submit``, then the fan-out dispatched).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import StateDep
from api.routes.campaigns import checked_webhook, parsed_metadata
from api.routes.studio.signed_in import CsrfChecked, SubmitterUser
from api.routes.studio.wizard_steps import Upload, load_upload, wizard_page
from api.schemas import CampaignForm
from api.state import AppState
from pvideo.db.models import Outputs, RenderMode, StudioUpload, TrackingMode, User
from pvideo.errors import PermanentError
from pvideo.jobs import campaigns
from pvideo.jobs.campaigns import CampaignRequest
from pvideo.jobs.privacy_options import PrivacyOptions

router = APIRouter()
TRACKING_CHOICES = [
    (TrackingMode.FULL, "Record every view and click"),
    (TrackingMode.ANONYMOUS, "Anonymous: only counts, nothing per viewer"),
    (TrackingMode.CONSENT, "Ask each viewer first (a consent banner; counts only until they agree)"),
]
PRIVACY_DEFAULTS = {
    "tracking": TrackingMode.FULL.value,
    "events_days": "",
    "outputs_days": "",
    "row_data": "",
    "ends_at": "",
}
_KEY = re.compile(r"[A-Za-z0-9_-]{20,64}")


def _key_for(user: User, token: str) -> str:
    return f"studio:{user.id}:{token}"


def _options_page(
    request: Request,
    user: User,
    upload: Upload,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    context = {
        "upload": upload.row,
        "values": values,
        "errors": errors or {},
        "error": error or ("Fix the fields marked below." if errors else None),
        "render_modes": [
            (RenderMode.EAGER, "Render now"),
            (RenderMode.ON_DEMAND, "Render each video on its first view"),
        ],
        "outputs": [(Outputs.BOTH, "MP4 and HLS"), (Outputs.MP4, "MP4 only"), (Outputs.HLS, "HLS only")],
        "tracking_modes": TRACKING_CHOICES,
    }
    code = 422 if errors or error else 200
    return wizard_page(request, "studio/wizard_options.html", context, user=user, step=6, status_code=code)


@router.get("/uploads/{upload_id}/options")
def options_form(request: Request, state: StateDep, user: SubmitterUser, upload_id: str) -> Response:
    """Step 6: name, when to render, what to store, webhook, metadata; a fresh idempotency key."""
    upload = load_upload(request, state, user, upload_id)
    if upload.row.mapping is None:
        return RedirectResponse(f"/studio/uploads/{upload.id}/columns", status_code=303)
    if upload.row.campaign_id:
        return RedirectResponse(f"/studio/campaigns/{upload.row.campaign_id}", status_code=303)
    values = {
        "name": f"{upload.spec.name} · {upload.row.filename}"[:200],
        "render": RenderMode.EAGER.value,
        "outputs": Outputs.BOTH.value,
        "webhook_url": "",
        "metadata": "",
        **PRIVACY_DEFAULTS,
        "key": secrets.token_urlsafe(24),
    }
    return _options_page(request, user, upload, values)


def _choice(value: object, choices: type[RenderMode] | type[Outputs]) -> Any:
    return choices(value) if value in {c.value for c in choices} else None


async def _request(state: AppState, user: User, upload: Upload, values: dict[str, Any]) -> CampaignRequest:
    """The submission the form describes; ``ValueError`` mapping each bad field to its message."""
    errors: dict[str, str] = {}
    try:
        CampaignForm.model_validate(
            {"scene": upload.row.scene_name, **{k: values[k] or None for k in ("name", "webhook_url", "metadata")}}
        )
    except ValidationError as exc:
        for problem in exc.errors(include_url=False, include_input=False):
            errors[str(problem["loc"][0])] = problem["msg"]
    render_mode, outputs = _choice(values["render"], RenderMode), _choice(values["outputs"], Outputs)
    if render_mode is None:
        errors["render"] = "Choose when the videos render."
    if outputs is None:
        errors["outputs"] = "Choose what is stored."
    webhook = metadata = None
    try:
        webhook = await checked_webhook(state, values["webhook_url"]) if "webhook_url" not in errors else None
    except HTTPException as exc:
        errors["webhook_url"] = str(exc.detail).removeprefix("webhook_url: ")
    try:
        metadata = parsed_metadata(values["metadata"]) if "metadata" not in errors else None
    except HTTPException as exc:
        errors["metadata"] = str(exc.detail).removeprefix("metadata: ")
    except PermanentError as exc:
        errors["metadata"] = str(exc)
    privacy = _privacy(values, errors)
    if errors:
        raise ValueError(errors)
    return CampaignRequest(
        spec=upload.spec,
        rows=upload.rows(),
        source=upload.row.filename,
        name=values["name"] or None,
        webhook_url=webhook,
        metadata=metadata,
        render_mode=render_mode,
        outputs=outputs,
        idempotency_key=_key_for(user, values["key"]),
        submitted_by=user.email,
        submitter_role=user.role,
        scene_version_id=upload.row.scene_version_id,
        privacy=privacy or PrivacyOptions(),
    )


def _privacy(values: dict[str, Any], errors: dict[str, str]) -> PrivacyOptions | None:
    """The "Privacy" fieldset: a day count left empty takes the deployment's setting."""
    retention: dict[str, Any] = {k: values[k] for k in ("events_days", "outputs_days") if values[k]}
    if values["row_data"]:
        retention["row_data"] = "after_render"
    try:
        return PrivacyOptions.model_validate(
            {
                "tracking": values["tracking"] or TrackingMode.FULL,
                "retention": retention or None,
                "ends_at": values["ends_at"] or None,
            }
        )
    except ValidationError as exc:
        for problem in exc.errors(include_url=False, include_input=False):
            errors[str(problem["loc"][-1] if problem["loc"][0] == "retention" else problem["loc"][0])] = problem["msg"]
        return None


@router.post("/uploads/{upload_id}/options", dependencies=[CsrfChecked])
async def submit(request: Request, state: StateDep, user: SubmitterUser, upload_id: str) -> Response:
    """Submit the campaign (or replay it: the same key), then go to its page."""
    upload = await run_in_threadpool(load_upload, request, state, user, upload_id)
    form = await request.form()
    names = ("name", "render", "outputs", "webhook_url", "metadata", "key", *PRIVACY_DEFAULTS)
    values = {k: str(form.get(k, "")).strip() for k in names}
    if not _KEY.fullmatch(values["key"]):  # the page always sends one: a form from elsewhere
        values["key"] = secrets.token_urlsafe(24)
        return _options_page(
            request, user, upload, values, error="This form expired. Check the options and submit again."
        )
    if upload.row.mapping is None:
        return RedirectResponse(f"/studio/uploads/{upload.id}/columns", status_code=303)
    try:
        submitted = await _request(state, user, upload, values)
    except ValueError as exc:
        return _options_page(request, user, upload, values, errors=exc.args[0])
    runtime = state.runtime

    def store() -> campaigns.Submission:
        with runtime.db.session() as session:
            submission = campaigns.submit(session, submitted, settings=runtime.settings, tokens=state.tokens)
            row = session.get(StudioUpload, upload.id)
            if row is not None and row.campaign_id is None:
                row.campaign_id = submission.campaign.id
            return submission

    try:
        submission = await run_in_threadpool(store)  # thousands of rows: off the event loop
    except PermanentError as exc:  # a row limit, a missing asset, a file that stopped reading
        return _options_page(request, user, upload, values, error=f"Nothing was submitted: {exc}")
    await run_in_threadpool(state.queue.dispatch, submission.fan_out)  # unreachable: the reconciler sends it
    return RedirectResponse(f"/studio/campaigns/{submission.campaign.id}", status_code=303)
