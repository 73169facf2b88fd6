"""Interactions: what the viewer answers inside the video (the two-way half of the product).

A scene lists them under ``interactions:``. Each has an ``id``, a window in template seconds
(``start``, optional ``end``), whether it pauses the video, an optional ``when`` over the row,
and Jinja2 labels personalized per row:

* ``poll`` (single or multiple choice), ``nps`` (0-10) and ``rating`` (stars): one question;
* ``form``: typed fields and a consent checkbox; ``gate``: a form asked before playback (or
  before ``start``) that holds the video until answered;
* ``choice``: choose your path: buttons that jump to named ``sections:`` (branches);
* ``calendar``: a booking link with a slot label (a link, not a booking engine).

The landing page gets them resolved for the row (``pvideo.plan.interactive``); the viewer's
answers are checked against these definitions (``pvideo.scene.answers``). Field types that hold
personal data (email, phone, free text) say so (``pii``) for the privacy work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, Protocol

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from pvideo.scene.checks import SpecModel, is_identifier
from pvideo.scene.conditions import check_condition
from pvideo.scene.layers import UNTIL_END_SCHEMA, until_end
from pvideo.scene.urls import check_link

INTERACTION_TYPES = ("poll", "nps", "rating", "form", "choice", "gate", "calendar")
FIELD_TYPES = ("email", "phone", "text", "number", "choice", "date")
PII_FIELD_TYPES = frozenset({"email", "phone", "text"})
"""Form fields whose answers are personal data: masked for roles that may not see them."""

DEFAULT_SHOWN_SECONDS = 10.0
"""How long an interaction without ``end`` that does not pause stays on screen."""


def _ident(value: str) -> str:
    if not is_identifier(value):
        raise ValueError("must be letters, digits and underscores")
    return value


class Choice(SpecModel):
    """One answer of a poll or a form's choice field: ``id`` is what is stored, ``label`` what is shown."""

    id: str = Field(max_length=64)
    label: str = Field(min_length=1, max_length=200, description="May use Jinja2 over the row")

    _id = field_validator("id")(_ident)


def _unique_choices(choices: list[Choice], what: str) -> list[Choice]:
    ids = [c.id for c in choices]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{what}: each choice id once (repeated: {sorted({i for i in ids if ids.count(i) > 1})})")
    return choices


class _Interaction(SpecModel):
    id: str = Field(max_length=64)
    start: float = Field(ge=0, description="template second it appears (0 with a gate: before playback)")
    end: float | None = Field(
        default=None,
        gt=0,
        description="second it goes away unanswered (template time); left out: a pausing one stays until "
        "answered, any other for 10 s",
        json_schema_extra=UNTIL_END_SCHEMA,
    )
    pause: bool = Field(default=False, description="pause the video while it is shown; play on after the answer")
    skippable: bool = Field(default=True, description="the viewer may close it (Esc or Skip) without answering")
    when: str | None = Field(default=None, description="Jinja2 expression over the row; false: not asked")

    _id = field_validator("id")(_ident)
    _when = field_validator("when")(check_condition)
    _end = field_validator("end", mode="before")(until_end)

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: float | None, info: ValidationInfo) -> float | None:
        start = info.data.get("start")
        if value is not None and start is not None and value <= start:
            raise ValueError(f"end ({value:g}) must be after start ({start:g})")
        return value


class PollInteraction(_Interaction):
    type: Literal["poll"]
    question: str = Field(min_length=1, max_length=500)
    choices: list[Choice] = Field(min_length=2, max_length=12)
    multiple: bool = Field(default=False, description="the viewer may pick several")

    @field_validator("choices")
    @classmethod
    def _unique(cls, value: list[Choice]) -> list[Choice]:
        return _unique_choices(value, "choices")


class NpsInteraction(_Interaction):
    type: Literal["nps"]
    question: str = Field(min_length=1, max_length=500)
    low_label: str = Field(default="Not at all likely", max_length=100)
    high_label: str = Field(default="Extremely likely", max_length=100)


class RatingInteraction(_Interaction):
    type: Literal["rating"]
    question: str = Field(min_length=1, max_length=500)
    stars: int = Field(default=5, ge=3, le=10)


class FormField(SpecModel):
    """A form field. ``prefill`` (Jinja2 over the row) fills it from data pvideo already has,
    only where the scene says so."""

    name: str = Field(max_length=64)
    type: Literal["email", "phone", "text", "number", "choice", "date"] = "text"
    label: str = Field(min_length=1, max_length=200)
    required: bool = False
    prefill: str | None = Field(default=None, max_length=500)
    choices: list[Choice] = Field(default_factory=list, max_length=30, description="for type choice")
    max_length: int = Field(default=500, ge=1, le=5000, description="longest text accepted (characters)")
    min: float | None = Field(default=None, description="smallest number accepted")
    max: float | None = Field(default=None, description="largest number accepted")

    _name = field_validator("name")(_ident)

    @model_validator(mode="after")
    def _choices_for_choice(self) -> FormField:
        if self.type == "choice" and len(self.choices) < 2:
            raise ValueError(f"field {self.name!r}: a choice field needs at least 2 choices")
        if self.type != "choice" and self.choices:
            raise ValueError(f"field {self.name!r}: choices are for type choice only")
        _unique_choices(self.choices, f"field {self.name!r}")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"field {self.name!r}: max ({self.max:g}) is below min ({self.min:g})")
        return self

    @property
    def pii(self) -> bool:
        return self.type in PII_FIELD_TYPES


