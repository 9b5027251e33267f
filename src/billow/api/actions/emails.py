"""E-mail actions: GetEmailTemplates, SendEmail, SendAdminEmail, GetEmails.

``SendEmail`` and ``SendAdminEmail`` send over SMTP inside the request, as WHMCS does: the
caller learns whether the mail went out ("Sending Failed. Please see documentation."
otherwise), and the client's e-mail log lists only what was sent. Mail the system sends
on its own (``request_email``) still goes through the outbox and the worker's retries.
"""

from __future__ import annotations

from typing import Any

from billow.api.actions._shared import page, paging, whmcs_datetime
from billow.api.context import Context
from billow.api.params import Params
from billow.api.registry import Action
from billow.errors import ValidationError
from billow.services.mail import email_log, send_now, templates


def get_email_templates(ctx: Context, params: Params) -> dict[str, Any]:
    rows = templates.list_templates(ctx.uow, type_=params.str("type").lower(),
                                language=params.str("language").lower())
    # Strings, as WHMCS's documented example answers this action.
    items = [{"id": str(t.id), "name": t.name, "subject": t.subject, "custom": str(int(t.custom))}
             for t in rows]
    return {"totalresults": str(len(items)), "emailtemplates": {"emailtemplate": items}}


def _custom_vars(params: Params) -> dict[str, Any]:
    if not params.has("customvars"):
        return {}
    try:
        return params.php_array("customvars")
    except ValidationError:
        raise ValidationError("The custom variables you provided are invalid.") from None


def send_email(ctx: Context, params: Params) -> dict[str, Any]:
    name = params.str("messagename")
    customtype = params.str("customtype").lower()
    if not name and not customtype:
        raise ValidationError(
            "You must provide either an existing email template name or a custom message type")
    custom_vars = _custom_vars(params)
    relid = params.int("id", error="A related ID is required")
    if name:
        template = templates.get_template(ctx.uow, name)
        if not relid and template.type != "admin":
            raise ValidationError("A related ID is required")
        send_now.send_template(ctx.uow, template.name, relid, extra=custom_vars)
    else:
        if customtype not in templates.CUSTOM_TYPES:
            raise ValidationError("Invalid message type provided")
        subject, message = params.str("customsubject"), params.str("custommessage")
        if not subject:
            raise ValidationError("A subject is required for a custom message")
        if not message:
            raise ValidationError("A message body is required for a custom message")
        if not relid:
            raise ValidationError("A related ID is required")
        send_now.send_custom(ctx.uow, customtype, relid, subject, message, custom_vars)
    return {}


def send_admin_email(ctx: Context, params: Params) -> dict[str, Any]:
    send_now.send_admin(
        ctx.uow, messagename=params.str("messagename"), subject=params.str("customsubject"),
        message=params.str("custommessage"), type_=params.str("type", "system").lower(),
        merge=params.dict("mergefields") or _merge_fields(params),
        department_id=params.int("deptid"),
    )
    return {}


def _merge_fields(params: Params) -> dict[str, Any]:
    if not params.has("mergefields"):
        return {}
    try:
        return params.php_array("mergefields")
    except ValidationError:
        raise ValidationError("The merge fields you provided are invalid.") from None


def get_emails(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    total, rows = email_log.list_client_emails(
        ctx.uow, params.int("clientid", error="Client ID Not Found"),
        on_date=params.date("date", error="Invalid date"), subject=params.str("subject"),
        offset=start, limit=limit,
    )
    items = [
        {
            "id": m.id, "userid": m.userid, "subject": m.subject, "message": m.message,
            "date": whmcs_datetime(m.date), "to": m.to, "cc": m.cc, "bcc": m.bcc,
            "attachments": [a.get("filename") or f"{a.get('kind')}-{a.get('id')}.pdf"
                            for a in m.attachments] or None,
            "pending": int(m.pending), "message_data": None, "failed": int(m.failed),
            "failure_reason": m.failure_reason, "retry_count": m.retry_count,
            "created_at": None, "updated_at": None, "campaign_id": 0,
        }
        for m in rows
    ]
    return page(total, start, "emails", "email", items)


ACTIONS = [
    Action("GetEmailTemplates", get_email_templates),
    Action("SendEmail", send_email),
    Action("SendAdminEmail", send_admin_email),
    Action("GetEmails", get_emails),
]
