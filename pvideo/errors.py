"""One error tree for pvideo.

``PermanentError`` means retrying cannot help (bad scene, bad customer data,
missing asset); workers fail the render at once. ``TransientError`` means the
same work may succeed later (ffmpeg crashed, storage timed out); workers retry.
Only ``api/`` turns these into HTTP responses.
"""

from __future__ import annotations


class PvideoError(Exception):
    """Base of every error pvideo raises on purpose."""


class PermanentError(PvideoError):
    """Retrying will not help."""


class TransientError(PvideoError):
    """The same work may succeed if retried."""


class SceneError(PermanentError):
    """A scene script is invalid. The message names the file, layer and field."""


class DataError(PermanentError):
    """A customer row is invalid. Carries the row number and the field."""

    def __init__(
        self, message: str, *, row: int | None = None, field: str | None = None, source: str | None = None
    ) -> None:
        self.reason = message
        self.row = row
        self.field = field
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class AssetError(PermanentError):
    """An asset is missing, unreadable, or outside the assets folder."""


class RenderError(TransientError):
    """ffmpeg failed or produced unusable output."""


class StorageError(TransientError):
    """The storage backend failed (timeout, 5xx, connection refused)."""


class NotFound(PermanentError):
    """A campaign, render or object does not exist."""


class LinkGone(NotFound):
    """A viewer link that existed and no longer opens its video: revoked, its customer erased, or
    its outputs expired (``pvideo.access.revocation.link_gone``). The API answers 410, never
    saying which, and with nothing personal."""


class DatabaseUnavailable(TransientError):
    """The database dropped the connection or could not be reached."""


class WebhookError(TransientError):
    """A webhook receiver did not answer 2xx in time; delivery is retried."""


class RenderBusy(TransientError):
    """Another live worker holds this render's lease; try again once it may have expired."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)
