"""``pvideo validate --data`` on tables as people save them: a clear line per problem, never a traceback."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from pvideo.cli import app

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
GOOD = "customer_id,first_name,price\nc1,Zo\u00eb,1.5\nc2,Bo,2\n"


@pytest.fixture()
def validate(tmp_path, assets_dir, scenes_dir):
    runner = CliRunner()
    env = {
        "PVIDEO_ASSETS_DIR": str(assets_dir),
        "PVIDEO_SCENES_DIR": str(scenes_dir),
        "PVIDEO_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "2000",
        "NO_COLOR": "1",
    }

    def run(data):
        result = runner.invoke(app, ["validate", str(scenes_dir / "card.yaml"), "--data", str(data)], env=env)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result.exit_code, _ANSI.sub("", result.stdout), _ANSI.sub("", result.stderr)

    return run


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("noise.csv", bytes(range(256)) * 64, "header row: NUL characters are not allowed (a binary file"),
        (
            "big.csv",
            ("customer_id,first_name,price\nc1," + "x" * 140_000 + ",1\n").encode(),
            "row 1, field 'first_name': a cell is larger than 131,072 characters",
        ),
        ("dup.csv", b"customer_id,first_name,price,price\nc1,Ana,1,2\n", "field 'price': duplicate column 'price'"),
        ("deep.json", b"[" * 30_000 + b"]" * 30_000, "nested deeper than 64 levels"),
    ],
)
def test_bad_tables_are_one_clear_line(validate, tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = validate(path)
    assert code == 1
    assert f"{path}" in err and message in err
    assert "Traceback" not in out + err


def test_utf16_with_a_byte_order_mark_validates(validate, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(GOOD.encode("utf-16"))
    code, out, err = validate(path)
    assert code == 0, err
    assert "ok: " in out and err == ""


def test_columns_the_scene_does_not_use_are_warnings(validate, tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("customer_id,first_name,price,plan,emial\nc1,Ana,1,Pro,a@x\n")
    code, out, err = validate(path)
    assert code == 0
    assert f"warning: {path}: column 'emial' is not used by scene 'card'" in err
    assert "'plan'" not in err  # a declared field, even when defaulted
    assert "ok: " in out
