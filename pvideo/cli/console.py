"""What every command shares: the two consoles, a clean failure, the settings and the database.

Settings and the database are built inside commands, never at import: ``pvideo --help``
stays fast and reads no environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from pvideo.db.engine import Database
    from pvideo.settings import Settings

# soft wrap: a long line (a path, a URL) is left whole for the terminal to wrap, so that what a script
# or grep reads of the output is the path itself, never a path cut in two
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def load_settings() -> Settings:
    """The ``PVIDEO_*`` settings, read once per command and passed on from there."""
    from pvideo.settings import Settings

    return Settings()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; ``raise fail(...)`` ends the command with ``code`` and no traceback.

    The message is printed as it is: brackets in it (a customer's data, a path) are not Rich markup.
    """
    err.print(f"[red]error:[/red] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def database(settings: Settings) -> Database:
    from pvideo.db.engine import Database

    return Database(settings.resolved_database_url)
