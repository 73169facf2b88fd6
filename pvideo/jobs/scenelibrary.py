"""The scene library: named scenes with immutable, numbered versions of their YAML text.

Saving a scene stores its text byte for byte (comments, order, line ends) with its SHA-256,
its author and a note, after the production loader accepted it (``scene_from_text``: the
same size, nesting and number limits and the same errors as a file). Saving the text the
latest version already has makes no version. A campaign pins the version it was submitted
with (``Campaign.scene_version_id``) beside the snapshot of the parsed scene it renders.

A scene is used by name: its latest version, or, while the library holds no version of it,
the file ``scenes/NAME.yaml`` (so scene files keep working; ``pvideo scene push`` imports
one). An archived scene is offered for no new campaign; its versions stay, and campaigns
that pinned one keep rendering.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvideo.db.models import Campaign, Scene, SceneVersion, new_id, utcnow
from pvideo.errors import NotFound, SceneError
from pvideo.scene.limits import text_problem
from pvideo.scene.spec import SceneSpec, load_scene, scene_from_text

SCENE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,100}")  # as api.schemas.SCENE_NAME_PATTERN: a file name
MAX_NOTE_CHARS = 500
CAMPAIGNS_SHOWN = 200  # per scene page; the counts are always complete


class SceneArchived(NotFound):
    """The scene is archived: no new campaign may use it (unarchive it first)."""


def text_digest(text: str) -> str:
    """The SHA-256 of the text's UTF-8 bytes, as hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not SCENE_NAME.fullmatch(name):
        raise SceneError(f"scene name {name[:100]!r}: letters, digits, - and _, starting with a letter or digit")
    return name


def version_spec(name: str, version: SceneVersion) -> SceneSpec:
    """The parsed scene of a stored version (its errors name ``NAME vN``)."""
    return scene_from_text(version.yaml_text, source=f"{name} v{version.number}")


@dataclass(frozen=True)
class Saved:
    version: SceneVersion
    created: bool
    """False when the text was the latest version's: nothing was stored."""


def find_scene(session: Session, name: str) -> Scene | None:
    return session.scalar(select(Scene).where(Scene.name == name)) if SCENE_NAME.fullmatch(name) else None


def get_scene(session: Session, name: str) -> Scene:
    scene = find_scene(session, name)
    if scene is None:
        raise NotFound(f"no scene {name[:100]!r} in the library")
    return scene


def latest_version(session: Session, scene: Scene) -> SceneVersion | None:
    query = select(SceneVersion).where(SceneVersion.scene_id == scene.id).order_by(SceneVersion.number.desc())
    return session.scalars(query.limit(1)).first()


def save_version(session: Session, name: str, yaml_text: str, *, author: str, note: str | None = None) -> Saved:
    """Store ``yaml_text`` as the next version of scene ``name`` (made on its first version).

    The text must load as a scene (``SceneError`` with the loader's message, nothing stored);
    the same text as the latest version returns that version (``created`` False).
    """
    check_name(name)
    problem = text_problem(yaml_text)
    if problem:
        raise SceneError(f"{name}.yaml: {problem}")
    scene_from_text(yaml_text, source=f"{name}.yaml")
    digest = text_digest(yaml_text)
    scene = session.scalar(select(Scene).where(Scene.name == name).with_for_update())  # numbers one at a time
    if scene is None:
        scene = Scene(id=new_id(), name=name, created_by=author)
        session.add(scene)
        session.flush()
        latest = None
    else:
        latest = latest_version(session, scene)
        if latest is not None and latest.sha256 == digest:
            return Saved(latest, created=False)
    version = SceneVersion(
        id=new_id(),
        scene_id=scene.id,
        number=(latest.number + 1) if latest else 1,
        yaml_text=yaml_text,
        sha256=digest,
        author=author,
        note=(note or "").strip()[:MAX_NOTE_CHARS] or None,
    )
    session.add(version)
    session.flush()
    return Saved(version, created=True)


def seed_version(session: Session, name: str, yaml_text: str, *, author: str, note: str | None = None) -> Saved:
    """``save_version`` unless any version of the scene already holds this text: seeding the
    bundled examples again neither adds versions nor undoes a later edit made in the studio."""
    scene = find_scene(session, name)
    if scene is not None:
        digest = text_digest(yaml_text)
        known = session.scalars(
            select(SceneVersion)
            .where(SceneVersion.scene_id == scene.id, SceneVersion.sha256 == digest)
            .order_by(SceneVersion.number.desc())
        ).first()
        if known is not None:
            return Saved(known, created=False)
    return save_version(session, name, yaml_text, author=author, note=note)