class Consent(SpecModel):
    text: str = Field(min_length=1, max_length=1000, description="what the viewer agrees to (shown beside the box)")
    required: bool = True


def _form_fields(fields: list[FormField]) -> list[FormField]:
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ValueError("each field name once")
    return fields


class FormInteraction(_Interaction):
    type: Literal["form"]
    title: str = Field(min_length=1, max_length=200)
    fields: list[FormField] = Field(min_length=1, max_length=20)
    consent: Consent | None = None
    submit_label: str = Field(default="Send", min_length=1, max_length=60)

    _fields = field_validator("fields")(_form_fields)


def _email_only() -> list[FormField]:
    return [FormField(name="email", type="email", label="Your email", required=True)]


class GateInteraction(_Interaction):
    """Lead capture: the video holds until the viewer answers (``start: 0``: before it plays)."""

    type: Literal["gate"]
    title: str = Field(default="Enter your email to watch", min_length=1, max_length=200)
    fields: list[FormField] = Field(default_factory=_email_only, min_length=1, max_length=20)
    consent: Consent | None = None
    submit_label: str = Field(default="Watch", min_length=1, max_length=60)
    pause: bool = Field(default=True, description="hold the video until answered; false only with start 0")
    skippable: bool = Field(default=False, description="the viewer may close it without answering")

    _fields = field_validator("fields")(_form_fields)

    @field_validator("pause")
    @classmethod
    def _holds_the_video(cls, value: bool, info: ValidationInfo) -> bool:
        start = info.data.get("start")
        if not value and start:
            raise ValueError(f"a gate at {start:g} s must pause the video (or start at 0, before playback)")
        return value


class PathOption(SpecModel):
    section: str = Field(description="the section played when the viewer picks this")
    label: str = Field(min_length=1, max_length=200, description="May use Jinja2 over the row")


class ChoiceInteraction(_Interaction):
    """Choose your path: each option plays its section, then goes on at the section's ``then``;
    the branches not chosen are skipped. ``default`` plays after ``timeout`` seconds."""

    type: Literal["choice"]
    question: str = Field(min_length=1, max_length=500)
    options: list[PathOption] = Field(min_length=2, max_length=6)
    default: str | None = Field(
        default=None, description="section chosen when the viewer does not pick (left out: the first option's)"
    )
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds before the default is chosen")
    pause: bool = Field(
        default=True, description="wait at the question; false: play on (the timeout must end before the branches)"
    )

    @field_validator("options")
    @classmethod
    def _each_section_once(cls, value: list[PathOption]) -> list[PathOption]:
        sections = [o.section for o in value]
        if len(set(sections)) != len(sections):
            raise ValueError(f"each section once (repeated: {sorted({s for s in sections if sections.count(s) > 1})})")
        return value

    @field_validator("default")
    @classmethod
    def _one_of_the_options(cls, value: str | None, info: ValidationInfo) -> str | None:
        options = info.data.get("options")
        if value is not None and options is not None and value not in (names := [o.section for o in options]):
            raise ValueError(f"{value!r} is not one of the options' sections ({', '.join(names)})")
        return value


class CalendarInteraction(_Interaction):
    """A booking button: opens ``href`` (a booking page) in a new tab; the click is counted."""

    type: Literal["calendar"]
    label: str = Field(default="Book a meeting", min_length=1, max_length=200)
    slot: str | None = Field(default=None, max_length=200, description="e.g. 'Tuesday 3 pm'; may use Jinja2")
    href: str = Field(min_length=1, max_length=2000, description="http(s) booking link; may use Jinja2")

    @field_validator("href")
    @classmethod
    def _a_link(cls, value: str) -> str:
        if "{" not in value:  # a templated one is checked per row
            check_link(value.strip())
        return value


AnyInteraction = (
    PollInteraction
    | NpsInteraction
    | RatingInteraction
    | FormInteraction
    | GateInteraction
    | ChoiceInteraction
    | CalendarInteraction
)
Interaction = Annotated[AnyInteraction, Field(discriminator="type")]


def describe(number: int, item: AnyInteraction) -> str:
    """How messages name an interaction: ``interaction 2 (choice 'topic')`` (``number`` from 1)."""
    return f"interaction {number} ({item.type} {item.id!r})"


