"""Taxes, in one place: which rates apply to a client, and how much tax a set of lines bears.

Two questions, two functions:

* :func:`rates_for_client` decides the level-1 and level-2 rates for a client from the
  tax rules (country and state, as WHMCS's ``getTaxRate`` matches them: state, then
  country, then the catch-all rule), the client's exemption, and — in EU VAT mode — the
  VAT number (python-stdnum format and checksum, optionally the VIES register), reverse
  charge for a valid business number in another member state, and the seller's or the
  customer's country rate for consumers (One-Stop Shop) as configured.
* :func:`compute` turns line amounts and rates into subtotal, tax and tax2: exclusive or
  inclusive prices, level 2 simple or compound, rounded per line or on the total, and
  quantised to the currency's decimals.

Settings (:mod:`billow.services.billing.settings`): ``TaxEnabled``, ``TaxType``,
``TaxL2Compound``, ``TaxPerLineItem``, ``TaxEUVATMode``, ``TaxEUHomeCountry``,
``TaxEUHomeCountryNoExempt``, ``TaxEUOSS``, ``TaxEUVIESCheck``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

from billow.db.models import Client, TaxRule
from billow.money import ZERO, quantize
from billow.services.settings import get_setting, setting_on
from billow.uow import UnitOfWork

log = logging.getLogger("billow.tax")

HUNDRED = Decimal(100)
#: VAT prefixes that are not the ISO country code.
_VAT_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}
EU_COUNTRIES = frozenset(
    _VAT_PREFIX_COUNTRY.get(code.upper(), code.upper()) for code in eu_vat.MEMBER_STATES
    if code != "xi"
)


@dataclass(frozen=True)
class TaxRates:
    """The rates an invoice for a client carries, and why."""

    rate1: Decimal = ZERO
    rate2: Decimal = ZERO
    name1: str = ""
    name2: str = ""
    #: EU B2B supply to another member state: no VAT, the customer accounts for it.
    reverse_charge: bool = False
    #: The client is tax exempt (flag, or a business number in EU mode without VAT due).
    exempt: bool = False


@dataclass(frozen=True)
class VatCheck:
    valid: bool
    #: ISO country of the number ("GR" for an "EL..." number), "" when unreadable.
    country: str = ""
    number: str = ""


@dataclass(frozen=True)
class TaxTotals:
    subtotal: Decimal
    tax1: Decimal
    tax2: Decimal

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax1 + self.tax2


def check_vat_number(number: str, *, vies: bool = False, timeout: float = 10) -> VatCheck:
    """Validate an EU VAT number's format and checksum (and, with *vies*, its registration).

    A VIES outage does not turn a well-formed number invalid: the failure is logged and
    the format check decides, so invoicing never stops because a remote service is down.
    """
    text = (number or "").strip()
    if not text:
        return VatCheck(False)
    try:
        compact = eu_vat.validate(text)
    except StdnumError:
        return VatCheck(False, number=text)
    prefix = compact[:2].upper()
    country = _VAT_PREFIX_COUNTRY.get(prefix, prefix)
    if vies:
        try:
            answer = eu_vat.check_vies(compact, timeout=timeout)
        except Exception:  # noqa: BLE001 - network, SOAP fault: fall back to the format check
            log.warning("VIES check of %s failed; using the format check", compact, exc_info=True)
        else:
            if not answer.get("valid"):
                return VatCheck(False, country, compact)
    return VatCheck(True, country, compact)


def rule_rate(uow: UnitOfWork, level: int, country: str, state: str = "") -> tuple[Decimal, str]:
    """The rate of *level* for a place: exact state, then country-wide, then catch-all."""
    country, state = (country or "").upper(), (state or "").strip()
    rules = uow.session.scalars(
        select(TaxRule).where(TaxRule.level == level, TaxRule.country.in_([country, ""]))
    ).all()
    for want_country, want_state in ((country, state), (country, ""), ("", "")):
        for rule in rules:
            if rule.country.upper() == want_country and rule.state.strip().lower() == want_state.lower():
                return rule.taxrate, rule.name or "Tax"
    return ZERO, ""


def home_country(uow: UnitOfWork) -> str:
    return (get_setting(uow, "TaxEUHomeCountry") or get_setting(uow, "DefaultCountry") or "").upper()


def rates_for_client(uow: UnitOfWork, client: Client) -> TaxRates:
    """Decide the tax rates for *client*'s next invoice (zero when tax is off or exempt)."""
    if not setting_on(uow, "TaxEnabled"):
        return TaxRates()
    if client.taxexempt:
        return TaxRates(exempt=True)
    country, state = (client.country or "").upper(), client.state or ""
    if not setting_on(uow, "TaxEUVATMode"):
        return _rates_at(uow, country, state)
    home = home_country(uow)
    if country not in EU_COUNTRIES:
        # Supplies to customers outside the EU carry no EU VAT.
        return TaxRates(exempt=True) if home in EU_COUNTRIES else _rates_at(uow, country, state)
    check = check_vat_number(client.tax_id, vies=setting_on(uow, "TaxEUVIESCheck"))
    if check.valid and check.country in EU_COUNTRIES:
        if check.country != home and country != home:
            return TaxRates(reverse_charge=True, exempt=True)
        if not setting_on(uow, "TaxEUHomeCountryNoExempt"):
            return TaxRates(exempt=True)
        return _rates_at(uow, home, "")
    if country == home or not setting_on(uow, "TaxEUOSS"):
        return _rates_at(uow, home, "" if country != home else state)
    return _rates_at(uow, country, state)


