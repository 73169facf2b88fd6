"""The README and docs/ stay true to the tree.

Every repository path they name exists; every relative link (and its anchor) resolves; every
``pvideo`` command and option they show is in the CLI; every ``python -m`` module of this repo
exists, with the options it is shown with; every ``PVIDEO_*`` variable is read somewhere, and
every setting is listed in docs/operations.md. The README stays a front door: at most 250
lines, a quick start of two commands whose second is the one .ci/run ends with, and a Layout
table listing every package and module of pvideo/ and every top-level directory. The analytics
definitions in docs/analytics.md are the docstring of pvideo/tracking/analytics.py, copied
verbatim; ``python3 -m tests.test_docs`` copies it again.

A failure names the doc, the line and what is missing.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").rglob("*.md"))]
MAX_README_LINES = 250
PACKAGES = ("pvideo", "api", "workers", "bench", "tests")  # python -m / dotted names checked against the tree
PATH_ROOTS = ("pvideo", "api", "workers", "bench", "tests", "docs", "deploy", "scenes", "assets", ".ci")
ANALYTICS_SOURCE = ROOT / "pvideo" / "tracking" / "analytics.py"
ANALYTICS_DOC = ROOT / "docs" / "analytics.md"
ANALYTICS_START = (
    "<!-- analytics-definitions:start (the docstring of pvideo/tracking/analytics.py, "
    "copied by `python3 -m tests.test_docs`; do not edit) -->"
)
ANALYTICS_END = "<!-- analytics-definitions:end -->"

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"!?\[(?:[^\]]|\][^(])*?\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(re.escape(r) for r in PATH_ROOTS) + r")/[\w./*-]*)")
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*(\.\w+)?$")  # SCENE.yaml, NAME.yaml: any file of that kind
_DOTTED = re.compile(r"(?<![\w.])(pvideo(?:\.\w+)+)")
_PYTHON_M = re.compile(r"\bpython3? -m ([\w.]+)((?: [^\s#|;&]+)*)")
_SETTING = re.compile(r"\bPVIDEO_[A-Z0-9_]*[A-Z0-9]\b")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
_STOP = {"#", "&&", "&", ";", "|", "/", "||", "pvideo"}


@dataclass(frozen=True)
class Line:
    doc: Path
    number: int
    text: str
    code: bool  # inside a fenced code block

    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.number}"


def lines(doc: Path) -> Iterator[Line]:
    fence = None
    for number, text in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
        match = _FENCE.match(text)
        if match and (fence is None or match.group(1) == fence):
            fence = match.group(1) if fence is None else None
            continue
        yield Line(doc, number, text, fence is not None)


def code_texts(line: Line) -> list[str]:
    """What is code on a line: the whole line in a fenced block, else its code spans."""
    return [line.text] if line.code else [m.group(2) for m in _CODE_SPAN.finditer(line.text)]


def all_lines() -> Iterator[Line]:
    for doc in DOCS:
        yield from lines(doc)


def report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n" + "\n".join(problems)


# -- paths and links --------------------------------------------------------------------


def path_exists(path: str) -> bool:
    """A repository path, a glob that matches something, or a path ending in a placeholder
    (``scenes/NAME.yaml``) whose folder exists."""
    path = path.rstrip(".,:;")
    if "*" in path:
        return any(ROOT.glob(path))
    if (ROOT / path).exists():
        return True
    parts = path.rstrip("/").split("/")
    return bool(_PLACEHOLDER.match(parts[-1])) and (ROOT.joinpath(*parts[:-1])).is_dir()


def test_every_path_the_docs_name_exists() -> None:
    problems = []
    for line in all_lines():
        for path in _PATH.findall(line.text):
            if not path_exists(path):
                problems.append(f"{line.where()}: names {path.rstrip('.,:;')}, which does not exist")
    assert not problems, report(problems)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup dropped, lower case, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in lines(doc):
        if line.code:
            continue
        found.update(_ANCHOR.findall(line.text))
        match = _HEADING.match(line.text)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_every_relative_link_and_anchor_resolves() -> None:
    problems = []
    for line in all_lines():
        if line.code:
            continue
        for target in _LINK.findall(_CODE_SPAN.sub("", line.text)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (line.doc.parent / path).resolve() if path else line.doc
            if not file.exists():
                problems.append(f"{line.where()}: links to {path}, which does not exist")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                problems.append(f"{line.where()}: links to {target}, but {file.name} has no #{anchor}")
    assert not problems, report(problems)


# -- modules, commands, settings --------------------------------------------------------


def module_file(dotted: str) -> Path | None:
    base = ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _names(node: ast.stmt) -> set[str]:
    """The names a module- or class-level statement defines."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    if isinstance(node, ast.ImportFrom | ast.Import):
        return {a.asname or a.name for a in node.names}
    return set()