def templated_texts(item: AnyInteraction, kept: set[str] | None = None) -> list[tuple[str, str]]:
    """Each text of ``item`` rendered over the row for its page, as (field path, Jinja2 source):
    what ``pvideo.plan.interactive`` renders and the row checks try. With ``kept`` (the
    sections the row keeps), a path's options whose section the row skips are left out."""
    texts: list[tuple[str, str]] = []
    if isinstance(item, (PollInteraction, NpsInteraction, RatingInteraction, ChoiceInteraction)):
        texts.append(("question", item.question))
    if isinstance(item, PollInteraction):
        texts += [(f"choices.{k}.label", c.label) for k, c in enumerate(item.choices)]
    elif isinstance(item, (FormInteraction, GateInteraction)):
        texts.append(("title", item.title))
        for k, f in enumerate(item.fields):
            texts.append((f"fields.{k}.label", f.label))
            texts += [(f"fields.{k}.choices.{j}.label", c.label) for j, c in enumerate(f.choices)]
            if f.prefill:
                texts.append((f"fields.{k}.prefill", f.prefill))
    elif isinstance(item, ChoiceInteraction):
        texts += [
            (f"options.{k}.label", o.label) for k, o in enumerate(item.options) if kept is None or o.section in kept
        ]
    elif isinstance(item, CalendarInteraction):
        texts.append(("label", item.label))
        if item.slot:
            texts.append(("slot", item.slot))
        texts.append(("href", item.href))
    return texts


def window(interaction: AnyInteraction) -> tuple[float, float]:
    """Template seconds it is on screen unanswered: ``[start, end)``; a paused one without
    ``end`` occupies its instant only (the video does not move while it shows)."""
    if interaction.end is not None:
        return interaction.start, interaction.end
    if interaction.pause:
        return interaction.start, interaction.start
    return interaction.start, interaction.start + DEFAULT_SHOWN_SECONDS


class SectionRange(Protocol):
    """What the checks read of a scene's section (``pvideo.scene.spec.Section``)."""

    @property
    def name(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def then(self) -> str | None: ...


Loc = tuple[str | int, ...]


def check_interactions(interactions: Sequence[AnyInteraction], sections: Sequence[SectionRange]) -> None:
    """Checks across interactions and sections: unique ids; a path's options name sections that
    start after it (and, when it does not pause, after its timeout); each ``then`` names a later
    section or ``end``; one pausing interaction at a time. Raises a ``ValidationError`` with one
    error per problem, each at the key it is about (``interactions.2.options.0.section``)."""
    problems: list[tuple[Loc, str]] = []
    by_name = {s.name: s for s in sections}
    first: dict[str, int] = {}
    for index, item in enumerate(interactions):
        if item.id in first:
            problems.append(
                (("interactions", index, "id"), f"{item.id!r} is also interaction {first[item.id] + 1}'s id")
            )
        first.setdefault(item.id, index)
        if isinstance(item, ChoiceInteraction):
            problems += _path_problems(index, item, by_name)
    for index, section in enumerate(sections):
        target = by_name.get(section.then) if section.then not in (None, "end") else None
        if section.then not in (None, "end") and target is None:
            known = ", ".join(by_name) or "none"
            problems.append((("sections", index, "then"), f"{section.then!r} is neither a section ({known}) nor `end`"))
        elif target is not None and target.start < section.end:
            problems.append(
                (
                    ("sections", index, "then"),
                    f"{target.name!r} starts at {target.start:g} s, before {section.name!r} ends ({section.end:g} s): "
                    "a branch goes on forward",
                )
            )
    pausing = sorted((i for i in enumerate(interactions) if i[1].pause), key=lambda i: i[1].start)
    for k, (index, after) in enumerate(pausing[1:], start=1):  # against the earlier one that lasts longest
        number, before = max(pausing[:k], key=lambda i: (window(i[1])[1], i[1].start))
        b_start, b_end = window(before)
        if after.start < b_end or after.start == b_start:
            problems.append(
                (
                    ("interactions", index, "start"),
                    f"pauses the video at {after.start:g} s while interaction {number + 1} ({before.id!r}) does "
                    f"(from {b_start:g} s): at most one pausing interaction at a time",
                )
            )
    if problems:
        raise ValidationError.from_exception_data(
            "SceneSpec",
            [
                InitErrorDetails(type=PydanticCustomError("scene", "{message}", {"message": m}), loc=loc, input=None)
                for loc, m in problems
            ],
        )


def _path_problems(index: int, item: ChoiceInteraction, sections: dict[str, SectionRange]) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    starts = []
    for k, option in enumerate(item.options):
        loc: Loc = ("interactions", index, "options", k, "section")
        section = sections.get(option.section)
        if section is None:
            known = ", ".join(sections) or "none: add `sections:`"
            problems.append((loc, f"{option.section!r} is not a section (sections: {known})"))
        elif section.start <= item.start:
            problems.append(
                (
                    loc,
                    f"section {option.section!r} starts at {section.start:g} s, not after the choice ({item.start:g} s)",
                )
            )
        else:
            starts.append(section.start)
    if starts and not item.pause and item.start + item.timeout > min(starts):
        problems.append(
            (
                ("interactions", index, "timeout"),
                f"{item.timeout:g} s from {item.start:g} s runs into the first branch ({min(starts):g} s): "
                "without pause the default must be chosen before the branches begin",
            )
        )
    return problems
