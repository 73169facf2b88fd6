"""A viewer's answer checked against the interaction it answers: pure functions, no database.

``check_answer(interaction, answer)`` takes one interaction as resolved for the viewer's row
(``pvideo.plan.interactive``: only its choices, fields and kept branches) and the ``answer``
object as sent, and returns the answer normalized for storage, or raises ``AnswerError`` naming
the field path (``answer.fields.email: expected an email address``). The shapes, per type::

    poll      {"choices": ["id", ...]}            single choice: exactly one
    nps       {"score": 0..10}
    rating    {"stars": 1..N}
    form/gate {"fields": {name: value}, "consent": bool}
    choice    {"section": "name"}                  one of the options this row was offered
    calendar  {"opened": true}

Nothing is stored that was not asked: unknown keys, fields and choices are refused, never
dropped silently. Text is kept as text (whatever HTML it holds is escaped where it is shown);
NUL characters and lone surrogates are refused, as the database cannot store them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pvideo.scene.interactions import PII_FIELD_TYPES
from pvideo.scene.limits import text_problem

NPS_MAX = 10
MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")
PHONE_DIGITS = (5, 20)


class AnswerError(ValueError):
    """Why an answer is refused: ``path`` (``answer.fields.email``) and what is wrong there."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True)
class CheckedAnswer:
    """What is stored: the normalized ``answer``, whether it holds personal data (a non-empty
    email, phone or free-text field), the consent given (``None``: the form asks none), and for a
    path choice the section chosen."""

    answer: dict[str, Any]
    pii: bool = False
    consent: bool | None = None
    section: str | None = None


def check_answer(interaction: Mapping[str, Any], answer: Any) -> CheckedAnswer:
    """``answer`` checked against the resolved ``interaction`` (see the module docstring)."""
    if not isinstance(answer, dict):
        raise AnswerError("answer", "expected an object")
    kind = interaction["type"]
    if kind == "poll":
        return _poll(interaction, answer)
    if kind == "nps":
        _keys(answer, "score")
        return CheckedAnswer({"score": _integer(answer.get("score"), "answer.score", 0, NPS_MAX)})
    if kind == "rating":
        _keys(answer, "stars")
        return CheckedAnswer({"stars": _integer(answer.get("stars"), "answer.stars", 1, int(interaction["stars"]))})
    if kind in ("form", "gate"):
        return _form(interaction, answer)
    if kind == "choice":
        _keys(answer, "section")
        section = _text(answer.get("section"), "answer.section")
        offered = [o["section"] for o in interaction["options"]]
        if section not in offered:
            raise AnswerError(
                "answer.section", f"{_shown(section)} is not one of the paths offered ({', '.join(offered)})"
            )
        return CheckedAnswer({"section": section}, section=section)
    if kind == "calendar":
        _keys(answer, "opened")
        if answer.get("opened") is not True:
            raise AnswerError("answer.opened", "expected true")
        return CheckedAnswer({"opened": True})
    raise AnswerError("interaction_id", f"interactions of type {kind!r} take no answers")


def _keys(answer: dict[str, Any], *allowed: str) -> None:
    for key in answer:
        if key not in allowed:
            raise AnswerError(f"answer.{_path_part(key)}", f"unexpected (this answer has {', '.join(allowed)})")


def _poll(interaction: Mapping[str, Any], answer: dict[str, Any]) -> CheckedAnswer:
    _keys(answer, "choices")
    picked = answer.get("choices")
    if not isinstance(picked, list) or not picked:
        raise AnswerError("answer.choices", "expected a list of choice ids")
    ids = [c["id"] for c in interaction["choices"]]
    for n, choice in enumerate(picked):
        value = _text(choice, f"answer.choices.{n}")
        if value not in ids:
            raise AnswerError("answer.choices", f"{_shown(value)} is not a choice ({', '.join(ids)})")
    if len(set(picked)) != len(picked):
        raise AnswerError("answer.choices", "each choice at most once")
    if not interaction.get("multiple") and len(picked) != 1:
        raise AnswerError("answer.choices", f"exactly one choice (got {len(picked)})")
    return CheckedAnswer({"choices": [i for i in ids if i in picked]})  # in the question's order


def _form(interaction: Mapping[str, Any], answer: dict[str, Any]) -> CheckedAnswer:
    _keys(answer, "fields", "consent")
    sent = answer.get("fields", {})
    if not isinstance(sent, dict):
        raise AnswerError("answer.fields", "expected an object of field names to values")
    fields = {f["name"]: f for f in interaction["fields"]}
    for name in sent:
        if name not in fields:
            raise AnswerError(f"answer.fields.{_path_part(name)}", f"not a field of this form ({', '.join(fields)})")
    values: dict[str, Any] = {}
    pii = False
    for name, field in fields.items():
        value = _field(field, sent.get(name), f"answer.fields.{name}")
        if value is None:
            if field.get("required"):
                raise AnswerError(f"answer.fields.{name}", "required")
            continue
        values[name] = value
        pii = pii or field["type"] in PII_FIELD_TYPES
    consent = _consent(interaction.get("consent"), answer.get("consent"))
    out: dict[str, Any] = {"fields": values}
    if consent is not None:
        out["consent"] = consent
    return CheckedAnswer(out, pii=pii, consent=consent)


