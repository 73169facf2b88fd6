"""The scene-script sandbox: Jinja2 over the customer row, strict about undefined names.

Customer data is untrusted and scene scripts come from many hands, so every
Jinja2 text of a scene runs in an ``ImmutableSandboxedEnvironment`` (no
attribute tricks, no mutation of the row) with ``StrictUndefined`` (a typo is
an error, not an empty string), and output is capped in size.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from functools import lru_cache, wraps
from typing import Any

from jinja2 import Environment, StrictUndefined, Template, TemplateError, Undefined, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from pvideo.errors import DataError, SceneError
from pvideo.scene.filters import with_filters

MAX_OUTPUT_CHARS = 10_000
MAX_POWER_EXPONENT = 100
MAX_VALUE_CHARS = 100_000  # any string or list built inside a template
MAX_INT_BITS = 4096
MAX_RANGE = 100_000
MAX_STEPS = 200_000  # loop iterations + calls per render
MAX_RENDER_SECONDS = 1.0
MAX_WIDTH = 1_000  # padding widths: center, ljust, indent, format specs
MAX_MACRO_DEPTH = 50
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?")
_FORMAT_WIDTH = re.compile(r"\d+")
_GROWING_STR_METHODS = {
    "center",
    "ljust",
    "rjust",
    "zfill",
    "expandtabs",
    "replace",
    "join",
    "format",
    "format_map",
    "encode",
}


class _Budget:
    """What one render may still spend: steps (iterations and calls) and wall time."""

    def __init__(self) -> None:
        self.steps = MAX_STEPS
        self.depth = 0
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS

    def spend(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise SecurityError(f"template did more than {MAX_STEPS} loop iterations and calls")
        if self.steps % 256 == 0 and time.monotonic() > self.deadline:
            raise SecurityError(f"template ran longer than {MAX_RENDER_SECONDS:g} s")


_budget: ContextVar[_Budget | None] = ContextVar("pvideo_template_budget", default=None)


def _spend(n: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.spend(n)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else 0


def _check_size(n: int, what: str) -> None:
    if n > MAX_VALUE_CHARS:
        raise SecurityError(f"{what} would exceed {MAX_VALUE_CHARS} items")


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_WIDTH:
        raise SecurityError(f"{what} width larger than {MAX_WIDTH}")


def _check_printf(fmt: Any, args: Any) -> None:
    if not isinstance(fmt, str):
        return
    for width, precision in _PRINTF_SPEC.findall(fmt):
        for part in (width, precision):
            if part == "*" or (part and int(part) > MAX_WIDTH):
                raise SecurityError(f"format width larger than {MAX_WIDTH}")


def _check_format_spec(fmt: str) -> None:
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if spec and ("{" in spec or any(int(n) > MAX_WIDTH for n in _FORMAT_WIDTH.findall(spec))):
            raise SecurityError(f"format width larger than {MAX_WIDTH}")


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse a filter call whose result would be huge, before it is built."""

    @wraps(original)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not isinstance(a, (EvalContext, Environment))]
        value = values[0] if values else None
        if name in ("center", "indent", "wordwrap", "truncate"):
            for w in (*values[1:2], kwargs.get("width"), kwargs.get("length")):
                _check_width(w, name)
        elif name == "format":
            _check_printf(value, values[1:])
        elif name == "replace":
            old, new = ([*list(values[1:3]), kwargs.get("old"), kwargs.get("new")])[:2]
            hits = str(value).count(str(old)) if old else len(str(value)) + 1
            _check_size(len(str(value)) + hits * max(0, _size(str(new)) - _size(str(old or ""))), "replace")
        elif name == "join":
            sep = values[1] if len(values) > 1 else kwargs.get("d", "")
            if isinstance(value, (list, tuple, str, range)):
                _check_size(len(value) * (len(str(sep)) + 1), "join")
        _spend()
        return original(*args, **kwargs)

    return bounded


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox plus bounds on what a template may build and spend.

    Refuses ``*``, ``**``, ``+``, ``~``, ``%`` and filters or string methods that would build
    a huge value before any output cap applies; counts loop iterations and calls against a
    per-render budget (steps and wall time), so nested loops stop; drops ``lipsum``.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._printable, **options)
        self.globals.pop("lipsum", None)
        self.globals["range"] = self.bounded_range
        for name in ("center", "indent", "wordwrap", "truncate", "format", "replace", "join"):
            self.filters[name] = _bounded_filter(name, self.filters[name])

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("bounded_iter"), [loop.iter], [], None, None, lineno=loop.lineno
            )
        return _ConcatBounder().visit(tree)

    @staticmethod
    def _printable(value: Any) -> Any:
        """Print values, never functions or classes (their repr shows internals and addresses)."""
        if callable(value) and not isinstance(value, Undefined):
            raise SecurityError("template prints a function or class, not a value")
        return value

    @staticmethod
    def bounded_range(*args: int) -> range:
        values = range(*args)
        if len(values) > MAX_RANGE:
            raise SecurityError(f"range larger than {MAX_RANGE}")
        return values

    @staticmethod
    def bounded_iter(iterable: Any) -> Iterator[Any]:
        for item in iterable:
            _spend()
            yield item

    @staticmethod
    def bounded_concat(parts: list[Any]) -> str:
        _check_size(sum(len(str(p)) if isinstance(p, str) else 0 for p in parts), "concatenation")
        return "".join(str(p) for p in parts)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend()
        owner = getattr(__obj, "__self__", getattr(getattr(__obj, "__wrapped__", None), "__self__", None))
        if isinstance(owner, str) and getattr(__obj, "__name__", "") in _GROWING_STR_METHODS:
            method = __obj.__name__
            if method in ("center", "ljust", "rjust", "zfill"):
                _check_width(args[0] if args else None, method)
            elif method == "expandtabs":
                _check_width(args[0] if args else kwargs.get("tabsize"), method)
            elif method == "replace" and len(args) >= 2:
                hits = owner.count(str(args[0])) if args[0] else len(owner) + 1
                _check_size(len(owner) + hits * max(0, len(str(args[1])) - len(str(args[0]))), "replace")
            elif method == "join" and args and isinstance(args[0], (list, tuple, str, range)):
                _check_size(len(args[0]) * (len(owner) + 1), "join")
            elif method in ("format", "format_map"):
                _check_format_spec(owner)
        budget = _budget.get()
        if budget is None or not isinstance(__obj, Macro):
            return super().call(__context, __obj, *args, **kwargs)
        if budget.depth >= MAX_MACRO_DEPTH:
            raise SecurityError(f"macros nested deeper than {MAX_MACRO_DEPTH} (recursion)")
        budget.depth += 1
        try:
            return super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.depth -= 1

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _spend()
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(count, int)
                    and len(seq) * count > MAX_OUTPUT_CHARS
                ):
                    raise SecurityError(f"repetition would exceed {MAX_OUTPUT_CHARS} items")
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS
            ):
                raise SecurityError(f"product larger than {MAX_INT_BITS} bits")
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_POWER_EXPONENT:
            raise SecurityError(f"exponent larger than {MAX_POWER_EXPONENT}")
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and abs(left).bit_length() * max(right, 0) > MAX_INT_BITS
        ):
            raise SecurityError(f"power larger than {MAX_INT_BITS} bits")
        if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _check_size(len(left) + len(right), "concatenation")
        if operator == "%":
            _check_printf(left, right)
        return super().call_binop(context, operator, left, right)


