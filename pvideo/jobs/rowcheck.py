"""The check a campaign submission runs on each row: will this row compile?

``compile_plan`` renders every Jinja2 text of the scene over the row, checks each
CTA link and draws the overlays; only the drawing is slow. ``RowCheck`` does the
rest through the same sandbox (``render_text``, ``holds``) and the same link rule
(``check_link``), so a row bound to fail at render time (a CTA URL that is not
http(s), a name the row lacks, a ``when`` that errors, a media file chosen by data
that is not there) is rejected in the submission's answer instead of queued.
Pictures from URLs and storage are not fetched here. The interactions its landing page
will ask (``pvideo.plan.interactive``) are checked the same way: their ``when``, every
text ``templated_texts`` lists, a calendar link.

Most templates read a few low-variety fields (``{{ plan }}``, ``{{ price | money }}``):
the outcome of each text for the values it reads is remembered, so a 100,000-row
table renders each distinct text once, not once per row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

import jinja2
from jinja2 import nodes

from pvideo.errors import AssetError, DataError, PermanentError
from pvideo.plan.assets import AssetsDir, resolve_asset
from pvideo.plan.model import PlanSection, RenderPlan
from pvideo.plan.pictures import is_bundled
from pvideo.scene.conditions import holds
from pvideo.scene.interactions import describe, templated_texts
from pvideo.scene.layers import AnyLayer, AudioLayer, CtaLayer, ImageLayer, TextLayer, VideoLayer
from pvideo.scene.sandbox import render_text
from pvideo.scene.spec import SceneSpec
from pvideo.scene.urls import check_link

_T = TypeVar("_T")
_ABSENT = object()  # a name the row does not have (an undefined-name error)
_MEMO_LIMIT = 50_000
_PARSER = jinja2.Environment()
_OUTPUT = re.compile(r"\{\{.*?\}\}", re.DOTALL)


class _Outcome(NamedTuple):
    value: Any
    error: PermanentError | None


@dataclass(frozen=True)
class RowCheck:
    """The compile-time rules of ``spec`` for one coerced row at a time, drawing nothing.

    As in ``compile_plan``, a layer whose ``when`` is false, or that lies wholly in a
    skipped section, is not looked at, and messages name the layer and the field.
    """

    spec: SceneSpec
    assets_dir: AssetsDir
    _layer_names: list[str] = field(init=False, repr=False)
    _visible: dict[tuple[bool, ...], tuple[bool, ...]] = field(default_factory=dict, init=False, repr=False)
    _names: dict[str, tuple[str, ...] | None] = field(default_factory=dict, init=False, repr=False)
    _memo: dict[Hashable, _Outcome] = field(default_factory=dict, init=False, repr=False)
    _outputs: dict[str, tuple[str, ...] | None] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        names = [
            f"layer {i} ({layer.type}{f' {layer.id!r}' if layer.id else ''})"
            for i, layer in enumerate(self.spec.layers, start=1)
        ]
        object.__setattr__(self, "_layer_names", names)

    def problem(self, row: Mapping[str, Any], *, number: int, source: str) -> DataError | None:
        """The error that would fail this row's render, naming file, row and field; ``None`` if none."""
        try:
            self._check(row)
        except DataError as exc:
            return DataError(exc.reason, row=number, field=exc.field, source=source)
        except PermanentError as exc:  # e.g. the sandbox stopping a template on this row's data
            return DataError(str(exc), row=number, source=source)
        return None

    def _check(self, row: Mapping[str, Any]) -> None:
        kept = tuple(s.when is None or self._holds(s.when, row, f"section {s.name!r} when") for s in self.spec.sections)
        visible = self._visible.get(kept)
        if visible is None:
            visible = self._visible[kept] = self._visible_layers(kept)
        for index, layer in enumerate(self.spec.layers):
            name = self._layer_names[index]
            try:
                if layer.when is not None and not self._holds(layer.when, row, f"{name} when"):
                    continue
                if visible[index]:
                    self._layer(layer, name, row)
            except DataError as exc:
                reason = exc.reason if exc.reason.startswith("layer") else f"{name}: {exc.reason}"
                raise DataError(reason, field=exc.field) from None
        self._captions_and_chapters(row)
        problems = self.interaction_problems(row)
        if problems:
            raise problems[0]

    def interaction_problems(self, row: Mapping[str, Any]) -> list[DataError]:
        """What fails on this row's landing page, one error per interaction naming it and its field:
        its ``when``, a text, a calendar ``href`` that is no http(s) link. As on the page, an
        interaction in a section the row skips, or a path's option to one, is not looked at."""
        spec = self.spec
        if not spec.interactions:
            return []
        try:
            skipped = [
                s
                for s in spec.sections
                if s.when is not None and not self._holds(s.when, row, f"section {s.name!r} when")
            ]
        except PermanentError:  # the section's own problem, reported as such
            return []
        kept = {s.name for s in spec.sections} - {s.name for s in skipped}
        problems = []
        for number, item in enumerate(spec.interactions, start=1):
            if any(s.start <= item.start < s.end for s in skipped):
                continue
            name, path = describe(number, item), "when"
            try:
                if item.when is not None and not self._holds(item.when, row, f"{name}, field when"):
                    continue
                for path, source in templated_texts(item, kept):
                    what = f"{name}, field {path}"
                    if path != "href":
                        self._check_text(source, row, what)
                        continue
                    href = self._render(source, row, what).strip()
                    try:
                        check_link(href)
                    except ValueError as exc:
                        raise DataError(f"{href[:200]!r}: {exc}") from None
            except PermanentError as exc:
                reason = exc.reason if isinstance(exc, DataError) else str(exc)
                problems.append(DataError(reason if reason.startswith(name) else f"{name}, field {path}: {reason}"))
        return problems

    def _visible_layers(self, kept: tuple[bool, ...]) -> tuple[bool, ...]:
        """Which layers show when these sections are kept: not those wholly in skipped sections (audio always)."""
        spec = self.spec
        sections = tuple(PlanSection(s.name, s.start, s.end, k) for s, k in zip(spec.sections, kept, strict=True))
        timeline = RenderPlan(spec.name, "", Path(spec.video), spec.poster_at, (), (), sections=sections)
        return tuple(
            isinstance(layer, AudioLayer) or not _skipped(layer.start, layer.end, timeline) for layer in spec.layers
        )

    def _captions_and_chapters(self, row: Mapping[str, Any]) -> None:
        """``captions.caption_cues`` and ``captions.scene_chapters``, one remembered text at a time
        (the template's own cues do not depend on the row)."""
        lines = self.spec.captions.lines if self.spec.captions is not None else []
        for number, line in enumerate(lines, start=1):
            name = f"captions line {number}"
            try:
                if line.when is None or self._holds(line.when, row, f"{name} when"):
                    self._check_text(line.text, row, f"{name} text")
            except DataError as exc:
                reason = exc.reason if exc.reason.startswith(name) else f"{name}: {exc.reason}"
                raise DataError(reason, field=exc.field) from None
        for number, mark in enumerate(self.spec.chapters, start=1):
            self._check_text(mark.title, row, f"chapter {number} title")

    def _layer(self, layer: AnyLayer, name: str, row: Mapping[str, Any]) -> None:
        match layer:
            case TextLayer():
                self._check_text(layer.text, row, f"{name} text")
            case CtaLayer():
                self._check_text(layer.label, row, f"{name} label")
                href = self._render(layer.href, row, f"{name} href")
                try:
                    check_link(href)
                except ValueError as exc:
                    raise DataError(f"{name} href {href[:200]!r}: {exc}", field="href") from None
            case ImageLayer():
                src = self._render(layer.src, row, f"{name} src").strip()
                if src and _templated(layer.src) and is_bundled(src):
                    self._asset(src, f"{name} src")
            case VideoLayer() | AudioLayer():
                src = self._render(layer.src, row, "src")
                if _templated(layer.src):
                    self._asset(src, "src")

    def _render(self, source: str, row: Mapping[str, Any], what: str) -> str:
        if not _templated(source):
            return source
        return self._remembered(("text", source, what), source, row, lambda: render_text(source, row, field=what))

    def _check_text(self, source: str, row: Mapping[str, Any], what: str) -> None:
        """``_render`` for a text whose output is not needed, only whether it renders: a text of plain
        outputs (``Hi {{ first_name }}, {{ amount | money }}``) one output at a time, each remembered
        for the values it reads, so an output shared by several texts is rendered once per row."""
        if not _templated(source):
            return
        if source not in self._outputs:
            self._outputs[source] = _plain_outputs(source)
        pieces = self._outputs[source]
        for piece in pieces if pieces is not None else (source,):
            self._render(piece, row, what)

    def _holds(self, expression: str, row: Mapping[str, Any], what: str) -> bool:
        check = lambda: holds(expression, row, field=what)  # noqa: E731
        return self._remembered(("when", expression, what), "{{ (" + expression + ") }}", row, check)

    def _remembered(self, key: tuple[str, str, str], source: str, row: Mapping[str, Any], run: Callable[[], _T]) -> _T:
        """``run()``, or what it gave (or raised) before for the same values of every name ``source`` mentions."""
        if source not in self._names:
            try:
                tree = _PARSER.parse(source)
            except jinja2.TemplateError:  # beyond plain Jinja2 syntax: never remembered
                self._names[source] = None
            else:  # every name read, loop variables too: a wider key is only a less shared one
                self._names[source] = tuple(sorted({n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}))
        names = self._names[source]
        # typed: True, 1 and 1.0 are equal keys but may render differently. A text that renders
        # is remembered for every place it appears in (a title, a caption and a chapter often
        # share one); an error names its place (``key[2]``), so it is remembered for that place.
        shared = None if names is None else (*key[:2], *((v, type(v)) for v in (row.get(n, _ABSENT) for n in names)))
        try:
            outcome = self._memo.get(shared) or self._memo.get((*shared, key[2])) if shared is not None else None
        except TypeError:  # a list or object from a JSON row: not hashable
            shared, outcome = None, None
        if outcome is None:
            try:
                outcome = _Outcome(run(), None)
            except PermanentError as exc:
                outcome = _Outcome(None, exc)
            if shared is not None:
                if len(self._memo) >= _MEMO_LIMIT:
                    self._memo.clear()
                self._memo[shared if outcome.error is None else (*shared, key[2])] = outcome
        if outcome.error is not None:
            raise outcome.error.with_traceback(None)  # the same error again, its traceback not growing
        return cast(_T, outcome.value)

    def _asset(self, src: str, what: str) -> None:
        """A file chosen by the row's data is under the assets folder (the message names no server folder)."""
        try:
            resolve_asset(self.assets_dir, src)
        except AssetError as exc:
            reason = str(exc).replace(f" in {Path(self.assets_dir).resolve()}", "")
            raise DataError(f"{what} {src[:200]!r}: {reason}", field="src") from None


