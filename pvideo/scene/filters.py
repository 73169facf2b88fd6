"""Data filters for scene scripts: money, dates, numbers and plurals, locale-aware via Babel.

Registered in the scene sandbox (``pvideo.scene.sandbox``), so a scene can write
``{{ price | money('EUR', 'de_DE') }}``, ``{{ renews | date('d MMMM y') }}`` or
``{{ offer_url | safe_url }}``.
Bad input (an unknown currency, a date that does not parse) raises
``ValueError``, which the sandbox reports as that row's data error.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, TypeVar

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import UnknownCurrencyError, format_currency, format_decimal, is_currency
from jinja2 import Environment

from pvideo.scene.urls import normalize_url


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


_Env = TypeVar("_Env", bound=Environment)


def _locale_call(func: Callable[..., str], *args: Any, **kwargs: Any) -> str:
    try:
        return func(*args, **kwargs)
    except (UnknownLocaleError, UnknownCurrencyError) as exc:
        raise ValueError(str(exc)) from None
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"bad locale or format: {exc}") from None


def money(value: Any, currency: str = "USD", locale: str = "en_US") -> str:
    """``1234.5 | money`` -> ``$1,234.50``; ``| money('EUR', 'de_DE')`` -> ``1.234,50 €``."""
    if not _is_currency(str(currency)):
        raise ValueError(f"unknown currency {currency!r}; use an ISO 4217 code such as 'USD'")
    return _format_money(str(_number(value)), str(currency), str(locale))


# Babel takes ~0.1 ms per amount; a scene often shows the same amount in several texts (a
# title, a caption, a chapter, a button), and a campaign check renders every row's texts.
@lru_cache(maxsize=256)
def _is_currency(currency: str) -> bool:
    return is_currency(currency)


@lru_cache(maxsize=4096)
def _format_money(number: str, currency: str, locale: str) -> str:
    """Keyed by the exact text of the ``Decimal`` (errors are not cached: they raise again)."""
    return _locale_call(lambda: format_currency(Decimal(number), currency, locale=_locale(locale)))


@lru_cache(maxsize=64)
def _locale(identifier: str) -> Locale:
    """``Locale.parse``, once per name (Babel parses the name again at every call otherwise)."""
    return Locale.parse(identifier)


def number(value: Any, decimals: int = 0, locale: str = "en_US") -> str:
    """Grouped digits with exactly ``decimals`` decimals: ``12345.678 | number(1)`` -> ``12,345.7``."""
    if not isinstance(decimals, int) or not 0 <= decimals <= 12:
        raise ValueError(f"decimals must be an integer from 0 to 12, got {decimals!r}")
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return _locale_call(format_decimal, _number(value), format=pattern, locale=str(locale), decimal_quantization=True)


def _as_date(value: Any) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    text = str(value).strip()
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        try:
            return _dt.datetime.fromisoformat(text).date()
        except ValueError:
            raise ValueError(f"expected a date like 2026-03-31, got {value!r}") from None


def date(value: Any, format: str = "medium", locale: str = "en_US") -> str:
    """An ISO date as ``short|medium|long|full`` or a CLDR pattern (``'d MMMM y'``)."""
    return _locale_call(format_date, _as_date(value), format=str(format), locale=str(locale))


def plural(count: Any, one: str = "", other: str = "s") -> str:
    """``n | plural('seat', 'seats')``: ``one`` when ``count`` is exactly 1, else ``other``."""
    return str(one) if _number(count) == 1 else str(other)


def safe_url(value: Any) -> str:
    """A whole URL from the data as a valid http(s) link: ``https://example.com/?utm=ä b`` ->
    ``https://example.com/?utm=%C3%A4%20b`` (see ``pvideo.scene.urls.normalize_url``)."""
    return normalize_url(str(value))


FILTERS = {"money": money, "number": number, "date": date, "plural": plural, "safe_url": safe_url}


def with_filters(env: _Env) -> _Env:
    """``env`` with the data filters registered (returns it, for one-line use)."""
    env.filters.update(FILTERS)
    return env
