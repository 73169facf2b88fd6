"""The scene library on SQLite and PostgreSQL: versions numbered per scene, byte-exact texts,
no version for an unchanged text, invalid scenes refused with the loader's message,
archive, duplicate, and the fallback to scene files."""

from __future__ import annotations

import hashlib
import uuid

import pytest
import yaml
from sqlalchemy import func, select

from pvideo.db.models import Campaign, SceneVersion
from pvideo.errors import NotFound, SceneError
from pvideo.jobs import scenelibrary as library
from tests.conftest import CARD_SCENE

# comments, a blank line, odd spacing, CRLF line ends and a non-ASCII character: kept byte for byte
CARD_TEXT = "# the card scene\r\n\r\n" + yaml.safe_dump(CARD_SCENE, sort_keys=False).replace("\n", "  # ✓\r\n", 1)


def fresh(prefix: str = "card") -> str:
    """A scene name of this test only (the PostgreSQL schema is shared by the session)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def retitled(title: str) -> str:
    return yaml.safe_dump({**CARD_SCENE, "name": title}, sort_keys=False)


def test_versions_are_numbered_per_scene_and_texts_kept_exactly(db):
    name, other = fresh(), fresh()
    with db.session() as session:
        first = library.save_version(session, name, CARD_TEXT, author="mia@example.com", note="first cut")
        second = library.save_version(session, name, retitled("Card 2"), author="ann@example.com")
        elsewhere = library.save_version(session, other, CARD_TEXT, author="cli")
    assert (first.created, second.created, elsewhere.created) == (True, True, True)
    assert (first.version.number, second.version.number, elsewhere.version.number) == (1, 2, 1)
    with db.session() as session:
        pulled = library.get_version(session, name, 1)
        assert pulled.yaml_text.encode() == CARD_TEXT.encode()  # comments, CRLF, ✓
        assert pulled.sha256 == hashlib.sha256(CARD_TEXT.encode()).hexdigest()
        assert (pulled.author, pulled.note) == ("mia@example.com", "first cut")
        assert library.get_version(session, name).number == 2  # no number: the latest
        assert [v.number for v in library.versions_of(session, name)] == [2, 1]
        with pytest.raises(NotFound, match="no version 3"):
            library.get_version(session, name, 3)
        with pytest.raises(NotFound):
            library.get_version(session, fresh("nothing"), None)


def test_an_unchanged_text_makes_no_version(db):
    name = fresh()
    with db.session() as session:
        first = library.save_version(session, name, CARD_TEXT, author="a")
        again = library.save_version(session, name, CARD_TEXT, author="b", note="no change")
    assert again.created is False and again.version.id == first.version.id
    with db.session() as session:
        library.save_version(session, name, retitled("Card 2"), author="a")
        back = library.save_version(session, name, CARD_TEXT, author="a", note="back to v1")
        assert back.created and back.version.number == 3  # the same text as v1, but not the latest
        seeded = library.seed_version(session, name, retitled("Card 2"), author="demo")
        assert not seeded.created and seeded.version.number == 2  # a version already holds it
        count = session.scalar(
            select(func.count()).select_from(SceneVersion).where(SceneVersion.scene_id == first.version.scene_id)
        )
    assert count == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "a scene must be a mapping"),
        (yaml.safe_dump({**CARD_SCENE, "layers": [{"type": "txet", "id": "x"}]}), "did you mean 'text'"),
        (yaml.safe_dump({**CARD_SCENE, "colour": "red"}), "unknown key 'colour'"),
        ("a: " + "[" * 100 + "]" * 100 + "\n", "nested deeper than 64 levels"),
    ],
)
def test_an_invalid_scene_is_refused_with_the_loaders_message(db, text, message):
    name = fresh()
    with db.session() as session:
        with pytest.raises(SceneError, match=message) as refused:
            library.save_version(session, name, text, author="a")
        assert str(refused.value).startswith(f"{name}.yaml")
        assert library.find_scene(session, name) is None  # nothing stored, not even the scene


def test_a_bad_name_is_refused(db):
    with db.session() as session:
        for bad in ("", "../etc", "a b", "-x", "x" * 102):
            with pytest.raises(SceneError, match="letters, digits"):
                library.save_version(session, bad, CARD_TEXT, author="a")


def test_the_current_scene_is_the_latest_version_else_the_file(db, tmp_path):
    scenes_dir = tmp_path / "scenes"
    scenes_dir.mkdir()
    name = fresh()
    (scenes_dir / f"{name}.yaml").write_text(retitled("From the file"))
    with db.session() as session:
        from_file = library.current_scene(session, scenes_dir, name)
        assert (from_file.spec.name, from_file.version_id) == ("From the file", None)
        saved = library.save_version(session, name, retitled("From the library"), author="a").version
        current = library.current_scene(session, scenes_dir, name)
        assert (current.spec.name, current.version_id) == ("From the library", saved.id)
        with pytest.raises(NotFound, match="unknown scene"):
            library.current_scene(session, scenes_dir, fresh("missing"))
        with pytest.raises(NotFound):
            library.current_scene(session, scenes_dir, "../secrets")


def test_archive_hides_a_scene_from_new_campaigns(db, tmp_path):
    scenes_dir = tmp_path / "scenes"
    scenes_dir.mkdir()
    name, filed = fresh(), fresh("filed")
    (scenes_dir / f"{filed}.yaml").write_text(CARD_TEXT)
    with db.session() as session:
        library.save_version(session, name, CARD_TEXT, author="a")
        library.archive_scene(session, name, author="a", scenes_dir=scenes_dir)
        library.archive_scene(session, filed, author="a", scenes_dir=scenes_dir)  # the file is imported first
    with db.session() as session:
        for archived in (name, filed):
            with pytest.raises(library.SceneArchived, match="archived"):
                library.current_scene(session, scenes_dir, archived)
        assert library.get_version(session, filed, 1).note == f"imported from scenes/{filed}.yaml"
        listed = {s.name: s for s in library.list_scenes(session, scenes_dir)}
        assert listed[name].archived_at is not None and listed[filed].archived_at is not None
        library.unarchive_scene(session, name)
    with db.session() as session:
        assert library.current_scene(session, scenes_dir, name).version is not None


def test_duplicate_starts_a_new_scene_at_version_1(db, tmp_path):
    name, copy = fresh(), fresh("copy")
    with db.session() as session:
        library.save_version(session, name, retitled("One"), author="a")
        library.save_version(session, name, CARD_TEXT, author="a")
        duplicated = library.duplicate_scene(session, name, copy, author="mia", scenes_dir=tmp_path)
        assert (duplicated.number, duplicated.author, duplicated.note) == (1, "mia", f"duplicate of {name} v2")
        assert duplicated.yaml_text == CARD_TEXT
        with pytest.raises(SceneError, match="exists already"):
            library.duplicate_scene(session, name, copy, author="mia", scenes_dir=tmp_path)
        with pytest.raises(SceneError, match="letters, digits"):
            library.duplicate_scene(session, name, "no spaces", author="mia", scenes_dir=tmp_path)


def test_list_scenes_counts_versions_and_pinned_campaigns(db, tmp_path):
    scenes_dir = tmp_path / "scenes"
    scenes_dir.mkdir()
    name, file_only = fresh(), fresh("file")
    (scenes_dir / f"{file_only}.yaml").write_text(CARD_TEXT)
    with db.session() as session:
        v1 = library.save_version(session, name, retitled("One"), author="a").version
        v2 = library.save_version(session, name, retitled("Two"), author="a").version
        for version, count in ((v1, 2), (v2, 1)):
            for i in range(count):
                session.add(Campaign(name=f"c{i}", scene_name="card", scene=CARD_SCENE, scene_version_id=version.id))
    with db.session() as session:
        listed = {s.name: s for s in library.list_scenes(session, scenes_dir)}
        pinned = library.campaigns_by_version(session, [v1, v2])
        assert library.campaign_counts(session, [v1, v2]) == {v1.id: 2, v2.id: 1}
    summary = listed[name]
    assert (summary.latest.number, summary.versions, summary.campaigns) == (2, 2, {1: 2, 2: 1})
    assert summary.campaign_count == 3
    assert listed[file_only].latest is None and listed[file_only].versions == 0
    assert sorted(c.name for c in pinned[v1.id]) == ["c0", "c1"] and len(pinned[v2.id]) == 1
