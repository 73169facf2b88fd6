"""Tables of the studio and access: API keys, users, the scene and asset libraries, wizard uploads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pvideo.db.base import Base, new_id, utcnow


class ApiKey(Base):
    """An API key with scopes; only a SHA-256 digest of the key is stored (see ``pvideo.access.apikeys``)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class User(Base):
    """A studio user: a role, an Argon2 password hash (none until the invite is accepted).

    ``session_generation`` is part of every session cookie: bumping it signs the user out
    everywhere. An invite stores only a digest of its one-time token."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    invite_digest: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    invite_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ColumnMapping(Base):
    """The last column mapping used with a scene in the studio: customer-file column -> scene field."""

    __tablename__ = "column_mappings"

    scene_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StudioUpload(Base):
    """A customer file uploaded in the new-campaign wizard, kept until it is submitted or expires.

    The file itself lives under the data folder (``uploads/<id>``); the row holds the choices
    made about it in later steps (sheet, column mapping) so every step is a plain form."""

    __tablename__ = "studio_uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scene_name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))  # csv | xlsx
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sheet: Mapped[str | None] = mapped_column(String(100), nullable=True)
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    campaign_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    scene_version_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The scene version picked (its latest when the file came): the campaign pins it."""


class Scene(Base):
    """A named scene of the library; its text lives in immutable ``SceneVersion`` rows
    (``pvideo.jobs.scenelibrary``). An archived scene is offered for no new campaign."""

    __tablename__ = "scenes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SceneVersion(Base):
    """One saved text of a scene, byte for byte, numbered 1, 2, ... per scene; never changed."""

    __tablename__ = "scene_versions"
    __table_args__ = (UniqueConstraint("scene_id", "number", name="uq_scene_versions_scene_number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    scene_id: Mapped[str] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    yaml_text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)


class AssetKind(StrEnum):
    """What an uploaded asset is: the check it passed (``pvideo.jobs.assetchecks``)."""

    VIDEO, IMAGE, AUDIO, FONT = "video", "image", "audio", "font"


class IngestState(StrEnum):
    """Where an uploaded video's template ingest is (other kinds stay ``NONE``)."""

    NONE, QUEUED, INGESTING, READY, FAILED = "none", "queued", "ingesting", "ready", "failed"


class Asset(Base):
    """A file uploaded in the studio, stored as ``assets/<sha256><ext>``, named ``uploads/<sha256>/<name>`` in scenes."""

    __tablename__ = "assets"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))  # AssetKind
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    uploaded_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ingest_state: Mapped[str] = mapped_column(String(12), default=IngestState.NONE)
    ingest_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    template_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
