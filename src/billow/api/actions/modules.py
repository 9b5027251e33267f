"""Module actions: the module queue and activation/configuration of modules by type."""

from __future__ import annotations

from typing import Any

from billow.api.actions._shared import whmcs_datetime
from billow.api.context import Context
from billow.api.params import Params, parse_utc_datetime
from billow.api.registry import Action
from billow.services.hosting import module_queue, module_settings


def get_module_queue(ctx: Context, params: Params) -> dict[str, Any]:
    since = None
    if params.str("since"):
        since = parse_utc_datetime(params.str("since"), "Invalid since date")
    entries = module_queue.list_queue(
        ctx.uow,
        service_type=params.str("serviceType"),
        related_id=params.int("relatedId"),
        module=params.str("moduleName"),
        action=params.str("moduleAction"),
        since=since,
    )
    queue = [
        {
            "id": str(e.id),
            "serviceType": e.service_type,
            "serviceId": str(e.service_id),
            "moduleName": e.module_name,
            "moduleAction": e.module_action,
            "lastAttempt": whmcs_datetime(e.last_attempt),
            "lastAttemptError": e.last_attempt_error,
            "numRetries": str(e.num_retries),
            "completed": "1" if e.completed else "0",
            "createdAt": whmcs_datetime(e.created_at),
            "updatedAt": whmcs_datetime(e.updated_at),
        }
        for e in entries
    ]
    return {"count": str(len(queue)), "queue": queue}


def _parameters(params: Params) -> dict[str, Any]:
    return {str(k): v for k, v in params.dict("parameters").items()}


def get_module_configuration_parameters(ctx: Context, params: Params) -> dict[str, Any]:
    fields = module_settings.config_fields(params.str("moduleType"), params.str("moduleName"))
    return {
        "parameters": [
            {"name": f.name, "displayName": f.description or f.name, "fieldType": f.type} for f in fields
        ]
    }


def activate_module(ctx: Context, params: Params) -> dict[str, Any]:
    module_settings.activate(ctx.uow, params.str("moduleType"), params.str("moduleName"), _parameters(params))
    return {}


def deactivate_module(ctx: Context, params: Params) -> dict[str, Any]:
    module_settings.deactivate(ctx.uow, params.str("moduleType"), params.str("moduleName"))
    return {}


def update_module_configuration(ctx: Context, params: Params) -> dict[str, Any]:
    module_settings.update(ctx.uow, params.str("moduleType"), params.str("moduleName"), _parameters(params))
    return {}


ACTIONS = [
    Action("GetModuleQueue", get_module_queue),
    Action("GetModuleConfigurationParameters", get_module_configuration_parameters),
    Action("ActivateModule", activate_module),
    Action("DeactivateModule", deactivate_module),
    Action("UpdateModuleConfiguration", update_module_configuration),
]