def _rates_at(uow: UnitOfWork, country: str, state: str) -> TaxRates:
    rate1, name1 = rule_rate(uow, 1, country, state)
    rate2, name2 = rule_rate(uow, 2, country, state)
    return TaxRates(rate1, rate2, name1, name2)


@dataclass(frozen=True)
class TaxMode:
    inclusive: bool = False
    compound: bool = False
    per_line: bool = False


def tax_mode(uow: UnitOfWork) -> TaxMode:
    return TaxMode(
        inclusive=get_setting(uow, "TaxType").strip().lower() == "inclusive",
        compound=setting_on(uow, "TaxL2Compound"),
        per_line=setting_on(uow, "TaxPerLineItem"),
    )


def _split(amount: Decimal, r1: Decimal, r2: Decimal, mode: TaxMode) -> tuple[Decimal, Decimal]:
    """Unrounded (tax1, tax2) for one taxed amount."""
    if mode.inclusive:
        if mode.compound:
            base = amount / ((1 + r1) * (1 + r2))
            tax1 = base * r1
            return tax1, (base + tax1) * r2
        base = amount / (1 + r1 + r2)
        return base * r1, base * r2
    tax1 = amount * r1
    return tax1, ((amount + tax1) if mode.compound else amount) * r2


def compute(
    lines: Iterable[tuple[Decimal, bool]],
    rate1: Decimal,
    rate2: Decimal,
    mode: TaxMode,
    places: int = 2,
) -> TaxTotals:
    """Subtotal, tax and tax2 of *lines* (amount, taxed) at percentage rates, quantised.

    Exclusive prices: the subtotal is the sum of the lines and tax is added on top.
    Inclusive prices: the lines already contain the tax, so the total is their sum and
    the subtotal is what is left after taking the tax out.
    """
    lines = list(lines)
    r1, r2 = rate1 / HUNDRED, rate2 / HUNDRED
    gross = sum((quantize(a, places) for a, _ in lines), ZERO)
    taxed = [quantize(a, places) for a, t in lines if t]
    if mode.per_line:
        tax1 = tax2 = ZERO
        for amount in taxed:
            t1, t2 = _split(amount, r1, r2, mode)
            tax1 += quantize(t1, places)
            tax2 += quantize(t2, places)
    else:
        t1, t2 = _split(sum(taxed, ZERO), r1, r2, mode)
        tax1, tax2 = quantize(t1, places), quantize(t2, places)
    subtotal = gross - tax1 - tax2 if mode.inclusive else gross
    return TaxTotals(subtotal, tax1, tax2)