def _consent(asked: Mapping[str, Any] | None, given: Any) -> bool | None:
    if given is not None and not isinstance(given, bool):
        raise AnswerError("answer.consent", "expected true or false")
    if asked is None:
        return None
    if asked.get("required", True) and given is not True:
        raise AnswerError("answer.consent", "consent is required")
    return bool(given)


def _field(field: Mapping[str, Any], value: Any, path: str) -> Any:
    """A field's value normalized (``None``: left empty)."""
    kind = field["type"]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == "number":
        return _number(value, path, field.get("min"), field.get("max"))
    text = _text(value, path).strip()
    limit = min(int(field.get("max_length") or MAX_EMAIL), MAX_EMAIL) if kind == "email" else field.get("max_length")
    if limit is not None and len(text) > int(limit):
        raise AnswerError(path, f"at most {int(limit)} characters (got {len(text)})")
    if kind == "email" and not _EMAIL.match(text):
        raise AnswerError(path, "expected an email address")
    if kind == "phone":
        digits = sum(c.isdigit() for c in text)
        if not _PHONE.match(text) or not PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]:
            raise AnswerError(path, "expected a phone number (digits, spaces, + ( ) - . /)")
    if kind == "date":
        try:
            if not _DATE.match(text):
                raise ValueError
            date.fromisoformat(text)
        except ValueError:
            raise AnswerError(path, "expected a date as YYYY-MM-DD") from None
    if kind == "choice":
        ids = [c["id"] for c in field.get("choices", [])]
        if text not in ids:
            raise AnswerError(path, f"{_shown(text)} is not a choice ({', '.join(ids)})")
    return text


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise AnswerError(path, "expected text")
    problem = text_problem(value)
    if problem:
        raise AnswerError(path, problem)
    return value


def _integer(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise AnswerError(path, f"expected a whole number from {low} to {high}")
    if not low <= value <= high:
        raise AnswerError(path, f"expected a whole number from {low} to {high} (got {value:g})")
    return int(value)


def _number(value: Any, path: str, low: float | None, high: float | None) -> int | float:
    """A number, or the text of one (what a form without JavaScript sends)."""
    if isinstance(value, str):
        text = _text(value, path).strip()
        if len(text) > 40 or not _NUMBER.match(text):
            raise AnswerError(path, "expected a number")
        value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AnswerError(path, "expected a number")
    if low is not None and value < low:
        raise AnswerError(path, f"at least {low:g}")
    if high is not None and value > high:
        raise AnswerError(path, f"at most {high:g}")
    return value


def _shown(value: str) -> str:
    """A value quoted for an error message, cut short (the message may be shown back)."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _path_part(key: str) -> str:
    """A key the sender chose, fit to stand in an error's path."""
    cleaned = "".join(c if c.isprintable() and c not in "\x00" else "?" for c in key)
    return cleaned if len(cleaned) <= 40 else cleaned[:40] + "..."


def form_answer(interaction: Mapping[str, Any], form: list[tuple[str, str]]) -> dict[str, Any]:
    """The answer object a page without JavaScript means by its form fields (``choice``, repeated
    for several; ``score``; ``stars``; each form field by its name and ``consent=on``;
    ``section``), to check with ``check_answer`` like any other."""
    values: dict[str, list[str]] = {}
    for name, value in form:
        values.setdefault(name, []).append(value)

    def one(name: str) -> Any:
        sent = values.get(name, [])
        return (sent[0] if sent else None) if len(sent) <= 1 else sent  # several: refused as not one value

    def whole(name: str) -> Any:
        value = one(name)
        return int(value) if isinstance(value, str) and value.strip().isdigit() and len(value) < 10 else value

    kind = interaction["type"]
    if kind == "poll":
        return {"choices": values.get("choice", [])}
    if kind == "nps":
        return {"score": whole("score")}
    if kind == "rating":
        return {"stars": whole("stars")}
    if kind in ("form", "gate"):
        fields = {f["name"]: one(f["name"]) for f in interaction["fields"] if f["name"] in values}
        return {"fields": fields, "consent": one("consent") in ("on", "true", "1", "yes")}
    if kind == "choice":
        return {"section": one("section")}
    return {"opened": True}