def defines(source: Path, names: list[str]) -> bool:
    """Whether ``names`` (an attribute, or a class and its member) are defined in ``source``."""
    body = ast.parse(source.read_text(encoding="utf-8")).body
    for name in names:
        found = next((node for node in reversed(body) if name in _names(node)), None)
        if found is None:
            return False
        body = getattr(found, "body", [])
    return True


def dotted_problem(dotted: str) -> str | None:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        source = module_file(".".join(parts[:cut]))
        if source is not None:
            rest = parts[cut:]
            if rest and not defines(source, rest):
                return f"{'.'.join(parts[:cut])} defines no {'.'.join(rest)}"
            return None
    return "no such module"


def test_every_module_the_docs_name_exists() -> None:
    problems = []
    for line in all_lines():
        for text in code_texts(line):
            for dotted in _DOTTED.findall(text):
                problem = dotted_problem(dotted)
                if problem:
                    problems.append(f"{line.where()}: names {dotted}: {problem}")
            for module, args in _PYTHON_M.findall(text):
                if module.split(".")[0] not in PACKAGES:
                    continue  # pip, pytest, mypy, ...
                source = module_file(module)
                if source is None:
                    problems.append(f"{line.where()}: runs python -m {module}: no such module")
                    continue
                source_text = source.read_text(encoding="utf-8")
                for option in options_in(args.split()):
                    if f'"{option}"' not in source_text:
                        problems.append(f"{line.where()}: runs python -m {module} {option}: no such option")
    assert not problems, report(problems)


def options_in(tokens: list[str]) -> list[str]:
    """The long options among shell-like tokens (``[--a N]``, ``--b=c``, ``--x/--no-x``)."""
    found = []
    for token in tokens:
        for part in token.strip("[](),`").split("/"):
            if part.startswith("--") and len(part) > 2:
                found.append(part.split("=", 1)[0])
    return found


def cli_commands(text: str) -> Iterator[tuple[list[str], list[str]]]:
    """``(command path, the tokens after it)`` for every ``pvideo ...`` invocation in ``text``."""
    tokens = text.split()
    for i, token in enumerate(tokens):
        if token != "pvideo" or i + 1 == len(tokens):
            continue
        rest = []
        for other in tokens[i + 1 :]:
            if other in _STOP or other.startswith("#"):
                break
            rest.append(other)
        if rest and re.match(r"[a-z]", rest[0]):
            yield rest[:1], rest[1:]


def resolve_command(root: Any, words: list[str], args: list[str]) -> tuple[Any, str]:
    """The CLI command ``pvideo WORDS ARGS`` runs (descending into groups), and how it was shown."""
    name = re.findall(r"^[a-z][a-z0-9-]*", words[0])[0]
    command = root.commands.get(name)
    path = name
    while command is not None and hasattr(command, "commands"):  # a group
        sub = re.match(r"[a-z][a-z0-9-]*", args[0]) if args else None
        if sub is None or sub.group(0) not in command.commands:
            return None, f"pvideo {path} {args[0] if args else ''}".strip()
        path = f"{path} {sub.group(0)}"
        command, args[:] = command.commands[sub.group(0)], args[1:]
    return command, f"pvideo {path}"


def test_every_pvideo_command_and_option_the_docs_show_exists() -> None:
    from pvideo.cli import app

    root = typer.main.get_command(app)
    assert hasattr(root, "commands"), "pvideo.cli.app is not a group of commands"
    problems = []
    for line in all_lines():
        for text in code_texts(line):
            for words, args in cli_commands(text):
                command, shown = resolve_command(root, words, args)
                if command is None:
                    problems.append(f"{line.where()}: shows `{shown}`, which is not a pvideo command")
                    continue
                known = {"--help"}
                for param in command.params:
                    known.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
                for option in options_in(args):
                    if option not in known:
                        problems.append(f"{line.where()}: shows `{shown} {option}`, which has no such option")
    assert not problems, report(problems)


def read_in_code(variable: str) -> bool:
    """Whether ``variable`` is spelled out in the code (for the few read outside ``Settings``)."""
    me = Path(__file__).resolve()
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            if source.resolve() != me and variable in source.read_text(encoding="utf-8"):
                return True
    return False


def test_every_setting_the_docs_name_exists_and_every_setting_is_documented() -> None:
    from pvideo.settings import Settings

    settings = {f"PVIDEO_{name.upper()}" for name in Settings.model_fields}
    problems = []
    for line in all_lines():
        for variable in _SETTING.findall(line.text):
            if variable not in settings and not read_in_code(variable):
                problems.append(f"{line.where()}: names {variable}, which nothing reads")
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for variable in sorted(settings):
        if f"`{variable}`" not in operations:
            problems.append(f"docs/operations.md: the setting {variable} (pvideo/settings.py) is not listed")
    assert not problems, report(problems)


# -- the README -------------------------------------------------------------------------


