"""The column mapping last used with each scene in the studio, offered again for the next file."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from pvideo.db.bulk import insert_rows, on_conflict
from pvideo.db.models import ColumnMapping, utcnow


def remembered_mapping(session: Session, scene_name: str) -> dict[str, str] | None:
    """Field -> column as last saved for ``scene_name``; ``None`` when none was."""
    saved = session.get(ColumnMapping, scene_name)
    if saved is None or not isinstance(saved.mapping, dict):
        return None
    return {str(field): str(column) for field, column in saved.mapping.items() if isinstance(column, str)}


def remember_mapping(session: Session, scene_name: str, mapping: Mapping[str, str | None]) -> None:
    """Save the mapped fields of ``mapping`` for ``scene_name``, replacing what was saved (one statement,
    so two people saving at once cannot collide)."""
    kept = {field: column for field, column in mapping.items() if column is not None}
    row = {"scene_name": scene_name, "mapping": kept, "updated_at": utcnow()}
    insert_rows(
        session.connection(),
        ColumnMapping.__table__,
        [row],
        conflict=on_conflict(["scene_name"], ["mapping", "updated_at"]),
    )
    loaded = session.identity_map.get(session.identity_key(ColumnMapping, scene_name))
    if loaded is not None:  # an instance this session loaded before holds the old mapping
        session.expire(loaded)
