"""System actions: version, currencies, the activity log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from billow import WHMCS_COMPAT_VERSION
from billow.api.actions._shared import paging, whmcs_datetime
from billow.api.context import Context
from billow.api.params import Params
from billow.api.registry import Action
from billow.db.models import Currency
from billow.errors import ValidationError
from billow.money import fmt
from billow.services.activity import list_activity, log_activity


def whmcs_details(ctx: Context, params: Params) -> dict[str, Any]:
    return {"whmcs": {"version": WHMCS_COMPAT_VERSION,
                      "canonicalversion": f"{WHMCS_COMPAT_VERSION}-release.1"}}


def get_currencies(ctx: Context, params: Params) -> dict[str, Any]:
    rows = ctx.session.scalars(select(Currency).order_by(Currency.id)).all()
    items = [
        {"id": str(c.id), "code": c.code, "prefix": c.prefix, "suffix": c.suffix,
         "format": str(c.format), "rate": fmt(c.rate, 5)}
        for c in rows
    ]
    # Every value is a string in WHMCS's answer, the count included.
    return {"totalresults": str(len(items)), "currencies": {"currency": items}}


def get_activity_log(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    total, rows = list_activity(
        ctx.uow,
        client_id=params.int("clientid") or params.int("userid") or None,
        date_from=params.date("date", error="Invalid date"),
        user=params.str("user"),
        description=params.str("description"),
        ipaddress=params.str("ipaddress"),
        offset=start,
        limit=limit,
    )
    entries = [
        {"id": r.id, "clientId": r.userid, "adminId": r.admin_id, "userId": r.user_id,
         "userid": r.userid, "date": whmcs_datetime(r.date), "description": r.description,
         "username": r.user, "ipaddress": r.ipaddr}
        for r in rows
    ]
    return {"totalresults": total, "startnumber": start, "activity": {"entry": entries}}


def log_activity_action(ctx: Context, params: Params) -> dict[str, Any]:
    description = params.str("description")
    if not description:
        raise ValidationError("Description is required")
    log_activity(ctx.uow, description, client_id=params.int("clientid"))
    return {}


ACTIONS = [
    Action("WhmcsDetails", whmcs_details),
    Action("GetCurrencies", get_currencies),
    Action("GetActivityLog", get_activity_log),
    Action("LogActivity", log_activity_action),
]
