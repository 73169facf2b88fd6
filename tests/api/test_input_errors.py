"""Every input error is a 4xx, through the real app on PostgreSQL: malformed JSON, NUL characters,
lengths past their columns, nesting, integer ranges, a database outage (503 + Retry-After).

Error bodies are short, name the field, and never echo the input or a server path.
"""

from __future__ import annotations

import json

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from pvideo.db.models import Campaign
from pvideo.tracking.export import encode_cursor
from tests.conftest import API_KEY, CARD_SCENE
from tests.tcpproxy import TcpProxy
from tests.viewers import done_campaign, event

AUTH = {"X-API-Key": API_KEY}
ROW = {"customer_id": "c1", "first_name": "Ana", "price": "9.5"}
CSV = b"customer_id,first_name,price\nc1,Ana,9.5\n"
DEEP = 30_000
SHORT = 600  # bytes: an error body names the problem, it does not carry the input


def _runtime(database_url, root, assets_dir, scenes_dir):
    from pvideo.runtime import Runtime
    from pvideo.settings import Settings

    return Runtime.from_settings(
        Settings(
            data_dir=root / "data",
            database_url=database_url,
            assets_dir=assets_dir,
            scenes_dir=scenes_dir,
            secret_key="s" * 40,
            api_keys=[API_KEY],
            public_base_url="http://testserver",
            event_export_settle_seconds=0,
        )
    )


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    (root / "card.yaml").write_text(yaml.safe_dump(CARD_SCENE, sort_keys=False))
    (root / "broken.yaml").write_text("name: broken\nvideo: [unclosed\n")
    return root


@pytest.fixture(scope="module")
def runtime(postgres_url, tmp_path_factory, assets_dir, scenes):
    runtime = _runtime(postgres_url, tmp_path_factory.mktemp("input-errors"), assets_dir, scenes)
    yield runtime
    runtime.db.dispose()


@pytest.fixture(scope="module")
def client(runtime):
    """No lifespan: what is queued stays queued (nothing here needs a render)."""
    from api.main import create_app

    return TestClient(create_app(runtime=runtime), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def viewers(client, runtime):
    return done_campaign(runtime.db, client.app.state.pvideo.tokens)


def _campaigns(runtime) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(Campaign))


def _short_422(response, *needles: str) -> str:
    assert response.status_code == 422, response.text[:300]
    assert len(response.content) < SHORT, response.text[:300]
    text = json.dumps(response.json()["detail"])
    for needle in needles:
        assert needle in text, text
    return text


@pytest.mark.parametrize(
    "body", [b"", b"   ", b"{not json", b'{"scene": "card", "rows": [', b"\xff\xfe{\x00", b"null", b"[]"]
)
def test_malformed_or_empty_json_is_a_short_422(client, runtime, body):
    before = _campaigns(runtime)
    response = client.post("/api/campaigns", content=body, headers={**AUTH, "Content-Type": "application/json"})
    _short_422(response)
    assert _campaigns(runtime) == before


def test_a_422_for_10001_rows_names_the_field_not_the_rows(client):
    rows = [{**ROW, "customer_id": f"customer-{n:05d}"} for n in range(10_001)]
    response = client.post("/api/campaigns", json={"scene": "card", "rows": rows}, headers=AUTH)
    text = _short_422(response, "rows", "10000")
    assert "customer-" not in text


