"""Automation and configuration actions: the automation log and ``tblconfiguration`` values."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from billow.api.actions._shared import whmcs_datetime
from billow.api.context import Context
from billow.api.params import Params
from billow.api.registry import Action
from billow.errors import ValidationError
from billow.services.automation_log import automation_log, last_daily_run
from billow.services.settings import get_setting, is_known_setting, set_setting


def get_automation_log(ctx: Context, params: Params) -> dict[str, Any]:
    today = ctx.uow.today
    start = params.date("startdate", today, error="Invalid startdate")
    end = params.date("enddate", today, error="Invalid enddate")
    if end < start:
        raise ValidationError("The end date must be on or after the start date")
    namespace = params.str("namespace")
    stats = automation_log(ctx.uow, start, end, namespace)
    statistics: dict[str, Any] | list[Any] = {
        day.isoformat(): {
            name: {
                "namespace": name,
                "runs": s.runs,
                "status": s.status,
                "processed": s.processed,
                "failed": s.failed,
                "counts": s.counts,
                "failures": s.failures,
                "message": s.message,
                "started": whmcs_datetime(s.first_started),
                "finished": whmcs_datetime(s.last_finished),
            }
            for name, s in tasks.items()
        }
        for day, tasks in stats.items()
    } or []  # PHP's empty array encodes as []
    return {
        "currentDatetime": whmcs_datetime(ctx.uow.now),
        "lastDailyCronInvocationTime": whmcs_datetime(last_daily_run(ctx.uow)),
        "startdate": whmcs_datetime(datetime.combine(start, time(0, 0, 0))),
        "enddate": whmcs_datetime(datetime.combine(end, time(23, 59, 59))),
        "statistics": statistics,
    }


def get_configuration_value(ctx: Context, params: Params) -> dict[str, Any]:
    setting = params.str("setting")
    if not setting:
        raise ValidationError("Parameter setting is required")
    if not is_known_setting(ctx.uow, setting):
        raise ValidationError("Invalid name for parameter setting")
    return {"setting": setting, "value": get_setting(ctx.uow, setting)}


def set_configuration_value(ctx: Context, params: Params) -> dict[str, Any]:
    setting = params.str("setting")
    if not setting:
        raise ValidationError("Parameter setting is required")
    if not is_known_setting(ctx.uow, setting):
        raise ValidationError("Invalid name for parameter setting")
    if not params.has("value"):
        raise ValidationError("Parameter value is required")
    value = params.str("value")  # blank unsets, as WHMCS documents
    changed = get_setting(ctx.uow, setting) != value
    if changed:
        set_setting(ctx.uow, setting, value)
    # WHMCS's documented example answers the flag as a string.
    return {"value_changed": "true" if changed else "false"}


ACTIONS = [
    Action("GetAutomationLog", get_automation_log),
    Action("GetConfigurationValue", get_configuration_value),
    Action("SetConfigurationValue", set_configuration_value),
]