def get_version(session: Session, name: str, number: int | None = None) -> SceneVersion:
    """Version ``number`` of scene ``name`` (its latest when ``None``), else ``NotFound``."""
    scene = get_scene(session, name)
    if number is None:
        version = latest_version(session, scene)
    else:
        version = session.scalar(
            select(SceneVersion).where(SceneVersion.scene_id == scene.id, SceneVersion.number == number)
        )
    if version is None:
        raise NotFound(f"scene {name!r} has no version {number}" if number else f"scene {name!r} has no version")
    return version


def versions_of(session: Session, name: str) -> list[SceneVersion]:
    """Every version of ``name``, newest first."""
    scene = get_scene(session, name)
    query = select(SceneVersion).where(SceneVersion.scene_id == scene.id).order_by(SceneVersion.number.desc())
    return list(session.scalars(query))


@dataclass(frozen=True)
class CurrentScene:
    """The scene a name stands for now: its latest version, or its file in scenes/."""

    name: str
    spec: SceneSpec
    version: SceneVersion | None

    @property
    def version_id(self) -> str | None:
        return self.version.id if self.version else None


def scene_file(scenes_dir: Path, name: str) -> Path | None:
    path = scenes_dir / f"{name}.yaml"
    return path if SCENE_NAME.fullmatch(name) and path.is_file() else None


def current_scene(session: Session, scenes_dir: Path, name: str) -> CurrentScene:
    """What a new campaign on scene ``name`` uses: its latest version, else ``scenes/NAME.yaml``.

    ``NotFound`` for a name that names neither, ``SceneArchived`` for an archived scene,
    ``SceneError`` for one that does not load (naming ``NAME vN`` or the file)."""
    if not SCENE_NAME.fullmatch(name):
        raise NotFound("unknown scene (a name is letters, digits, - and _)")
    scene = find_scene(session, name)
    if scene is not None:
        if scene.archived_at is not None:
            raise SceneArchived(f"scene {name!r} is archived: unarchive it in the studio's scene library to use it")
        latest = latest_version(session, scene)
        if latest is not None:
            return CurrentScene(name, version_spec(name, latest), latest)
    path = scene_file(scenes_dir, name)
    if path is None:
        raise NotFound(f"unknown scene {name!r}")
    return CurrentScene(name, load_scene(path), None)


def current_text(session: Session, scenes_dir: Path, name: str) -> tuple[str, SceneVersion | None]:
    """The text scene ``name`` stands for (archived or not) and its version; ``NotFound`` when none."""
    scene = find_scene(session, name)
    latest = latest_version(session, scene) if scene is not None else None
    if latest is not None:
        return latest.yaml_text, latest
    path = scene_file(scenes_dir, name)
    if path is None:
        raise NotFound(f"unknown scene {name[:100]!r}")
    try:
        return path.read_bytes().decode("utf-8"), None
    except UnicodeDecodeError:
        raise SceneError(f"{path.name}: not UTF-8 text") from None


def duplicate_scene(session: Session, name: str, new_name: str, *, author: str, scenes_dir: Path) -> SceneVersion:
    """A new scene ``new_name`` whose version 1 is the text ``name`` stands for now."""
    check_name(new_name)
    if find_scene(session, new_name) is not None or scene_file(scenes_dir, new_name) is not None:
        raise SceneError(f"a scene named {new_name!r} exists already: pick another name")
    text, version = current_text(session, scenes_dir, name)
    origin = f"{name} v{version.number}" if version else f"scenes/{name}.yaml"
    return save_version(session, new_name, text, author=author, note=f"duplicate of {origin}").version


def _import_file(session: Session, scenes_dir: Path, name: str, *, author: str) -> Scene:
    """The library's record of ``name``, importing ``scenes/NAME.yaml`` as version 1 if there is none."""
    scene = find_scene(session, name)
    if scene is None:
        text, _ = current_text(session, scenes_dir, name)
        save_version(session, name, text, author=author, note=f"imported from scenes/{name}.yaml")
        scene = get_scene(session, name)
    return scene


