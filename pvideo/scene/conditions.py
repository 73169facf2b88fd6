"""``when`` conditions: one Jinja2 expression over the customer row that keeps or drops a layer,
a section or a caption line.

The spec checks each one's syntax when the scene loads (``check_condition``); the compiler
evaluates it per row in the sandbox (``holds``), and a condition that reads row data makes
its layer personal (``condition_uses_data``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta

from pvideo.scene.filters import with_filters
from pvideo.scene.sandbox import render_text


@lru_cache(maxsize=1)
def _syntax_environment() -> jinja2.Environment:
    return with_filters(jinja2.Environment())


def check_condition(value: str | None) -> str | None:
    """A ``when`` must be one Jinja2 expression (no ``{{ }}``), checked when the scene loads."""
    if value is None:
        return value
    if not value.strip():
        raise ValueError("when must be an expression such as \"plan == 'Pro'\"")
    try:
        _syntax_environment().compile_expression(value)
    except jinja2.TemplateError as exc:
        raise ValueError(f"when {value!r} is not a valid Jinja2 expression: {exc}") from None
    return value


@lru_cache(maxsize=512)
def condition_uses_data(expression: str) -> bool:
    """Whether a ``when`` expression reads any name (row data): then the layer is personal."""
    return bool(meta.find_undeclared_variables(jinja2.Environment().parse("{{ (" + expression + ") }}")))


def holds(expression: str, row: Mapping[str, Any], *, field: str) -> bool:
    """Evaluate a ``when`` in the scene sandbox; the spec checked it is one expression."""
    return render_text("{% if (" + expression + ") %}1{% endif %}", row, field=field) == "1"
