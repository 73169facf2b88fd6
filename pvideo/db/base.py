"""What every table shares: the declarative base, and how ids and times are made."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, DateTime, Table
from sqlalchemy.orm import DeclarativeBase


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[Mapping[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
    }
    if TYPE_CHECKING:
        # every model here is mapped to a Table (DeclarativeBase says only FromClause)
        __table__: ClassVar[Table]
