"""A campaign's privacy options, as submitted (API, CLI, studio) and as they apply.

``tracking`` says what its landing pages record (``pvideo.db.models.TrackingMode``). ``retention``
holds the campaign's own retention, each key over the deployment's setting of the same name
(``PVIDEO_RETENTION_*``): a key left out takes the deployment's; ``null`` keeps forever.
``ends_at`` is when the campaign ends; outputs' retention counts from it (else from when the
campaign completed). Retention itself runs in ``pvideo.privacy.retention``; here is what both
the submission path and the render pipeline read, so jobs do not reach up into privacy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pvideo.db.models import TrackingMode
from pvideo.settings import Settings

RowData = Literal["keep", "after_render"]
ROW_DATA_NOT_KEPT = "row data was not kept (storage-less mode): submit the row again"
MAX_DAYS = 36_500


class RetentionOptions(BaseModel):
    """A campaign's ``retention`` object; only the keys given are stored (``stored``)."""

    model_config = ConfigDict(extra="forbid")

    events_days: int | None = Field(
        default=None, ge=0, le=MAX_DAYS, description="raw events and answers kept this many days (counts stay)"
    )
    outputs_days: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DAYS,
        description="rendered outputs kept this many days after the campaign's end (its links then answer 410)",
    )
    row_data: RowData | None = Field(
        default=None, description="'after_render': a row's customer data is cleared once its video is done"
    )

    def stored(self) -> dict[str, Any] | None:
        """The JSON kept on the campaign: the keys given (None when none was)."""
        return self.model_dump(exclude_unset=True) or None


class PrivacyOptions(BaseModel):
    """What a submission may say about privacy; validated once at the edge."""

    model_config = ConfigDict(extra="forbid")

    tracking: TrackingMode = Field(
        default=TrackingMode.FULL, description="full | anonymous | consent: what landing pages record"
    )
    retention: RetentionOptions | None = None
    ends_at: datetime | None = Field(default=None, description="when the campaign ends (ISO 8601; UTC if no offset)")

    @field_validator("ends_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RetentionPolicy(NamedTuple):
    """The retention that applies to one campaign: its own keys, else the deployment's."""

    events_days: int | None
    outputs_days: int | None
    row_data: str


def policy(retention: dict[str, Any] | None, settings: Settings) -> RetentionPolicy:
    """The campaign's ``retention`` JSON over the deployment's settings (a key present wins, even null)."""
    own = retention or {}
    return RetentionPolicy(
        events_days=own.get("events_days", settings.retention_events_days),
        outputs_days=own.get("outputs_days", settings.retention_outputs_days),
        row_data=own.get("row_data") or settings.retention_row_data,
    )


def storage_less(retention: dict[str, Any] | None, settings: Settings) -> bool:
    """Whether a row's customer data is cleared as soon as its render is done."""
    return policy(retention, settings).row_data == "after_render"
