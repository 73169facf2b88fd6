"""``POST /api/campaigns`` with a CSV as spreadsheet tools save it: cp1252 with semicolons is read,
and a problem names the row and the field, never a byte offset."""

from __future__ import annotations

from tests.conftest import API_KEY

AUTH = {"X-API-Key": API_KEY}


def _upload(client, body: bytes):
    return client.post(
        "/api/campaigns",
        headers=AUTH,
        data={"scene": "card", "render": "on_demand"},  # nothing renders: the answer is what is checked
        files={"file": ("export.csv", body, "text/csv")},
    )


def test_a_cp1252_semicolon_export_is_read(client):
    body = "customer_id;first_name;price\r\nc1;Zo\u00eb \u20ac;1,5\r\nRen\u00e9e-\u20ac;Ren\u00e9e;2\r\n".encode(
        "cp1252"
    )
    response = _upload(client, body)
    assert response.status_code == 201, response.text
    submitted = response.json()
    assert submitted["queued"] == 1 and submitted["rejected_count"] == 1
    assert submitted["rejected"] == [
        {"row": 1, "error": "export.csv, row 1, field 'price': expected a number, got '1,5'"}
    ]
    renders = client.get(f"/api/campaigns/{submitted['id']}/renders", headers=AUTH).json()
    assert [(r["row"], r["customer_id"]) for r in renders] == [(1, "c1"), (2, "Ren\u00e9e-\u20ac")]


def test_a_stray_byte_in_a_utf8_upload_names_its_row(client):
    body = "customer_id,first_name,price\nc1,Zo\u00eb,1\n".encode() + b"c2,Bj\xf6rn,2\n"
    response = _upload(client, body)
    assert response.status_code == 422, response.text
    detail = str(response.json())
    assert "export.csv, row 2, field 'first_name': not valid UTF-8 text" in detail
    assert "position" not in detail and "0xf6" not in detail
