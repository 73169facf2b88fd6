"""What an actor needs to do its work: settings, the database and the storage."""

from __future__ import annotations

from dataclasses import dataclass

from pvideo.db.engine import Database
from pvideo.settings import Settings
from pvideo.storage import Storage, storage_from_settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    storage: Storage

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        db = Database(settings.resolved_database_url)
        db.create_schema()
        return cls(settings=settings, db=db, storage=storage_from_settings(settings))
