"""Business settings by WHMCS key (``tblconfiguration``), with their defaults in one table."""

from __future__ import annotations

from sqlalchemy import select

from billow.db.models import Setting
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
}


def get_setting(uow: UnitOfWork, key: str) -> str:
    row = uow.session.get(Setting, key)
    if row is not None:
        return row.value
    return DEFAULTS.get(key, "")


def set_setting(uow: UnitOfWork, key: str, value: str) -> None:
    row = uow.session.get(Setting, key)
    if row is None:
        uow.session.add(Setting(key=key, value=value))
    else:
        row.value = value


def all_settings(uow: UnitOfWork) -> dict[str, str]:
    values = dict(DEFAULTS)
    values.update({s.key: s.value for s in uow.session.scalars(select(Setting))})
    return values