def archive_scene(session: Session, name: str, *, author: str, scenes_dir: Path) -> Scene:
    """Offer ``name`` for no new campaign (a scene file is imported first, so the archive sticks)."""
    scene = _import_file(session, scenes_dir, name, author=author)
    if scene.archived_at is None:
        scene.archived_at = utcnow()
    return scene


def unarchive_scene(session: Session, name: str) -> Scene:
    scene = get_scene(session, name)
    scene.archived_at = None
    return scene


@dataclass
class SceneSummary:
    """One scene as the library lists it."""

    name: str
    latest: SceneVersion | None  # None: only the file in scenes/
    versions: int = 0
    archived_at: datetime | None = None
    campaigns: dict[int, int] = field(default_factory=dict)
    """Version number -> campaigns pinned to it (versions no campaign uses are left out)."""

    @property
    def campaign_count(self) -> int:
        return sum(self.campaigns.values())


def list_scenes(session: Session, scenes_dir: Path | None = None) -> list[SceneSummary]:
    """Every scene of the library (archived too) by name, with its latest version, its number of
    versions and the campaigns pinned to each; with ``scenes_dir``, also the files there that
    the library holds no version of."""
    newest = (
        select(SceneVersion.scene_id, func.max(SceneVersion.number).label("number"), func.count().label("count"))
        .group_by(SceneVersion.scene_id)
        .subquery()
    )
    latest: dict[str, SceneVersion] = {}
    counts: dict[str, int] = {}
    query = select(SceneVersion, newest.c.count).join(
        newest, (SceneVersion.scene_id == newest.c.scene_id) & (SceneVersion.number == newest.c.number)
    )
    for version, count in session.execute(query):
        latest[version.scene_id], counts[version.scene_id] = version, count
    pinned = _pinned_counts(session)
    summaries: dict[str, SceneSummary] = {}
    for scene in session.scalars(select(Scene)):
        version = latest.get(scene.id)
        summaries[scene.name] = SceneSummary(
            scene.name,
            version,
            versions=counts.get(scene.id, 0),
            archived_at=scene.archived_at,
            campaigns=pinned.get(scene.id, {}),
        )
    if scenes_dir is not None:
        for path in scenes_dir.glob("*.yaml"):
            summary = summaries.get(path.stem)
            if SCENE_NAME.fullmatch(path.stem) and (summary is None or summary.latest is None):
                summaries[path.stem] = SceneSummary(
                    path.stem, None, archived_at=summary.archived_at if summary else None
                )
    return [summaries[name] for name in sorted(summaries)]


def _pinned_counts(session: Session) -> dict[str, dict[int, int]]:
    """Scene id -> version number -> campaigns pinned to that version."""
    rows = session.execute(
        select(SceneVersion.scene_id, SceneVersion.number, func.count(Campaign.id))
        .join(Campaign, Campaign.scene_version_id == SceneVersion.id)
        .group_by(SceneVersion.scene_id, SceneVersion.number)
    )
    pinned: dict[str, dict[int, int]] = defaultdict(dict)
    for scene_id, number, count in rows:
        pinned[scene_id][number] = count
    return pinned


@dataclass(frozen=True)
class PinnedCampaign:
    id: str
    name: str
    created_at: datetime


def campaigns_by_version(session: Session, versions: list[SceneVersion]) -> dict[str, list[PinnedCampaign]]:
    """Version id -> the campaigns pinned to it, newest first (at most ``CAMPAIGNS_SHOWN`` in all)."""
    ids = [v.id for v in versions]
    found: dict[str, list[PinnedCampaign]] = defaultdict(list)
    if not ids:
        return found
    query = (
        select(Campaign.scene_version_id, Campaign.id, Campaign.name, Campaign.created_at)
        .where(Campaign.scene_version_id.in_(ids))
        .order_by(Campaign.created_at.desc())
        .limit(CAMPAIGNS_SHOWN)
    )
    for version_id, campaign_id, name, created_at in session.execute(query):
        if version_id is not None:
            found[version_id].append(PinnedCampaign(campaign_id, name, created_at))
    return found


def campaign_counts(session: Session, versions: list[SceneVersion]) -> dict[str, int]:
    """Version id -> how many campaigns pinned it (versions no campaign uses are left out)."""
    query = (
        select(Campaign.scene_version_id, func.count())
        .where(Campaign.scene_version_id.in_([v.id for v in versions]))
        .group_by(Campaign.scene_version_id)
    )
    return {version_id: count for version_id, count in session.execute(query) if version_id is not None}
