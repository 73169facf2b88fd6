"""Request and response bodies of the API.

Text a client sends is checked here to fit where it is stored: lengths match their
columns, and nothing holds a NUL character or a lone surrogate (PostgreSQL refuses
both), so a bad value is a 422 naming the field instead of a 500 from the database.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, Json, ValidationInfo, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from pvideo.db.models import Outputs, RenderMode, TrackingMode
from pvideo.jobs.privacy_options import MAX_DAYS, PrivacyOptions, RetentionOptions
from pvideo.scene.limits import find_text_problem, text_problem

SCENE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,100}$"  # a file name in scenes/, without .yaml
MAX_METADATA_CHARS = 65_536  # as JSON; it travels in every webhook of the campaign


def _storable(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise PydanticCustomError("unstorable_text", problem)
    return value


def _inline(choices: type[StrEnum]) -> WithJsonSchema:
    """The choices written out in place (with the field's own title): the submit route embeds this
    model's schema in its OpenAPI operation as it is, where a ``$ref`` to ``$defs`` would dangle."""
    return WithJsonSchema({"enum": [c.value for c in choices], "type": "string"})


SceneName = Annotated[  # a name outside SCENE_NAME_PATTERN names no scene: 404, checked by the route
    str,
    Field(min_length=1, max_length=101, description="Name of a scene script in scenes/ (without .yaml)"),
    AfterValidator(_storable),
]
CampaignName = Annotated[str, Field(max_length=200), AfterValidator(_storable)]
WebhookUrl = Annotated[
    str,
    Field(max_length=2048, description="http(s) URL that receives signed render and campaign events"),
    AfterValidator(_storable),
]


class CampaignForm(BaseModel):
    """The text fields of a multipart submission, held to the rules of their JSON twins."""

    scene: SceneName
    name: CampaignName | None = None
    webhook_url: WebhookUrl | None = None
    metadata: str | None = Field(default=None, max_length=MAX_METADATA_CHARS, description="a JSON object")


RETENTION_SCHEMA = {  # written out in place, as ``_inline`` does (no ``$defs``)
    "anyOf": [
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "events_days": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_DAYS}, {"type": "null"}]},
                "outputs_days": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_DAYS}, {"type": "null"}]},
                "row_data": {"anyOf": [{"enum": ["keep", "after_render"], "type": "string"}, {"type": "null"}]},
            },
        },
        {"type": "null"},
    ],
    "title": "Retention",
    "description": "this campaign's retention over the deployment's (a key left out takes the deployment's; "
    "null keeps forever): raw events and answers after events_days, outputs outputs_days after ends_at, "
    "row_data 'after_render' clears customer data once rendered",
}


class PrivacyForm(BaseModel):
    """The privacy fields of a multipart submission (``retention`` as a JSON object)."""

    tracking: TrackingMode = TrackingMode.FULL
    retention: Json[RetentionOptions] | None = None
    ends_at: datetime | None = None

    def privacy(self) -> PrivacyOptions:
        return PrivacyOptions(tracking=self.tracking, retention=self.retention, ends_at=self.ends_at)


class CampaignCreate(BaseModel):
    scene: SceneName = Field(examples=["welcome"])
    name: CampaignName | None = Field(default=None, examples=["Spring welcome"])
    rows: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=10_000,
        description="customer rows; upload a CSV for more",
        examples=[[{"customer_id": "C-1001", "first_name": "Maya"}]],
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
    webhook_url: WebhookUrl | None = None
    metadata: dict[str, Any] | None = Field(
        default=None, description=f"passed through unchanged in webhooks; at most {MAX_METADATA_CHARS} characters"
    )
    tracking: Annotated[TrackingMode, _inline(TrackingMode)] = Field(
        default=TrackingMode.FULL,
        title="Tracking",
        description="full: every event; anonymous: aggregate counts only; consent: once the viewer agrees",
    )
    retention: Annotated[RetentionOptions | None, WithJsonSchema(RETENTION_SCHEMA)] = None
    ends_at: datetime | None = Field(
        default=None, description="when the campaign ends: outputs' retention counts from it"
    )

    def privacy(self) -> PrivacyOptions:
        return PrivacyOptions(tracking=self.tracking, retention=self.retention, ends_at=self.ends_at)

    @field_validator("rows", "metadata")
    @classmethod
    def _storable_values(cls, value: Any, info: ValidationInfo) -> Any:
        """Every string in the rows and the metadata, at any depth, storable; every number finite."""
        problem = find_text_problem(value)
        if problem:
            path, reason = problem
            where = f"{info.field_name}{'' if not path or path.startswith('[') else '.'}{path}"
            raise PydanticCustomError("unstorable_text", "{where}: {reason}", {"where": where, "reason": reason})
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value)) > MAX_METADATA_CHARS:
            raise PydanticCustomError("too_long", f"more than {MAX_METADATA_CHARS} characters as JSON")
        return value


class RowError(BaseModel):
    row: int
    error: str


class CampaignSubmitted(BaseModel):
    id: str
    queued: int
    rejected: list[RowError] = Field(description="the first 1000 bad rows (all are in the manifest)")
    rejected_count: int = 0
    replayed: bool = Field(default=False, description="true when the Idempotency-Key named an earlier submission")
    warnings: list[str] = Field(
        default_factory=list, description="columns the scene does not use (a misspelt field?); the rows are kept"
    )


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