@pytest.mark.parametrize(
    "method,url,kwargs,field",
    [
        ("get", "/api/campaigns/ab%00cd", {}, "campaign_id"),
        ("get", "/api/campaigns/ab%00cd/renders", {}, "campaign_id"),
        ("get", "/api/campaigns/ab%00cd/manifest", {}, "campaign_id"),
        ("get", "/api/campaigns/ab%00cd/analytics", {}, "campaign_id"),
        ("post", "/api/campaigns/ab%00cd/cancel", {}, "campaign_id"),
        ("get", "/api/events", {"params": {"campaign_id": "a\x00b"}}, "campaign_id"),
        ("get", "/api/events/failed", {"params": {"campaign_id": "a\x00b"}}, "campaign_id"),
        ("post", "/api/renders/a%00b/revoke-link", {}, "render_id"),
        ("post", "/api/renders/abc/revoke-link", {"params": {"reason": "a\x00b"}}, "reason"),
        ("get", "/v/a%00b", {}, "token"),
        ("post", "/api/campaigns", {"json": {"scene": "card", "name": "a\x00b", "rows": [ROW]}}, "name"),
        ("post", "/api/campaigns", {"json": {"scene": "ca\x00rd", "rows": [ROW]}}, "scene"),
        ("post", "/api/campaigns", {"json": {"scene": "card", "rows": [{**ROW, "first_name": "A\x00"}]}}, "first_name"),
        ("post", "/api/campaigns", {"json": {"scene": "card", "rows": [{"c\x00": "x", **ROW}]}}, "rows[0]"),
        ("post", "/api/campaigns", {"json": {"scene": "card", "rows": [ROW], "metadata": {"k": ["a\x00"]}}}, "k[0]"),
        (
            "post",
            "/api/campaigns",
            {"data": {"scene": "card", "name": "a\x00"}, "files": {"file": ("c.csv", CSV)}},
            "name",
        ),
        (
            "post",
            "/api/campaigns",
            {"data": {"scene": "card", "metadata": '{"k": "\\u0000"}'}, "files": {"file": ("c.csv", CSV)}},
            "metadata.k",
        ),
        (
            "post",
            "/api/campaigns",
            {"data": {"scene": "card"}, "files": {"file": ("c.csv", CSV + b"c2,B\x00o,1\n")}},
            "first_name",
        ),
    ],
)
def test_nul_characters_are_a_422_naming_the_field(client, runtime, method, url, kwargs, field):
    before = _campaigns(runtime)
    response = getattr(client, method)(url, headers=AUTH, **kwargs)
    _short_422(response, field, "NUL")
    assert _campaigns(runtime) == before


def test_nul_in_an_event_body_is_refused_and_kept_apart(client, viewers):
    _, (viewer, _) = viewers
    batch = {"token": viewer.token, "events": [event("page_view", event_id="a\x00b")]}
    response = client.post("/api/events", json=batch)
    assert response.status_code == 200
    assert response.json()["failed"] == 1 and "NUL" in response.json()["errors"][0]["reason"]


@pytest.mark.parametrize(
    "kwargs,field,limit",
    [
        ({"data": {"scene": "card", "name": "n" * 201}, "files": {"file": ("c.csv", CSV)}}, "name", "200"),
        ({"json": {"scene": "card", "name": "n" * 201, "rows": [ROW]}}, "name", "200"),
        (
            {"data": {"scene": "card", "webhook_url": "https://x/" + "a" * 2048}, "files": {"file": ("c.csv", CSV)}},
            "webhook_url",
            "2048",
        ),
        ({"json": {"scene": "card", "rows": [ROW], "metadata": {"k": "v" * 70_000}}}, "metadata", "65536"),
        (
            {"json": {"scene": "card", "rows": [ROW]}, "headers": {"Idempotency-Key": "k" * 201}},
            "idempotency-key",
            "200",
        ),
    ],
)
def test_lengths_match_their_columns(client, runtime, kwargs, field, limit):
    before = _campaigns(runtime)
    headers = {**AUTH, **kwargs.pop("headers", {})}
    _short_422(client.post("/api/campaigns", headers=headers, **kwargs), field, limit)
    assert _campaigns(runtime) == before


def test_a_name_of_200_characters_is_stored_whole(client, runtime):
    response = client.post(
        "/api/campaigns", headers=AUTH, data={"scene": "card", "name": "n" * 200}, files={"file": ("c.csv", CSV)}
    )
    assert response.status_code in (201, 202), response.text
    with runtime.db.session() as session:
        assert session.get(Campaign, response.json()["id"]).name == "n" * 200


