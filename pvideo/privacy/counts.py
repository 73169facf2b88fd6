"""How many of a campaign's renders lost their person (erased) or their outputs (expired).

Shown beside the campaign's status counts, which still hold these rows: an erased render keeps
its status, an expired one its status and its link (answering 410). One count over the
campaign's rows, as the status counts are.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvideo.db.models import Render


class GoneCounts(NamedTuple):
    erased: int
    expired: int


def gone_counts(session: Session, campaign_id: str) -> GoneCounts:
    erased, expired = session.execute(
        select(func.count(Render.erased_at), func.count(Render.outputs_expired_at)).where(
            Render.campaign_id == campaign_id
        )
    ).one()
    return GoneCounts(erased or 0, expired or 0)
