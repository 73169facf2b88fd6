"""The scene library in the studio through the real app: cards, a scene's versions and the
campaigns pinned to them, the exact YAML of a version, duplicate and archive (marketing and
admins, with CSRF), read-only for analysts; the wizard submits on the version it showed."""

from __future__ import annotations

import io
import re
from html import unescape

import yaml
from PIL import Image
from sqlalchemy import select

from pvideo.db.models import Campaign, Scene, StudioUpload
from pvideo.jobs import scenelibrary as library
from tests.conftest import CARD_SCENE, HEIGHT, WIDTH
from tests.studio.conftest import csrf_of
from tests.studio.test_wizard import upload

V1_TEXT = "# card, as marketing wrote it\n" + yaml.safe_dump({**CARD_SCENE, "name": "Card one"}, sort_keys=False)
V2_TEXT = V1_TEXT.replace("Card one", "Card two").replace("#102040", "#401020")
MAPPING = {"customer_id": "Customer ID", "first_name": "First Name", "plan": "Plan", "price": "PRICE"}
CSV = b"Customer ID,First Name,Plan,PRICE\r\nc001,Ann,Gold,9.50\r\nc002,Bob,,12\r\n"


def save(runtime, text: str, name: str = "card", author: str = "mia@example.com", note: str | None = None):
    with runtime.db.session() as session:
        return library.save_version(session, name, text, author=author, note=note).version


def forms_of(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="(/studio/scenes/[^"]+)"', html)