def _skipped(start: float, end: float | None, timeline: RenderPlan) -> bool:
    """Whether a window (``end`` None: until the video's end) lies wholly in skipped sections."""
    return timeline.output_time(start) == timeline.output_time(math.inf if end is None else end)


def _plain_outputs(source: str) -> tuple[str, ...] | None:
    """The ``{{ ... }}`` outputs of a text that is nothing else (no ``{% %}``, no comment), each a name
    or constant with filters of constant arguments: rendered one by one they raise what the
    whole text raises, in the same order. ``None`` for any other text."""
    if "{%" in source or "{#" in source:
        return None
    try:
        body = _PARSER.parse(source).body
        pieces = tuple(_OUTPUT.findall(source))
        parsed = [_PARSER.parse(piece).body for piece in pieces]
    except jinja2.TemplateError:
        return None
    if len(body) != 1 or not isinstance(body[0], nodes.Output):
        return None
    expressions = [n for n in body[0].nodes if not isinstance(n, nodes.TemplateData)]
    if len(expressions) != len(pieces) or not all(_plain(e) for e in expressions):
        return None
    for expression, piece in zip(expressions, parsed, strict=True):
        if len(piece) != 1 or not isinstance(piece[0], nodes.Output) or piece[0].nodes != [expression]:
            return None  # e.g. a "}}" inside a string: the pieces are not the outputs
    return pieces


def _plain(node: nodes.Node) -> bool:
    if isinstance(node, (nodes.Name, nodes.Const)):
        return True
    return (
        isinstance(node, nodes.Filter)
        and node.node is not None
        and _plain(node.node)
        and all(isinstance(a, nodes.Const) for a in node.args)
        and all(isinstance(k.value, nodes.Const) for k in node.kwargs)
        and node.dyn_args is None
        and node.dyn_kwargs is None
    )


def _templated(source: str) -> bool:
    return "{{" in source or "{%" in source