def section(doc: Path, title: str) -> list[Line]:
    """The lines under the ``## title`` heading, up to the next heading of that level."""
    found: list[Line] = []
    inside = False
    for line in lines(doc):
        if not line.code and line.text.startswith("## "):
            if inside:
                break
            inside = line.text[3:].strip() == title
            continue
        if inside:
            found.append(line)
    assert found, f"{doc.relative_to(ROOT)} has no '## {title}' section"
    return found


def quick_start_commands() -> list[str]:
    lines_ = section(README, "Quick start")
    return [re.sub(r"\s+#.*$", "", line.text).strip() for line in lines_ if line.code and line.text.strip()]


def ci_test_command() -> str:
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in run.splitlines() if line.strip() and not line.strip().startswith("#")]
    return commands[-1]


def test_readme_is_a_short_front_door() -> None:
    count = len(README.read_text(encoding="utf-8").splitlines())
    assert count <= MAX_README_LINES, f"README.md has {count} lines; at most {MAX_README_LINES} (move detail to docs/)"


def test_quick_start_is_install_and_demo_then_the_ci_test_command() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2, f"README.md's quick start must be exactly two commands, found {commands}"
    install, tests = commands
    assert 'pip install -e ".[dev]"' in install and install.endswith("pvideo demo"), install
    assert tests == ci_test_command(), (
        f"README.md's test command `{tests}` differs from what .ci/run runs last: `{ci_test_command()}`"
    )


def ignored(name: str) -> bool:
    patterns = [p.strip().rstrip("/") for p in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()]
    return any(p and not p.startswith("#") and fnmatch.fnmatch(name, p) for p in patterns)


def test_layout_lists_every_wing_module_and_top_level_directory() -> None:
    listed: dict[str, Line] = {}
    for line in section(README, "Layout"):
        cells = line.text.split("|")
        if line.code or len(cells) < 3:
            continue
        for path in re.findall(r"`([^`]+)`", cells[1]):
            listed[path.rstrip("/")] = line
    problems = [
        f"{line.where()}: lists {path}, which does not exist"
        for path, line in listed.items()
        if not (ROOT / path).exists()
    ]
    package = ROOT / "pvideo"
    expected = [f"pvideo/{p.name}" for p in package.iterdir() if (p / "__init__.py").is_file()]
    expected += [f"pvideo/{p.name}" for p in package.glob("*.py") if p.name != "__init__.py"]
    expected += [p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".") and not ignored(p.name)]
    problems += [
        f"README.md: the Layout table does not list {path}"
        for path in sorted(expected)
        if not any(shown == path or shown.startswith(f"{path}/") for shown in listed)
    ]
    assert not problems, report(problems)


# -- analytics definitions: one source ----------------------------------------------------


def analytics_definitions() -> str:
    docstring = ast.get_docstring(ast.parse(ANALYTICS_SOURCE.read_text(encoding="utf-8")))
    assert docstring, f"{ANALYTICS_SOURCE.relative_to(ROOT)} has no docstring"
    return f"{ANALYTICS_START}\n\n{docstring}\n\n{ANALYTICS_END}"


def analytics_block(text: str) -> str | None:
    if ANALYTICS_START not in text or ANALYTICS_END not in text:
        return None
    return ANALYTICS_START + text.split(ANALYTICS_START, 1)[1].split(ANALYTICS_END, 1)[0] + ANALYTICS_END


def test_analytics_doc_holds_the_definitions_of_the_code() -> None:
    block = analytics_block(ANALYTICS_DOC.read_text(encoding="utf-8"))
    assert block is not None, f"docs/analytics.md lost its markers: {ANALYTICS_START} ... {ANALYTICS_END}"
    assert block == analytics_definitions(), (
        "docs/analytics.md: the definitions differ from the docstring of pvideo/tracking/analytics.py; "
        "run: python3 -m tests.test_docs"
    )


@pytest.mark.parametrize(
    ("path", "ok"),
    [("pvideo/scene/", True), ("scenes/NAME.yaml", True), ("tests/reference/*.png", True), ("docs/nowhere.md", False)],
)
def test_path_check_accepts_placeholders_and_globs_but_not_missing_files(path: str, ok: bool) -> None:
    assert path_exists(path) is ok


def main() -> None:
    """Copy the docstring of pvideo/tracking/analytics.py into docs/analytics.md."""
    text = ANALYTICS_DOC.read_text(encoding="utf-8")
    block = analytics_block(text)
    if block is None:
        raise SystemExit(f"{ANALYTICS_DOC}: no {ANALYTICS_START} ... {ANALYTICS_END} block")
    new = text.replace(block, analytics_definitions())
    if new != text:
        ANALYTICS_DOC.write_text(new, encoding="utf-8")
    print(f"{ANALYTICS_DOC}: analytics definitions {'updated' if new != text else 'already up to date'}")


if __name__ == "__main__":
    main()