def test_a_long_scene_name_or_file_name_is_not_echoed(client):
    response = client.post("/api/campaigns", headers=AUTH, data={"scene": "s" * 5000}, files={"file": ("c.csv", CSV)})
    assert response.status_code in (404, 422) and len(response.content) < SHORT
    response = client.post(
        "/api/campaigns",
        headers=AUTH,
        data={"scene": "card"},
        files={"file": ("f" * 300 + ".csv", b"customer_id,first_name\nc1,Ana\n")},  # no price column
    )
    assert response.status_code == 422 and len(response.content) < SHORT
    assert "f" * 101 not in response.text and "price" in response.text


def test_a_broken_scene_file_is_named_without_the_server_path(client, scenes):
    response = client.post("/api/campaigns", json={"scene": "broken", "rows": [ROW]}, headers=AUTH)
    text = _short_422(response, "broken", "not valid YAML")
    assert str(scenes) not in text and text.startswith('"broken.yaml: ')  # the file's name, not its folder


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "url,kwargs",
    [
        (
            "/api/campaigns",
            {"content": f'{{"scene":"card","rows":[{json.dumps(ROW)}],"metadata":{{"a":{_nested(DEEP)}}}}}'},
        ),
        (
            "/api/campaigns",
            {"data": {"scene": "card", "metadata": f'{{"a":{_nested(DEEP)}}}'}, "files": {"file": ("c.csv", CSV)}},
        ),
        ("/api/scenes/preview", {"content": f'{{"scene":{{"name":"x","video":{_nested(DEEP)}}},"at":1}}'}),
        ("/api/events", {"content": f'{{"token":"t","events":[{_nested(DEEP)}]}}'}),  # sendBeacon: text/plain
    ],
)
def test_nesting_is_refused_before_parsing(client, url, kwargs, monkeypatch):
    content_type = "text/plain" if url == "/api/events" else "application/json"
    headers = {**AUTH, **({"Content-Type": content_type} if "content" in kwargs else {})}
    parsed = _parsed_sizes(monkeypatch)
    response = client.post(url, headers=headers, **kwargs)
    assert not [n for n in parsed if n >= 2 * DEEP], f"a JSON parser was given the nested text: {parsed}"
    _short_422(response, "nested deeper than 64 levels")


def _parsed_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every text given to a JSON parser from now on: ``json.loads`` (Starlette's
    ``Request.json``, the routes) and pydantic's ``model_validate_json``."""
    sizes: list[int] = []
    loads = json.loads
    validate = BaseModel.model_validate_json.__func__

    def counted_loads(text, *args, **kwargs):
        sizes.append(len(text))
        return loads(text, *args, **kwargs)

    def counted_validate(cls, data, *args, **kwargs):
        sizes.append(len(data))
        return validate(cls, data, *args, **kwargs)

    monkeypatch.setattr(json, "loads", counted_loads)
    monkeypatch.setattr(BaseModel, "model_validate_json", classmethod(counted_validate))
    return sizes


def test_over_long_numbers_are_refused(client):
    body = f'{{"scene":"card","rows":[{json.dumps(ROW)}],"metadata":{{"n":{"9" * 5000}}}}}'
    _short_422(client.post("/api/campaigns", content=body, headers={**AUTH, "Content-Type": "application/json"}))
    form = {"scene": "card", "metadata": f'{{"n": {"9" * 5000}}}'}
    _short_422(client.post("/api/campaigns", headers=AUTH, data=form, files={"file": ("c.csv", CSV)}), "100 digits")


def test_integer_parameters_are_bounded(client, viewers):
    campaign_id, (viewer, _) = viewers
    huge = "99999999999999999999"
    _short_422(client.get(f"/api/campaigns/{campaign_id}/renders", params={"offset": huge}, headers=AUTH), "offset")
    _short_422(client.get("/api/events/failed", params={"campaign_id": campaign_id, "after": huge}, headers=AUTH))
    _short_422(client.get("/api/events", params={"campaign_id": campaign_id, "after": encode_cursor(int(huge))}, headers=AUTH), "after")  # fmt: skip
    cta = client.get(f"/v/{viewer.token}/cta/buy", params={"q": huge}, follow_redirects=False)
    _short_422(cta, "q")
    # the bounds themselves are fine
    assert client.get(f"/api/campaigns/{campaign_id}/renders", params={"offset": 2**31 - 1}, headers=AUTH).json() == []
    ok = client.get("/api/events/failed", params={"campaign_id": campaign_id, "after": 2**63 - 1}, headers=AUTH)
    assert ok.status_code == 200 and ok.json() == []


