"""The old dashboard's addresses: its pages live in the studio now, under the studio's sign-in.

``/dashboard`` and ``/dashboard/sign-in`` go to the campaigns list, a campaign's page to its
studio page (which asks a signed-out visitor to sign in first).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)


def _to(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("")
@router.get("/sign-in")
def home() -> RedirectResponse:
    return _to("/studio/campaigns")


@router.get("/campaigns/{campaign_id}")
def campaign_page(campaign_id: str) -> RedirectResponse:
    return _to(f"/studio/campaigns/{quote(campaign_id, safe='')}")