def headings(html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", h)).strip() for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html, re.S)]


def submit_through_wizard(client, scene: str = "card") -> str:
    """Upload, map and submit (rendered on first view: nothing renders here); the campaign's id."""
    sent = upload(client, CSV, scene=scene)
    assert sent.status_code == 303, sent.text
    upload_id = sent.headers["location"].split("/")[3]
    columns = client.get(f"/studio/uploads/{upload_id}/columns")
    client.post(
        f"/studio/uploads/{upload_id}/columns",
        data={"csrf": csrf_of(columns.text), **{f"field-{f}": c for f, c in MAPPING.items()}},
    )
    options = client.get(f"/studio/uploads/{upload_id}/options")
    key = re.search(r'name="key" value="([^"]+)"', options.text).group(1)
    form = {"csrf": csrf_of(options.text), "key": key, "render": "on_demand", "outputs": "mp4"}
    done = client.post(f"/studio/uploads/{upload_id}/options", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    return done.headers["location"].rsplit("/", 1)[1]


def test_the_wizard_pins_the_version_it_showed(marketer, runtime):
    on_file = submit_through_wizard(marketer)  # no version yet: the file in scenes/
    v1 = save(runtime, V1_TEXT)
    step1 = marketer.get("/studio/campaigns/new")
    assert '<span class="badge">v1</span> Card one' in step1.text
    assert "/studio/scenes/card/poster.png?version=1" in step1.text

    sent = upload(marketer, CSV)  # pins v1 now; v2 saved before the submission does not change it
    upload_id = sent.headers["location"].split("/")[3]
    v2 = save(runtime, V2_TEXT, note="darker box")
    columns = marketer.get(f"/studio/uploads/{upload_id}/columns")
    marketer.post(
        f"/studio/uploads/{upload_id}/columns",
        data={"csrf": csrf_of(columns.text), **{f"field-{f}": c for f, c in MAPPING.items()}},
    )
    options = marketer.get(f"/studio/uploads/{upload_id}/options")
    key = re.search(r'name="key" value="([^"]+)"', options.text).group(1)
    form = {"csrf": csrf_of(options.text), "key": key, "render": "on_demand", "outputs": "mp4"}
    submitted = marketer.post(f"/studio/uploads/{upload_id}/options", data=form, follow_redirects=False)
    pinned_v1 = submitted.headers["location"].rsplit("/", 1)[1]
    on_v2 = submit_through_wizard(marketer)

    with runtime.db.session() as session:
        assert session.get(StudioUpload, upload_id).scene_version_id == v1.id
        campaigns = {c.id: c for c in session.scalars(select(Campaign))}
    assert campaigns[on_file].scene_version_id is None and campaigns[on_file].scene["name"] == "card"
    assert campaigns[pinned_v1].scene_version_id == v1.id
    assert campaigns[pinned_v1].scene["layers"][0]["background"] == "#102040"  # the snapshot is v1's too
    assert campaigns[on_v2].scene_version_id == v2.id
    assert campaigns[on_v2].scene["layers"][0]["background"] == "#401020"

    page = marketer.get("/studio/scenes/card")
    rows = re.findall(r"<tr>\s*<th scope=\"row\" class=\"num\">v(\d)</th>(.*?)</tr>", page.text, re.S)
    by_version = {int(number): body for number, body in rows}
    assert f"/studio/campaigns/{pinned_v1}" in by_version[1] and f"/studio/campaigns/{on_v2}" in by_version[2]
    assert f"/studio/campaigns/{on_file}" not in page.text
    assert "darker box" in by_version[2] and v2.sha256[:12] in by_version[2] and "mia@example.com" in by_version[2]
    cards = marketer.get("/studio/scenes")
    assert "v1: 1 campaign<" in cards.text and "v2: 1 campaign<" in cards.text


def test_a_version_downloads_byte_for_byte(analyst, runtime):
    save(runtime, V1_TEXT.replace("\n", "\r\n") + "# ✓ kept\r\n")
    save(runtime, V2_TEXT)
    first = analyst.get("/studio/scenes/card/versions/1.yaml")
    assert first.status_code == 200
    assert first.content == (V1_TEXT.replace("\n", "\r\n") + "# ✓ kept\r\n").encode()
    assert first.headers["content-type"].startswith("application/yaml")
    assert (
        "attachment" in first.headers["content-disposition"] and "card-v1.yaml" in first.headers["content-disposition"]
    )
    assert analyst.get("/studio/scenes/card/versions/2.yaml").content == V2_TEXT.encode()
    assert analyst.get("/studio/scenes/card/versions/3.yaml").status_code == 404
    assert analyst.get("/studio/scenes/nothing/versions/1.yaml").status_code == 404


def test_analysts_read_the_library_but_change_nothing(analyst, runtime):
    save(runtime, V1_TEXT)
    cards = analyst.get("/studio/scenes")
    assert cards.status_code == 200
    assert 'aria-current="page">Scenes' in cards.text
    assert "card" in headings(cards.text) and "Card one" in cards.text and "4.0 s · 640×360" in cards.text
    assert "/studio/campaigns/new/upload" not in cards.text  # no "New campaign" for them
    page = analyst.get("/studio/scenes/card")
    assert page.status_code == 200
    assert forms_of(page.text) == [] and "Duplicate" not in headings(page.text)
    poster = analyst.get("/studio/scenes/card/card.png?version=1")
    assert poster.status_code == 200, poster.text
    assert Image.open(io.BytesIO(poster.content)).size == (WIDTH, HEIGHT)

    csrf = csrf_of(page.text)  # a valid token: the role alone refuses
    for action, data in (("duplicate", {"new_name": "copy"}), ("archive", {}), ("unarchive", {})):
        refused = analyst.post(f"/studio/scenes/card/{action}", data={"csrf": csrf, **data}, follow_redirects=False)
        assert refused.status_code == 403, action
    with runtime.db.session() as session:
        assert library.find_scene(session, "copy") is None
        assert library.get_scene(session, "card").archived_at is None


def test_duplicate_and_archive_need_the_csrf_token(marketer, runtime):
    save(runtime, V1_TEXT)
    save(runtime, V2_TEXT)
    page = marketer.get("/studio/scenes/card")
    assert forms_of(page.text) == ["/studio/scenes/card/duplicate", "/studio/scenes/card/archive"]
    assert '<label for="new-name">' in page.text

    forged = marketer.post("/studio/scenes/card/duplicate", data={"new_name": "copy"}, follow_redirects=False)
    assert forged.status_code == 403
    assert marketer.post("/studio/scenes/card/archive", data={"csrf": "nope"}).status_code == 403
    copied = marketer.post(
        "/studio/scenes/card/duplicate", data={"csrf": csrf_of(page.text), "new_name": "copy"}, follow_redirects=False
    )
    assert copied.status_code == 303 and copied.headers["location"] == "/studio/scenes/copy"
    with runtime.db.session() as session:
        copy = library.get_version(session, "copy")
        assert (copy.number, copy.yaml_text, copy.author) == (1, V2_TEXT, "mia@example.com")
        assert copy.note == "duplicate of card v2"
    taken = marketer.post("/studio/scenes/card/duplicate", data={"csrf": csrf_of(page.text), "new_name": "copy"})
    assert taken.status_code == 422 and "exists already" in unescape(taken.text)

    archived = marketer.post("/studio/scenes/card/archive", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert archived.status_code == 303
    with runtime.db.session() as session:
        assert session.scalar(select(Scene.archived_at).where(Scene.name == "card")) is not None
    step1 = marketer.get("/studio/campaigns/new")
    assert "upload?scene=card" not in step1.text and "upload?scene=copy" in step1.text
    assert marketer.get("/studio/campaigns/new/upload?scene=card").status_code == 404
    cards = marketer.get("/studio/scenes")
    assert headings(cards.text).index("Archived") < headings(cards.text).index("card")
    page = marketer.get("/studio/scenes/card")
    assert forms_of(page.text)[-1] == "/studio/scenes/card/unarchive"
    back = marketer.post("/studio/scenes/card/unarchive", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert back.status_code == 303
    assert "upload?scene=card" in marketer.get("/studio/campaigns/new").text


def test_a_scene_file_is_listed_and_archiving_imports_it(admin, runtime, settings):
    cards = admin.get("/studio/scenes")
    assert "file only" in cards.text and "card" in headings(cards.text)
    assert '<img src="/studio/scenes/card/card.png" alt="Poster of card' in cards.text
    poster = admin.get("/studio/scenes/card/card.png")  # no version: the file
    assert poster.status_code == 200 and Image.open(io.BytesIO(poster.content)).size == (WIDTH, HEIGHT)
    page = admin.get("/studio/scenes/card")
    assert "pvideo scene push scenes/card.yaml" in page.text
    admin.post("/studio/scenes/card/archive", data={"csrf": csrf_of(page.text)})
    with runtime.db.session() as session:
        version = library.get_version(session, "card")
        assert version.yaml_text.encode() == (settings.scenes_dir / "card.yaml").read_bytes()
        assert version.author == "ada@example.com"
    assert admin.get("/studio/scenes/nothing-here").status_code == 404


def test_signed_out_is_sent_to_sign_in(client):
    for path in ("/studio/scenes", "/studio/scenes/card", "/studio/scenes/card/versions/1.yaml"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/studio/sign-in?next=")