class _ConcatBounder(NodeTransformer):
    """``a ~ b`` becomes ``environment.bounded_concat([a, b])`` so doubling a string stops early."""

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        parts = [self.visit(n) for n in node.nodes]
        return nodes.Call(
            nodes.EnvironmentAttribute("bounded_concat"),
            [nodes.List(parts, lineno=node.lineno)],
            [],
            None,
            None,
            lineno=node.lineno,
        )


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    return with_filters(_BoundedSandbox(undefined=StrictUndefined, autoescape=False))


@lru_cache(maxsize=512)
def _parsed(source: str) -> Template:
    try:
        return _environment().from_string(source)
    except TemplateError as exc:
        raise SceneError(f"template {source!r} is not valid Jinja2: {exc}") from None


def render_text(source: str, row: Mapping[str, Any], *, field: str) -> str:
    """Render one scene text (its Jinja markup) over a validated customer row.

    ``field`` names the layer field for error messages (e.g. ``layer 2 text``).
    """
    template = _parsed(source)
    token = _budget.set(_Budget())
    try:
        out = _bounded_output(template.generate(**row))
    except UndefinedError as exc:
        raise DataError(str(exc.message), field=field) from None
    except SecurityError as exc:
        raise SceneError(f"{field}: template blocked by the sandbox: {exc}") from None
    except TemplateError as exc:
        raise DataError(str(exc), field=field) from None
    except RecursionError:
        raise SceneError(f"{field}: template blocked by the sandbox: recursion too deep") from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        # e.g. {{ 100 / n }} with n = 0: this row's data does not fit the template
        raise DataError(f"{type(exc).__name__}: {exc}", field=field) from None
    finally:
        _budget.reset(token)
    return out


def _bounded_output(chunks: Iterator[str]) -> str:
    """Collect output until the cap; a loop that prints is stopped there, not after it ends."""
    out: list[str] = []
    size = 0
    for chunk in chunks:
        out.append(chunk)
        size += len(chunk)
        if size >= MAX_OUTPUT_CHARS:
            break
    return "".join(out)[:MAX_OUTPUT_CHARS]
