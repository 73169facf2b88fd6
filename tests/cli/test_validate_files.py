"""``pvideo validate --data`` on any file: a Latin-1 or semicolon export validates, and no bytes
at all make it print a traceback; every problem names the file."""

from __future__ import annotations

import codecs
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pvideo.cli import app

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
HEADS = [
    b"",
    b"customer_id,first_name,price\n",
    b"customer_id;first_name;price\r\n",
    b"customer_id\tfirst_name\tprice\nc1\t",
    codecs.BOM_UTF8 + b"customer_id,first_name,price\n",
    codecs.BOM_UTF16_LE + "customer_id,first_name,price\n".encode("utf-16-le"),
    codecs.BOM_UTF32_BE,
    b'[{"customer_id": "c1", "first_name": "',
    b'{"customers": [',
]


@pytest.fixture(scope="module")
def validate(tmp_path_factory, assets_dir, scenes_dir):
    runner = CliRunner()
    env = {
        "PVIDEO_ASSETS_DIR": str(assets_dir),
        "PVIDEO_SCENES_DIR": str(scenes_dir),
        "PVIDEO_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "COLUMNS": "2000",
        "NO_COLOR": "1",
    }

    def run(data):
        result = runner.invoke(app, ["validate", str(scenes_dir / "card.yaml"), "--data", str(data)], env=env)
        return result, _ANSI.sub("", result.stdout), _ANSI.sub("", result.stderr)

    return run


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "utf-8"])
def test_a_semicolon_export_in_any_encoding_validates(validate, tmp_path, encoding):
    path = tmp_path / "export.csv"
    path.write_bytes("customer_id;first_name;price\r\nc1;Zo\u00eb;1.5\r\nc2;Ren\u00e9e;2\r\n".encode(encoding))
    result, out, err = validate(path)
    assert result.exit_code == 0, err
    assert out.startswith("ok: ") and f"with {path}" in out
    assert err == ""


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.sampled_from(HEADS), body=st.binary(max_size=600), suffix=st.sampled_from([".csv", ".json"]))
def test_no_bytes_make_a_traceback(validate, tmp_path_factory, head, body, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"people{suffix}"
    path.write_bytes(head + body)
    result, out, err = validate(path)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in out + err
    assert result.exit_code in (0, 1)
    if result.exit_code == 1:
        problems = err.splitlines()
        assert problems[-1].startswith("error: ") and problems[-1].endswith("problem(s) found")
        assert problems[0].startswith(str(path)), problems[0]  # names the file (then the row and field)
        assert "position" not in err or "line" in err  # a JSON syntax error names its line; never a bare offset


@pytest.mark.parametrize(
    "data,message",
    [
        (b"[1, 2]", "a customer row must be a JSON object of field: value"),
        (b'{"customer_id": ', "not valid JSON: Expecting value: line 1 column 17 (char 16)"),
        (None, "file not found"),
    ],
)
def test_preview_data_problems_are_one_line(tmp_path, scenes_dir, data, message):
    row = tmp_path / "row.json"
    if data is not None:
        row.write_bytes(data)
    result = CliRunner().invoke(
        app, ["preview", str(scenes_dir / "card.yaml"), "--at", "1", "--data", str(row), "-o", str(tmp_path / "f.png")]
    )
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, repr(result.exception)
    assert _ANSI.sub("", result.stderr).strip() == f"error: {row}: {message}"


def test_a_cp1252_row_previews(tmp_path, scenes_dir, assets_dir, monkeypatch):
    monkeypatch.setenv("PVIDEO_ASSETS_DIR", str(assets_dir))
    row = tmp_path / "row.json"
    row.write_bytes('{"customer_id": "c1", "first_name": "Zo\u00eb \u20ac", "price": 1}'.encode("cp1252"))
    frame = tmp_path / "f.png"
    result = CliRunner().invoke(
        app, ["preview", str(scenes_dir / "card.yaml"), "--at", "1.5", "--data", str(row), "-o", str(frame)]
    )
    assert result.exit_code == 0, result.output
    assert frame.stat().st_size > 0
