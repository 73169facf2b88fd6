"""Scene-script templating: Jinja2 in a sandbox, strict about undefined names.

Customer data is untrusted and scene scripts come from many hands, so every
template runs in an ``ImmutableSandboxedEnvironment`` (no attribute tricks, no
mutation of the row) with ``StrictUndefined`` (a typo is an error, not an
empty string), and output is capped in size.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from pvideo.errors import DataError, SceneError

MAX_OUTPUT_CHARS = 10_000


MAX_POWER_EXPONENT = 100


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """Refuses ``*`` and ``**`` that would build a huge value before any output cap applies."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) \
                        and len(seq) * count > MAX_OUTPUT_CHARS:
                    raise SecurityError(f"repetition would exceed {MAX_OUTPUT_CHARS} items")
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_POWER_EXPONENT:
            raise SecurityError(f"exponent larger than {MAX_POWER_EXPONENT}")
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    return _BoundedSandbox(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=512)
def _compile(source: str):
    try:
        return _environment().from_string(source)
    except TemplateError as exc:
        raise SceneError(f"template {source!r} is not valid Jinja2: {exc}") from None


def render_template(source: str, row: Mapping[str, Any], *, field: str) -> str:
    """Render one scene template over a validated customer row.

    ``field`` names the layer field for error messages (e.g. ``layer 2 text``).
    """
    template = _compile(source)
    try:
        out = template.render(**row)
    except UndefinedError as exc:
        raise DataError(str(exc.message), field=field) from None
    except SecurityError as exc:
        raise SceneError(f"{field}: template blocked by the sandbox: {exc}") from None
    except TemplateError as exc:
        raise DataError(str(exc), field=field) from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        # e.g. {{ 100 / n }} with n = 0: this row's data does not fit the template
        raise DataError(f"{type(exc).__name__}: {exc}", field=field) from None
    if len(out) > MAX_OUTPUT_CHARS:
        out = out[:MAX_OUTPUT_CHARS]
    return out
