"""Request and response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema

from pvideo.db.models import Outputs, RenderMode


def _inline(choices: type[StrEnum]) -> WithJsonSchema:
    """The choices written out in place (with the field's own title): the submit route embeds this
    model's schema in its OpenAPI operation as it is, where a ``$ref`` to ``$defs`` would dangle."""
    return WithJsonSchema({"enum": [c.value for c in choices], "type": "string"})


class CampaignCreate(BaseModel):
    scene: str = Field(description="Name of a scene script in scenes/ (without .yaml)")
    name: str | None = Field(default=None, max_length=200)
    rows: list[dict[str, Any]] = Field(
        min_length=1, max_length=10_000, description="customer rows; upload a CSV for more"
    )
    outputs: Annotated[Outputs, _inline(Outputs)] = Field(
        default=Outputs.BOTH,
        title="Outputs",
        description="mp4: one file per customer; hls: playlist of shared + personal segments",
    )
    render: Annotated[RenderMode, _inline(RenderMode)] = Field(
        default=RenderMode.EAGER,
        title="Render",
        description="eager: render every row now; on_demand: render a customer on their first view",
    )
    webhook_url: str | None = Field(
        default=None, max_length=2048, description="http(s) URL that receives signed render and campaign events"
    )
    metadata: dict[str, Any] | None = Field(default=None, description="passed through unchanged in webhooks")


class RowError(BaseModel):
    row: int
    error: str


class CampaignSubmitted(BaseModel):
    id: str
    queued: int
    rejected: list[RowError] = Field(description="the first 1000 bad rows (all are in the manifest)")
    rejected_count: int = 0
    replayed: bool = Field(default=False, description="true when the Idempotency-Key named an earlier submission")


class CampaignPublic(BaseModel):
    id: str
    name: str
    scene: str
    created_at: datetime
    status: str = "active"
    total: int
    counts: dict[str, int]
    finished: int = 0
    rate_per_minute: float = Field(default=0.0, description="rows finished per minute over the recent window")
    eta_seconds: float | None = Field(default=None, description="open rows / recent rate; null before any finished")
    completed_at: datetime | None = None
    metadata: dict[str, Any] | None = None


class RenderPublic(BaseModel):
    id: str
    row: int
    customer_id: str
    status: str
    error: str | None
    landing_url: str | None
    video_url: str | None
    poster_url: str | None
    thumbnail_url: str | None = None
    thumbnail_gif_url: str | None = None
    thumbnail_webp_url: str | None = None
    captions_url: str | None = None
    track_url: str | None = None


class EventError(BaseModel):
    index: int = Field(description="position of the event in the batch")
    reason: str


class EventsAccepted(BaseModel):
    stored: int
    duplicates: int
    failed: int = 0
    errors: list[EventError] = Field(default_factory=list)


class FailedEventPublic(BaseModel):
    id: int
    render_id: str | None
    event_id: str | None
    reason: str
    payload: Any
    received_at: datetime
