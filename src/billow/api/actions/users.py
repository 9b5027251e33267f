"""User (login) actions of WHMCS 8: users are separate from the clients they reach."""

from __future__ import annotations

from typing import Any

from billow.api.actions._shared import page, paging, whmcs_datetime
from billow.api.context import Context
from billow.api.params import Params
from billow.api.registry import Action
from billow.services.clients import users as svc


def add_user(ctx: Context, params: Params) -> dict[str, Any]:
    user = svc.add_user(
        ctx.uow, params.str("firstname"), params.str("lastname"), params.str("email"),
        params.str("password2"), params.str("language"),
    )
    return {"user_id": str(user.id)}


def get_users(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    total, rows = svc.list_users(
        ctx.uow, params.str("search"), params.str("sorting").upper() == "DESC", start, limit
    )
    items = [
        {"id": u.id, "firstname": u.firstname, "lastname": u.lastname, "email": u.email,
         "datecreated": whmcs_datetime(u.created_at), "validationdata": "",
         "clients": [{"id": link.client_id, "isOwner": bool(link.owner)} for link in links]}
        for u, links in rows
    ]
    return page(total, start, "users", None, items)


def update_user(ctx: Context, params: Params) -> dict[str, Any]:
    changes = {k: params.str(k) for k in ("firstname", "lastname", "email", "language")
               if params.str(k)}
    user = svc.update_user(ctx.uow, params.int("user_id"), changes)
    return {"user_id": str(user.id)}


def reset_password(ctx: Context, params: Params) -> dict[str, Any]:
    svc.request_password_reset(ctx.uow, params.int("id"), params.str("email"))
    return {}


def validate_login(ctx: Context, params: Params) -> dict[str, Any]:
    user = svc.validate_login(ctx.uow, params.str("email"), params.str("password2"))
    return {
        "userid": str(user.id),
        "passwordhash": svc.login_session_hash(user),
        "twoFactorEnabled": "false",
    }


ACTIONS = [
    Action("AddUser", add_user),
    Action("GetUsers", get_users),
    Action("UpdateUser", update_user),
    Action("ResetPassword", reset_password),
    Action("ValidateLogin", validate_login),
]
