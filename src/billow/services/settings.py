"""Business settings by WHMCS key (``tblconfiguration``), with their defaults in one table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from billow.db.models import Setting
from billow.services.extension import ExtensionPoint
from billow.uow import UnitOfWork

#: WHMCS setting keys Billow reads, with the default WHMCS ships.
DEFAULTS: dict[str, str] = {
    "CompanyName": "Billow Hosting",
    "Email": "billing@example.com",
    "SystemURL": "http://127.0.0.1:8000/",
    "Language": "english",
    "DefaultCountry": "US",
    "AllowClientRegister": "on",
    "TaxEnabled": "",
    "InvoiceIncrement": "1",
    "ClientsProfileOptionalFields": "",
    "ClientDisplayFormat": "1",
    # --- the automation run (reference.md §3.2); values as WHMCS stores them ---------
    #: Hour of the day (0-23, billing time zone) from which the daily tasks run.
    "DailyCronExecutionHour": "9",
    "AutoSuspension": "on",
    "AutoSuspensionDays": "5",
    "AutoUnsuspend": "on",
    #: Attach the PDF to invoice e-mails (WHMCS ships it on).
    "EnablePDFInvoices": "on",
    "AutoTermination": "",
    "AutoTerminationDays": "30",
    "CreateInvoiceDaysBefore": "14",
    #: Per-cycle lead times; blank means ``CreateInvoiceDaysBefore``.
    "CreateInvoiceDaysBeforeMonthly": "",
    "CreateInvoiceDaysBeforeQuarterly": "",
    "CreateInvoiceDaysBeforeSemiAnnually": "",
    "CreateInvoiceDaysBeforeAnnually": "",
    "CreateInvoiceDaysBeforeBiennially": "",
    "CreateInvoiceDaysBeforeTriennially": "",
    #: Domain renewals' lead time; blank means ``CreateInvoiceDaysBefore``.
    "CreateDomainInvoiceDaysBefore": "",
    "ContinuousInvoiceGeneration": "",
    "SendReminder": "on",
    "SendInvoiceReminderDays": "7",
    "SendFirstOverdueInvoiceReminder": "1",
    "SendSecondOverdueInvoiceReminder": "5",
    "SendThirdOverdueInvoiceReminder": "0",
    "AddLateFeeDays": "5",
    "InvoiceLateFeeAmount": "10.00",
    #: ``Percentage`` or ``Fixed Amount``.
    "LateFeeType": "Percentage",
    "LateFeeMinimum": "0.00",
    "CCProcessDaysBefore": "0",
    "CCAttemptOnlyOnce": "",
    "CCRetryEveryWeekFor": "0",
    "CCDaySendExpiryNotices": "25",
    "AutoCancellationRequests": "on",
    #: Days after which unpaid Pending orders are cancelled; 0 disables.
    "OrderDaysGrace": "0",
    #: 1: never change client status; 2: Inactive when nothing active remains.
    "AutoClientStatusChange": "2",
    "UpdateStatsAuto": "on",
    "CloseInactiveTickets": "0",
    #: Billow: days API and module log rows are kept (0 keeps them for ever).
    "LogRetentionDays": "90",
    #: Billow: drain the outbox (webhooks, e-mail) at the end of every automation run.
    "CronDeliverOutbox": "on",
    #: Overage charges, worked out on the last day of the month: 1 invoiced on the day on
    #: their own invoice, 2 added to the client's next invoice.
    "OverageBillingMethod": "1",
    #: Daily exchange-rate update from the ECB feed (``BILLOW_EXCHANGE_RATES_URL``).
    "CurrencyAutoUpdateExchangeRates": "on",
    #: Daily recomputation of other currencies' prices from the default's and the rates.
    "CurrencyAutoUpdateProductPrices": "",
}


#: Other areas' default tables, registered by :mod:`billow.bootstrap` and consulted after
#: :data:`DEFAULTS`, so every key an area reads has one default and
#: ``GetConfigurationValue`` knows it.
AREA_DEFAULTS: ExtensionPoint[Callable[[], Mapping[str, str]]] = ExtensionPoint("settings defaults")


def known_defaults() -> dict[str, str]:
    """Every setting key with a default: the foundation's and the areas' tables merged."""
    merged: dict[str, str] = {}
    for table in AREA_DEFAULTS:
        merged.update(table())
    merged.update(DEFAULTS)
    return merged


def _cache(uow: UnitOfWork) -> dict[str, str]:
    """Values read in this transaction: a setting is one query per unit of work, not per read.

    The daily run reads the same keys for every client it invoices; a missing row cannot
    be found in the identity map, so without this each read would be a query (and an
    autoflush). :func:`set_setting` writes through it.
    """
    return uow.session.info.setdefault("billow_settings", {})


def get_setting(uow: UnitOfWork, key: str) -> str:
    cache = _cache(uow)
    if key in cache:
        return cache[key]
    row = uow.session.get(Setting, key)
    if row is not None:
        value = row.value
    elif key in DEFAULTS:
        value = DEFAULTS[key]
    else:
        value = known_defaults().get(key, "")
    cache[key] = value
    return value


def set_setting(uow: UnitOfWork, key: str, value: str) -> None:
    row = uow.session.get(Setting, key)
    if row is None:
        uow.session.add(Setting(key=key, value=value))
    else:
        row.value = value
    _cache(uow)[key] = value


def all_settings(uow: UnitOfWork) -> dict[str, str]:
    values = known_defaults()
    values.update({s.key: s.value for s in uow.session.scalars(select(Setting))})
    return values


def setting_on(uow: UnitOfWork, key: str) -> bool:
    """Read a WHMCS checkbox setting (``on``/``1``/``yes`` are on, anything else off)."""
    return get_setting(uow, key).strip().lower() in {"on", "1", "yes", "true"}


def setting_int(uow: UnitOfWork, key: str, default: int = 0) -> int:
    """Read a whole-number setting; blank or unreadable values give *default*."""
    text = get_setting(uow, key).strip()
    try:
        return int(text) if text else default
    except ValueError:
        return default


def setting_decimal(uow: UnitOfWork, key: str, default: Decimal = Decimal(0)) -> Decimal:
    """Read an amount setting; blank or unreadable values give *default*."""
    text = get_setting(uow, key).strip()
    try:
        return Decimal(text) if text else default
    except InvalidOperation:
        return default


def is_known_setting(uow: UnitOfWork, key: str) -> bool:
    """True when *key* is a setting Billow knows (a default exists or a value is stored).

    ``GetConfigurationValue``/``SetConfigurationValue`` refuse other names with WHMCS's
    "Invalid name for parameter setting".
    """
    return key in known_defaults() or uow.session.get(Setting, key) is not None
