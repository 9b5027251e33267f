"""Money for human eyes: amounts formatted with Babel in the reader's locale.

The wire keeps WHMCS's plain strings (``"15.95"``, see :func:`billow.money.fmt`); what a
person reads (PDF invoices, e-mails, pages) goes through :func:`format_amount`, which uses
the currency's own number of decimals and the locale's symbols and grouping.
"""

from __future__ import annotations

import copy
from decimal import Decimal

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency

from billow.db.models import Currency
from billow.money import quantize

#: WHMCS language names (client ``language``) to Babel locales.
LANGUAGE_LOCALES = {
    "": "en_US", "english": "en_US", "german": "de_DE", "french": "fr_FR", "spanish": "es_ES",
    "italian": "it_IT", "dutch": "nl_NL", "portuguese-pt": "pt_PT", "portuguese-br": "pt_BR",
    "swedish": "sv_SE", "danish": "da_DK", "norwegian": "nb_NO", "polish": "pl_PL",
    "czech": "cs_CZ", "hungarian": "hu_HU", "russian": "ru_RU", "turkish": "tr_TR",
    "japanese": "ja_JP", "chinese": "zh_CN", "arabic": "ar", "hebrew": "he_IL",
}


def locale_for(language: str) -> str:
    """The Babel locale for a WHMCS language name (or a locale given directly)."""
    name = (language or "").strip()
    if name.lower() in LANGUAGE_LOCALES:
        return LANGUAGE_LOCALES[name.lower()]
    try:
        return str(Locale.parse(name.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        return "en_US"


def format_amount(amount: Decimal, currency: Currency | None, locale: str = "en_US") -> str:
    """``$1,234.50`` / ``1.234,50 €``: the locale's layout, the currency's decimals."""
    places = currency.decimals if currency is not None else 2
    code = currency.code if currency is not None else "USD"
    pattern = copy.copy(Locale.parse(locale).currency_formats["standard"])
    pattern.frac_prec = (places, places)
    return format_currency(quantize(amount, places), code, format=pattern, locale=locale,
                           currency_digits=False)


def format_day(day: object, locale: str = "en_US") -> str:
    """A billing date written out for the reader (``Mar 1, 2026`` / ``01.03.2026``)."""
    return format_date(day, format="medium", locale=locale) if day else ""
