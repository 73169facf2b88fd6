"""The new-campaign wizard, step 4: every row checked as a submission would, before anything is queued.

The report (``pvideo.jobs.checkreport``) is computed once per upload, sheet, mapping and
scene in a worker thread, and stored beside the upload: paging through 10,000 problems
or downloading them as CSV reads that file, never the rows again.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from api.deps import StateDep
from api.routes.studio.signed_in import SubmitterUser
from api.routes.studio.wizard_steps import Upload, load_upload, wizard_page
from api.state import AppState
from pvideo.errors import PermanentError
from pvideo.jobs.checkreport import CheckReport, check_rows, problems_csv
from pvideo.jobs.uploads import cached_report, report_key, upload_dir
from pvideo.plan.uploads import asset_root

router = APIRouter()
PER_PAGE = 50


def upload_report(state: AppState, upload: Upload) -> CheckReport:
    """The upload's check report under its saved mapping (``PermanentError`` for a file or scene
    that cannot be checked at all: an unreadable cell, too many rows, a missing asset)."""
    settings = state.runtime.settings
    key = report_key(upload.spec.to_json(), upload.row.sheet, upload.mapping, upload.row.size)
    return cached_report(
        upload_dir(settings, upload.row),
        key,
        lambda: check_rows(
            upload.spec,
            upload.rows(),
            assets_dir=asset_root(settings, state.runtime.storage),
            source=upload.row.filename,
            max_rows=settings.max_rows,
        ),
    )


def _mapped(request: Request, state: AppState, user: SubmitterUser, upload_id: str) -> Upload | Response:
    upload = load_upload(request, state, user, upload_id)
    if upload.row.mapping is None:  # the columns step comes first
        return RedirectResponse(f"/studio/uploads/{upload.id}/columns", status_code=303)
    return upload


@router.get("/uploads/{upload_id}/check")
async def check(
    request: Request, state: StateDep, user: SubmitterUser, upload_id: str, page: int = Query(1, ge=1, le=10**6)
) -> Response:
    """Step 4: good and bad counts, the problems 50 to a page, and the first rows as they will be read."""
    upload = await run_in_threadpool(_mapped, request, state, user, upload_id)
    if isinstance(upload, Response):
        return upload
    context: dict[str, object] = {"upload": upload.row}
    try:
        report = await run_in_threadpool(upload_report, state, upload)
    except PermanentError as exc:
        context["error"] = f"This file cannot be used: {exc}"
        return wizard_page(request, "studio/wizard_check.html", context, user=user, step=4, status_code=422)
    pages = max(1, math.ceil(len(report.problems) / PER_PAGE))
    page = min(page, pages)
    context.update(
        report=report,
        problems=report.problems[(page - 1) * PER_PAGE : page * PER_PAGE],
        page=page,
        pages=pages,
        first=(page - 1) * PER_PAGE + 1,
    )
    return wizard_page(request, "studio/wizard_check.html", context, user=user, step=4)


@router.get("/uploads/{upload_id}/problems.csv")
async def problems_download(request: Request, state: StateDep, user: SubmitterUser, upload_id: str) -> Response:
    """Every problem found (``row,field,message``), for a spreadsheet."""
    upload = await run_in_threadpool(_mapped, request, state, user, upload_id)
    if isinstance(upload, Response):
        return upload
    report = await run_in_threadpool(upload_report, state, upload)
    filename = f"problems-{upload.id}.csv"
    return Response(
        problems_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
