"""What erasing a customer does in the database, in the caller's transaction.

Each render of the customer becomes a tombstone: the row stays with its status, row number,
geometry and timings (a campaign's counts and the watch rollups keyed on it hold), and loses
the person: customer id, row data, error text, hotspots, output keys, plan digest and link
(revoked, reason "erased"). A render still open is cancelled: nothing may render it any more.
Its raw events and answers are folded into tallies and deleted
(``pvideo.tracking.tallies.fold_and_delete``), and the campaign webhook deliveries about it
(their payload carries the answers, the customer id and the links) are deleted too.

The storage keys to delete are worked out here, from the rows, and kept in the erasure job:
``outputs/<digest>/`` (a whole folder: MP4, poster, thumbnails, GIF/WebP loops, captions,
tracks, HLS playlist and personal parts) unless another render that is not erased has the same
digest (outputs are content-addressed: same pixels, same folder), in which case only the
caption and track files no such render names. Shared template segments live elsewhere
(``templates/``): they are never personal and stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from pvideo.access.revocation import revoke_viewer_token
from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Render, RenderStatus, StudioUpload, WebhookDelivery
from pvideo.tracking.tallies import fold_and_delete

FOLDER = "/"
"""A key ending with this names a folder: everything under it goes."""


@dataclass
class Tombstoned:
    """What ``tombstone`` did: the keys left to delete and the counts for the audit."""

    keys: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    uploads: list[str] = field(default_factory=list)
    """Wizard uploads whose folders (``<data_dir>/uploads/<id>``) go once this commits."""


def tombstone(session: Session, renders: Sequence[Render], tokens: ViewerTokens, now: datetime) -> Tombstoned:
    """Erase ``renders`` (one customer's, locked by the caller) from the database."""
    ids = [r.id for r in renders]
    done = Tombstoned(keys=storage_keys(session, renders))
    for render in renders:
        revoke_viewer_token(session, tokens, render.id, reason="erased")
    events = responses = 0
    for campaign_id in sorted({r.campaign_id for r in renders}):
        folded = fold_and_delete(session, campaign_id=campaign_id, render_ids=sorted(_of(renders, campaign_id)))
        events, responses = events + folded["events"], responses + folded["responses"]
    deliveries = 0
    campaigns = sorted({r.campaign_id for r in renders})
    about = WebhookDelivery.payload["data"]["render_id"].as_string()
    for chunk in _chunks(ids, 500):
        deliveries += session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.campaign_id.in_(campaigns), about.in_(chunk))
        ).rowcount  # type: ignore[attr-defined]
    session.execute(
        update(Render)
        .where(Render.id.in_(ids), Render.status.in_(RenderStatus.OPEN))
        .values(status=RenderStatus.CANCELLED, finished_at=now, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    for render in renders:
        render.customer_id, render.data, render.error, render.hotspots = "", None, None, None
        render.video_key = render.poster_key = render.thumbnail_key = None
        render.outputs, render.plan_digest, render.erased_at = None, None, now
    done.uploads = list(session.scalars(select(StudioUpload.id).where(StudioUpload.campaign_id.in_(campaigns))))
    if done.uploads:
        session.execute(delete(StudioUpload).where(StudioUpload.id.in_(done.uploads)))
    done.counts = {
        "renders": len(ids),
        "events": events,
        "responses": responses,
        "deliveries": deliveries,
        "uploads": len(done.uploads),
    }
    return done


def storage_keys(session: Session, renders: Sequence[Render]) -> list[str]:
    """The keys (and ``FOLDER``-ended folders) holding these renders' outputs and no one else's."""
    ids = {r.id for r in renders}
    keys: set[str] = set()
    for render in renders:
        named = {k for k in (render.video_key, render.poster_key, render.thumbnail_key) if k}
        named |= {k for k in (render.outputs or {}).values() if isinstance(k, str) and k}
        folder = f"outputs/{render.plan_digest}" if render.plan_digest else None
        if folder is not None and not live_sharers(session, render.plan_digest, ids):
            keys.add(folder + FOLDER)
            named = {k for k in named if not k.startswith(folder + "/")}
        keys |= named - _named_by_others(session, named, ids)
    return sorted(keys)


def live_sharers(session: Session, digest: str | None, erased: set[str]) -> bool:
    """Whether a render outside ``erased``, not erased itself, has the outputs folder of ``digest``."""
    if not digest:
        return False
    query = select(Render.id).where(Render.plan_digest == digest, Render.erased_at.is_(None))
    return any(rid not in erased for rid in session.scalars(query.limit(len(erased) + 1)))


def _named_by_others(session: Session, keys: set[str], erased: set[str]) -> set[str]:
    """Those of ``keys`` a render outside ``erased`` still names (as its video, poster, thumbnail or output)."""
    if not keys:
        return set()
    digests = {k.split("/")[1] for k in keys if k.startswith("outputs/") and k.count("/") >= 2}
    columns = (Render.id, Render.video_key, Render.poster_key, Render.thumbnail_key, Render.outputs)
    others = select(*columns).where(
        Render.erased_at.is_(None),
        Render.plan_digest.in_(digests) | Render.video_key.in_(keys) | Render.poster_key.in_(keys),
    )
    taken: set[str] = set()
    for rid, video, poster, thumbnail, outputs in session.execute(others):
        if rid not in erased:
            taken |= {video, poster, thumbnail, *(outputs or {}).values()} & keys
    return taken


def _of(renders: Sequence[Render], campaign_id: str) -> set[str]:
    return {r.id for r in renders if r.campaign_id == campaign_id}


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[n : n + size] for n in range(0, len(values), size)]
