"""Which column of a customer file holds which scene field: matched by name, checked, applied.

Names match whatever their case, spaces, punctuation or accents ("First Name",
"first_name" and "FIRSTNAME" are one name; "Prénom" is "prenom"), then through a short
table of common synonyms ("E-mail" and "mail" for ``email``). A mapping the user chose
before for the scene wins when its column is in the file.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence

from pvideo.scene.customers import CustomerRow
from pvideo.scene.spec import SceneSpec

_DROPPED = str.maketrans("", "", " _-./\t")
_SYNONYMS = (
    ("id", "customerid", "clientid", "custid", "customerno", "customernumber", "userid"),
    ("firstname", "givenname", "forename", "prenom", "vorname"),
    ("lastname", "surname", "familyname", "nom", "nachname"),
    ("name", "fullname", "customername"),
    ("email", "mail", "emailaddress", "courriel"),
    ("phone", "telephone", "tel", "mobile", "phonenumber"),
    ("company", "companyname", "organization", "organisation", "business"),
)
_GROUP = {name: index for index, group in enumerate(_SYNONYMS) for name in group}


def normalize_name(name: str) -> str:
    """``name`` casefolded, without accents, spaces, ``_``, ``-``, ``.`` or ``/``: "Prénom" -> "prenom"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_DROPPED)


def auto_mapping(
    fields: Sequence[str], columns: Sequence[str], remembered: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """Field -> column (``None`` when nothing matches), each column used at most once.

    In order of trust: the column ``remembered`` for the field (when this file has it),
    the same name, the same normalized name, a synonym.
    """
    mapping: dict[str, str | None] = dict.fromkeys(fields)
    used: set[str] = set()
    present = set(columns)
    normalized = [(normalize_name(c), c) for c in columns]

    def assign(field: str, column: str | None) -> None:
        if column is not None and mapping[field] is None and column not in used:
            mapping[field] = column
            used.add(column)

    for field in fields:
        column = (remembered or {}).get(field)
        if column in present:
            assign(field, column)
    for field in fields:
        if field in present:
            assign(field, field)
    for field in fields:
        key = normalize_name(field)
        assign(field, next((c for n, c in normalized if n == key and c not in used), None))
    for field in fields:
        group = _GROUP.get(normalize_name(field))
        if group is not None:
            assign(field, next((c for n, c in normalized if _GROUP.get(n) == group and c not in used), None))
    return mapping


def mapping_problems(spec: SceneSpec, columns: Iterable[str], mapping: Mapping[str, str | None]) -> list[str]:
    """What stops ``mapping`` from being used with this file, one message each, naming the field."""
    present = set(columns)
    problems = []
    taken: dict[str, str] = {}
    for field, column in mapping.items():
        if field not in spec.fields:
            problems.append(f"field {field!r} is not a field of scene {spec.name!r}")
        if column is None:
            continue
        if column not in present:
            problems.append(f"field {field!r}: column {column!r} is not in the file")
        elif column in taken:
            problems.append(f"field {field!r}: column {column!r} is already used for field {taken[column]!r}")
        else:
            taken[column] = field
    for name, declared in spec.fields.items():
        if declared.required and mapping.get(name) is None:
            problems.append(f"field {name!r} is required: choose the column that holds it")
    return problems


def mapped_rows(rows: Iterable[CustomerRow], mapping: Mapping[str, str | None]) -> Iterator[CustomerRow]:
    """Each row keyed by field name for the mapped fields; an unmapped field is absent (its
    default applies); the other columns pass through under their own names, except a
    name that is a field of ``mapping``."""
    pairs = [(field, column) for field, column in mapping.items() if column is not None]
    mapped_columns = {column for _, column in pairs}
    hidden = mapped_columns | set(mapping)
    for row in rows:
        data = {k: v for k, v in row.data.items() if k not in hidden}
        for field, column in pairs:
            if column in row.data:
                data[field] = row.data[column]
        yield CustomerRow(row.number, data)
