"""Request and response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class CampaignCreate(BaseModel):
    scene: str = Field(description="Name of a scene script in scenes/ (without .yaml)")
    name: str | None = Field(default=None, max_length=200)
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


class RowError(BaseModel):
    row: int
    error: str


class CampaignSubmitted(BaseModel):
    id: str
    queued: int
    rejected: list[RowError]


class CampaignPublic(BaseModel):
    id: str
    name: str
    scene: str
    created_at: datetime
    total: int
    counts: dict[str, int]


class RenderPublic(BaseModel):
    id: str
    row: int
    customer_id: str
    status: str
    error: str | None
    landing_url: str | None
    video_url: str | None
    poster_url: str | None


class EventsAccepted(BaseModel):
    stored: int
    duplicates: int
