"""The layout's rules hold, and the gate that holds them fails when one is broken.

``lint-imports`` runs the contracts in ``pyproject.toml`` (floors, the library never
importing the apps, nothing shipped importing the benchmarks or test-only packages, no
cycles). The second half copies the tree, adds one forbidden import, and expects the gate
to refuse it: a contract that cannot fail would guard nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pvideo", "api", "workers", "bench")
MAX_MODULE_LINES = 400


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages under ``root`` (they shadow any installed copy)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "static")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_contracts_hold_on_the_tree() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and result.stdout.count("KEPT") >= 4


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("pvideo/render/probe.py", "import api.main", "The library never starts the apps"),
        ("pvideo/scene/urls.py", "from pvideo.jobs import campaigns", "Imports go down only"),
        ("pvideo/jobs/manifest.py", "import pytest", "What ships never imports"),
        ("pvideo/plan/animation.py", "from pvideo.plan import compiler", "No import cycles"),
    ],
)
def test_a_forbidden_import_breaks_the_gate(tree_copy: Path, module: str, line: str, contract: str) -> None:
    path = tree_copy / module
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original + f"\n{line}  # added by the test\n", encoding="utf-8")
        result = lint_imports(tree_copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def test_no_module_is_over_the_size_limit() -> None:
    over = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "pvideo").rglob("*.py")
        if "versions" not in p.parts and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"
