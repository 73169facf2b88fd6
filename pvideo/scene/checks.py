"""What every model of the scene spec shares: strict, frozen models and the checks on colors and names."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SpecModel(BaseModel):
    """A part of the spec: an unknown key is an error (a typo is never ignored), and it never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_color(value: str | None) -> str | None:
    if value is not None and not _COLOR.match(value):
        raise ValueError(f"{value!r} is not a color; use #RRGGBB or #RRGGBBAA")
    return value


def is_identifier(value: str) -> bool:
    """Letters, digits and underscores, not starting with a digit: a name a scene can use in Jinja2."""
    return bool(_IDENTIFIER.match(value))
