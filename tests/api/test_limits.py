"""Request body limits (413 on every route, declared or streamed) and the campaign row limit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.db.models import Campaign
from tests.conftest import API_KEY

KEY = {"X-API-Key": API_KEY}
MB = 1024 * 1024


@pytest.fixture()
def small(settings):
    from pvideo.runtime import Runtime

    limited = settings.model_copy(update={"max_body_mb": 1, "max_upload_mb": 2, "max_rows": 3})
    runtime = Runtime.from_settings(limited)
    with TestClient(create_app(runtime=runtime)) as client:
        yield client
    runtime.db.dispose()


@pytest.mark.parametrize("path", ["/api/renders/x/revoke-link", "/studio/sign-in", "/api/events", "/healthz"])
def test_declared_body_over_the_limit_is_413(small, path):
    response = small.post(path, content=b"x" * (MB + 1), headers=KEY)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_streamed_body_over_the_limit_is_413(small):
    def chunks():
        for _ in range(3):
            yield b"x" * (MB // 2 + 1)

    response = small.post("/api/events", content=chunks())  # chunked: no Content-Length
    assert response.status_code == 413
    big = small.post(
        "/api/campaigns", content=(c * 3 for c in chunks()), headers={**KEY, "Content-Type": "application/json"}
    )
    assert big.status_code == 413 and "2048 KB" in big.text


def test_uploads_have_their_own_limit(small):
    csv = b"customer_id,first_name,price\n" + b"c,Ana,1\n" * (int(1.5 * MB) // 8)
    over_body = small.post(
        "/api/campaigns", headers=KEY, data={"scene": "card"}, files={"file": ("c.csv", csv, "text/csv")}
    )
    assert over_body.status_code != 413 or "larger than 2048 KB" in over_body.text
    too_big = small.post(
        "/api/campaigns", headers=KEY, data={"scene": "card"}, files={"file": ("c.csv", csv * 2, "text/csv")}
    )
    assert too_big.status_code == 413


def test_bad_content_length_is_400(small):
    response = small.post("/api/events", content=b"{}", headers={"Content-Length": "abc"})
    assert response.status_code in (400, 413)


def _campaigns(client) -> int:
    with client.app.state.pvideo.runtime.db.session() as session:
        return session.query(Campaign).count()


def test_row_limit_json_and_csv(small):
    rows = [{"customer_id": f"c{i}", "first_name": "Ana", "price": 1} for i in range(4)]
    response = small.post("/api/campaigns", headers=KEY, json={"scene": "card", "rows": rows, "render": "on_demand"})
    assert response.status_code == 422 and "more than 3 rows" in response.text
    csv = "customer_id,first_name,price\n" + "".join(f"c{i},Ana,1\n" for i in range(4))
    response = small.post(
        "/api/campaigns",
        headers=KEY,
        data={"scene": "card", "render": "on_demand"},
        files={"file": ("c.csv", csv, "text/csv")},
    )
    assert response.status_code == 422 and "more than 3 rows" in response.text and "c.csv" in response.text
    assert _campaigns(small) == 0
    ok = small.post("/api/campaigns", headers=KEY, json={"scene": "card", "rows": rows[:3], "render": "on_demand"})
    assert ok.status_code == 201 and ok.json()["queued"] == 3
