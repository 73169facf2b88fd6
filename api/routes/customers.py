"""Erasing a customer (right to be forgotten): ``DELETE /api/customers/{customer_id}``.

For an API key with the ``admin`` or ``privacy`` scope, or a studio admin (``privacy_requester``,
as for the export; a session cookie must come with its ``X-CSRF-Token``). The database part is
done when the answer comes (links revoked, row data, events, answers and webhook deliveries
gone); the stored outputs are deleted by the job the answer names, on a worker. Asking again
gives the same job; an id no render has (and none ever had) is a 404 and changes nothing.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from api.deps import StateDep
from api.routes.customer_export import CustomerId, RequesterDep
from api.routes.studio.signed_in import SESSION_COOKIE, csrf_token, current_user
from pvideo.db.models import ErasureJob
from pvideo.db.privacy_tables import ErasureState
from pvideo.privacy.erasure import request_erasure

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/customers", tags=["privacy"])


class ErasureAccepted(BaseModel):
    job_id: str
    state: str = Field(description="`pending` while stored outputs are being deleted, then `done`")
    renders: int = Field(description="the customer's renders erased (their links answer 410 from now on)")
    keys_left: int = Field(description="stored outputs (objects or folders) still to delete")
    removed: dict[str, int] = Field(description="what went: renders, events, responses, deliveries, uploads, objects")
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: ErasureJob) -> ErasureAccepted:
        return cls(
            job_id=job.id,
            state=job.state,
            renders=len(job.render_ids),
            keys_left=len(job.keys),
            removed={k: int(v) for k, v in (job.removed or {}).items()},
            created_at=job.created_at,
            finished_at=job.finished_at,
        )


@router.delete(
    "/{customer_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ErasureAccepted,
    responses={404: {"description": "no render has this customer id (in that campaign), and none ever had"}},
)
def erase_customer(
    customer_id: CustomerId,
    request: Request,
    state: StateDep,
    requester: RequesterDep,
    campaign_id: str | None = Query(None, max_length=32, description="erase them from this campaign only"),
) -> ErasureAccepted:
    """Erase every render of the customer (of ``campaign_id`` only, if given), everywhere."""
    if request.headers.get("x-api-key") is None:
        _check_csrf(request, state)
    job = request_erasure(
        state.runtime, customer_id, campaign_id=campaign_id, actor=requester.actor, role=requester.role
    )
    if job.state == ErasureState.PENDING and job.attempts == 0:
        try:
            state.queue.actors.send_erasure(job.id)
        except Exception as exc:  # the queue is down: the reconciler sends pending jobs
            log.warning("erasure %s not sent now (the reconciler will): %s", job.id, exc)
    return ErasureAccepted.of(job)


def _check_csrf(request: Request, state: StateDep) -> None:
    """A studio session (no API key) must send its CSRF token: a cookie alone erases nothing."""
    user = current_user(request, state, request.cookies.get(SESSION_COOKIE))
    sent = request.headers.get("x-csrf-token", "")
    if user is None or not hmac.compare_digest(sent, csrf_token(state, user)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong X-CSRF-Token")