def test_csv_duplicate_columns_are_refused_and_utf16_is_read(client, runtime):
    dup = client.post(
        "/api/campaigns",
        headers=AUTH,
        data={"scene": "card"},
        files={"file": ("d.csv", b"customer_id,first_name,price,first_name\nc1,Ana,1,Bo\n")},
    )
    _short_422(dup, "duplicate column 'first_name'")
    utf16 = "customer_id,first_name,price\nc-\u00e9,Zo\u00eb,1\n".encode("utf-16")
    response = client.post("/api/campaigns", headers=AUTH, data={"scene": "card"}, files={"file": ("u.csv", utf16)})
    assert response.status_code in (201, 202), response.text
    assert response.json()["queued"] == 1 and response.json()["rejected"] == []
    rows = client.get(f"/api/campaigns/{response.json()['id']}/renders", headers=AUTH).json()
    assert [r["customer_id"] for r in rows] == ["c-\u00e9"]


def test_an_empty_idempotency_key_is_refused(client):
    for _ in range(2):  # twice: the second used to collide with the first in the unique index
        response = client.post(
            "/api/campaigns", json={"scene": "card", "rows": [ROW]}, headers={**AUTH, "Idempotency-Key": ""}
        )
        _short_422(response, "Idempotency-Key")


# ---- a database outage -------------------------------------------------------------------------


@pytest.fixture()
def outage(postgres_url, tmp_path, assets_dir, scenes):
    """An app whose PostgreSQL is behind a proxy the test switches off: a real outage."""
    from api.main import create_app

    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    runtime = _runtime(proxied, tmp_path, assets_dir, scenes)
    client = TestClient(create_app(runtime=runtime), raise_server_exceptions=False)
    campaign_id, (viewer, _) = done_campaign(runtime.db, client.app.state.pvideo.tokens)
    yield client, proxy, campaign_id, viewer, url
    proxy.close()
    runtime.db.dispose()


def test_a_database_outage_is_a_503_with_retry_after_on_every_route(outage):
    client, proxy, campaign_id, viewer, url = outage
    calls = [
        ("get", f"/api/campaigns/{campaign_id}", {}),
        ("get", f"/api/campaigns/{campaign_id}/renders", {}),
        ("get", f"/api/campaigns/{campaign_id}/analytics", {}),
        ("get", "/api/events", {"params": {"campaign_id": campaign_id}}),
        ("post", "/api/campaigns", {"json": {"scene": "card", "rows": [ROW]}}),
        ("post", "/api/events", {"json": {"token": viewer.token, "events": [event("page_view")]}}),
        ("get", f"/v/{viewer.token}", {}),
    ]
    proxy.off()
    for method, path, kwargs in calls:
        response = getattr(client, method)(path, headers=AUTH, **kwargs)
        assert response.status_code == 503, (path, response.status_code, response.text[:200])
        assert response.headers["Retry-After"] == "5"
        assert response.json() == {"detail": "database unavailable; try again shortly"}
        assert str(proxy.port) not in response.text and (url.host or "") not in response.text
    beacon = client.post("/api/events", json={"token": viewer.token, "events": [event("page_view")]})
    assert beacon.headers["Access-Control-Allow-Origin"] == "*"  # the tracker may read it cross-origin
    proxy.on()
    stored = client.post("/api/events", json={"token": viewer.token, "events": [event("page_view")]})
    assert stored.status_code == 200 and stored.json()["stored"] == 1  # the retried batch goes in
    assert client.get(f"/api/campaigns/{campaign_id}", headers=AUTH).status_code == 200
