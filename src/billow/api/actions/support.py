"""Support and ticket actions in WHMCS's exact shapes (``tickets.ticket[]``, ``replies.reply[]`` ...).

Ids in these answers are strings, as in WHMCS's examples; counts in the paging envelope are
integers. The opening message of a ticket is reply ``"0"`` in ``GetTicket``.
"""

from __future__ import annotations

import base64
from typing import Any

from billow.api.actions._shared import page, paging, whmcs_datetime
from billow.api.context import Context
from billow.api.params import Params
from billow.api.registry import Action
from billow.db.models import (
    Client,
    Contact,
    Ticket,
    TicketAttachment,
    TicketNote,
    TicketReply,
    User,
    UserClient,
)
from billow.errors import NotFound, ValidationError
from billow.services.support import (
    blocklist,
    changes,
    departments,
    lookup,
    merge,
    predefined_replies,
    queries,
    ticket_attachments,
)
from billow.services.support import opening as ticket_opening
from billow.services.support import replies as ticket_replies
from billow.services.support.attachment_files import decode_whmcs_attachments


def _attachments(params: Params) -> list[Any]:
    value = params.get("attachments")
    return decode_whmcs_attachments(value)


def _custom_fields(params: Params) -> dict[str, str]:
    return {str(k): str(v) for k, v in params.php_array("customfields").items()}


def _attachment_fields(rows: list[TicketAttachment]) -> dict[str, Any]:
    return {
        "attachment": "|".join(r.stored_name for r in rows),
        "attachments": [{"filename": r.filename, "index": r.position} for r in rows],
        "attachments_removed": any(r.removed for r in rows),
    }


class _People:
    """Looks up clients/contacts once per answer and names requestors as WHMCS does."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.clients: dict[int, Client | None] = {}

    def client(self, client_id: int | None) -> Client | None:
        if not client_id:
            return None
        if client_id not in self.clients:
            self.clients[client_id] = self.ctx.session.get(Client, client_id)
        return self.clients[client_id]

    def requestor(
        self, client_id: int | None, contact_id: int, user_id: int, name: str, email: str
    ) -> tuple[str, str, str]:
        client = self.client(client_id)
        if client is None:
            return name, email, "Guest"
        if contact_id:
            contact = self.ctx.session.get(Contact, contact_id)
            if contact is not None:
                return f"{contact.firstname} {contact.lastname}".strip(), contact.email, "Sub-Account"
        if user_id and user_id != (client.owner_user_id or 0):
            link = self.ctx.session.get(UserClient, (user_id, client.id))
            if link is not None and not link.owner:
                user = self.ctx.session.get(User, user_id)
                if user is not None:
                    return f"{user.firstname} {user.lastname}".strip(), user.email, "Authorized User"
        return client.fullname, client.email, "Owner"


def _service(ticket: Ticket) -> str:
    if ticket.service_id:
        return f"S{ticket.service_id}"
    if ticket.domain_id:
        return f"D{ticket.domain_id}"
    return ""


def _ticket_summary(
    ctx: Context, people: _People, ticket: Ticket, attachments: list[TicketAttachment]
) -> dict[str, Any]:
    client = people.client(ticket.client_id)
    req_name, req_email, req_type = people.requestor(
        ticket.client_id, ticket.contact_id, ticket.requestor_user_id, ticket.name, ticket.email
    )
    return {
        "id": str(ticket.id),
        "tid": ticket.tid,
        "deptid": str(ticket.department_id),
        "userid": str(ticket.client_id or 0),
        "name": client.fullname if client else ticket.name,
        "owner_name": client.fullname if client else "",
        "email": client.email if client else ticket.email,
        "requestor_name": req_name,
        "requestor_email": req_email,
        "requestor_type": req_type,
        "cc": ticket.cc,
        "c": ticket.c,
        "date": whmcs_datetime(ticket.date),
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "admin": ticket.admin,
        **_attachment_fields(attachments),
        "lastreply": whmcs_datetime(ticket.last_reply),
        "flag": str(ticket.flag),
        "service": _service(ticket),
    }


# --- actions ----------------------------------------------------------------------------


def open_ticket(ctx: Context, params: Params) -> dict[str, Any]:
    prevent = params.opt_bool("preventClientClosure")
    ticket = ticket_opening.open_ticket(
        ctx.uow,
        ticket_opening.NewTicket(
            department_id=params.int("deptid"),
            subject=params.str("subject"),
            message=params.str("message"),
            client_id=params.int("clientid"),
            user_id=params.int("userid"),
            contact_id=params.int("contactid"),
            name=params.str("name"),
            email=params.str("email"),
            priority=params.str("priority") or "Medium",
            created=params.str("created"),
            service_id=params.int("serviceid"),
            domain_id=params.int("domainid"),
            admin=params.bool("admin"),
            markdown=params.bool("markdown"),
            custom_fields=_custom_fields(params),
            attachments=_attachments(params),
            prevent_client_closure=prevent,
            notify=not params.bool("noemail"),
        ),
    )
    return {"id": str(ticket.id), "tid": ticket.tid, "c": ticket.c}


def add_ticket_reply(ctx: Context, params: Params) -> dict[str, Any]:
    ticket_replies.add_reply(
        ctx.uow,
        ticket_replies.NewReply(
            ticket_id=params.int("ticketid"),
            message=params.str("message"),
            client_id=params.int("clientid"),
            contact_id=params.int("contactid"),
            admin_username=params.str("adminusername"),
            name=params.str("name"),
            email=params.str("email"),
            status=params.str("status"),
            markdown=params.bool("markdown"),
            created=params.str("created"),
            custom_fields=_custom_fields(params),
            attachments=_attachments(params),
            notify=not params.bool("noemail"),
        ),
    )
    return {}


def add_ticket_note(ctx: Context, params: Params) -> dict[str, Any]:
    if not params.int("ticketid") and not params.str("ticketnum"):
        raise NotFound("Ticket ID not found")
    ticket_replies.add_note(
        ctx.uow,
        params.str("message"),
        ticket_id=params.int("ticketid"),
        tid=params.str("ticketnum"),
        markdown=params.bool("markdown"),
        created=params.str("created"),
        attachments=_attachments(params),
    )
    return {}


def get_tickets(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    total, rows = queries.list_tickets(
        ctx.uow,
        queries.TicketFilter(
            department_id=params.int("deptid"),
            client_id=params.int("clientid"),
            email=params.str("email"),
            status=params.str("status"),
            subject=params.str("subject"),
        ),
        offset=start,
        limit=limit,
    )
    people = _People(ctx)
    files = ticket_attachments.attachments_of(ctx.uow, "ticket", [t.id for t in rows])
    items = [_ticket_summary(ctx, people, t, files[t.id]) for t in rows]
    return page(total, start, "tickets", "ticket", items)


def get_ticket(ctx: Context, params: Params) -> dict[str, Any]:
    if not params.int("ticketid") and not params.str("ticketnum"):
        raise ValidationError("Ticket ID not found")
    ticket = lookup.get_ticket(ctx.uow, params.int("ticketid"), params.str("ticketnum"), follow_merge=True)
    descending = params.str("repliessort").upper() == "DESC"
    people = _People(ctx)
    summary = _ticket_summary(
        ctx, people, ticket, ticket_attachments.attachments_of(ctx.uow, "ticket", [ticket.id])[ticket.id]
    )
    replies = queries.replies_of(ctx.uow, ticket, descending=descending)
    files = ticket_attachments.attachments_of(ctx.uow, "reply", [r.id for r in replies])
    opening = {
        "replyid": "0",
        "userid": str(ticket.client_id or 0),
        "contactid": str(ticket.contact_id),
        "name": summary["name"],
        "email": summary["email"],
        "requestor_name": summary["requestor_name"],
        "requestor_email": summary["requestor_email"],
        "requestor_type": summary["requestor_type"],
        "date": summary["date"],
        "message": ticket.message,
        "attachment": summary["attachment"],
        "attachments": summary["attachments"],
        "attachments_removed": summary["attachments_removed"],
        "admin": ticket.admin,
    }
    if ticket.admin:
        opening.update(requestor_name=ticket.admin, requestor_email="", requestor_type="Operator")
    reply_items = [_reply(ctx, people, r, files[r.id]) for r in replies]
    reply_items = [*reply_items, opening] if descending else [opening, *reply_items]
    notes = queries.notes_of(ctx.uow, ticket)
    note_files = ticket_attachments.attachments_of(ctx.uow, "note", [n.id for n in notes])
    return {
        "ticketid": str(ticket.id),
        "tid": ticket.tid,
        "c": ticket.c,
        "deptid": str(ticket.department_id),
        "deptname": departments.get_department(ctx.uow, ticket.department_id).name,
        "userid": str(ticket.client_id or 0),
        "contactid": str(ticket.contact_id),
        "name": summary["name"],
        "email": summary["email"],
        "requestor_name": summary["requestor_name"],
        "requestor_type": summary["requestor_type"],
        "requestor_email": summary["requestor_email"],
        "cc": ticket.cc,
        "date": summary["date"],
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "admin": ticket.admin,
        "lastreply": summary["lastreply"],
        "flag": str(ticket.flag),
        "service": summary["service"],
        "replies": {"reply": reply_items},
        "notes": {"note": [_note(n, note_files[n.id], key="noteid") for n in notes]},
    }


def _reply(
    ctx: Context, people: _People, reply: TicketReply, files: list[TicketAttachment]
) -> dict[str, Any]:
    if reply.admin:
        req = (reply.admin, "", "Operator")
        userid = "0"
    else:
        req = people.requestor(
            reply.client_id or None, reply.contact_id, reply.requestor_user_id, reply.name, reply.email
        )
        userid = str(reply.client_id)
    return {
        "replyid": str(reply.id),
        "userid": userid,
        "contactid": str(reply.contact_id),
        "name": reply.name,
        "email": reply.email,
        "requestor_name": req[0],
        "requestor_email": req[1],
        "requestor_type": req[2],
        "date": whmcs_datetime(reply.date),
        "message": reply.message,
        **_attachment_fields(files),
        "admin": reply.admin,
        "rating": str(reply.rating),
    }


def _note(note: TicketNote, files: list[TicketAttachment], *, key: str) -> dict[str, Any]:
    return {
        key: str(note.id),
        "date": whmcs_datetime(note.date),
        "message": note.message,
        **_attachment_fields(files),
        "admin": note.admin,
    }


def get_ticket_notes(ctx: Context, params: Params) -> dict[str, Any]:
    ticket = lookup.get_ticket(ctx.uow, params.int("ticketid"))
    notes = queries.notes_of(ctx.uow, ticket)
    files = ticket_attachments.attachments_of(ctx.uow, "note", [n.id for n in notes])
    items = []
    for note in notes:
        item = _note(note, files[note.id], key="id")
        item.pop("attachments")
        items.append(item)
    return {"totalresults": len(items), "notes": {"note": items}}


def get_ticket_counts(ctx: Context, params: Params) -> dict[str, Any]:
    counts = queries.ticket_counts(ctx.uow)
    data: dict[str, Any] = {
        "filteredDepartments": counts.departments,
        "allActive": counts.all_active,
        "awaitingReply": counts.awaiting_reply,
        "flaggedTickets": counts.flagged,
    }
    if params.bool("includeCountsByStatus"):
        data["status"] = {
            "".join(ch for ch in s.title.lower() if ch.isalnum()): {"title": s.title, "count": n}
            for s, n in counts.by_status
        }
    return data


def get_ticket_attachment(ctx: Context, params: Params) -> dict[str, Any]:
    if not params.int("relatedid"):
        raise ValidationError("Related ID Required")
    kind = params.str("type").lower()
    if kind not in ("ticket", "reply", "note"):
        raise ValidationError("Invalid Type. Must be one of ticket, reply, note")
    if params.str("index") == "":
        raise ValidationError("Attachment Index Required")
    filename, data = ticket_attachments.get_attachment(
        ctx.uow, kind, params.int("relatedid"), params.int("index", error="Invalid Attachment Index")
    )
    return {"filename": filename, "data": base64.b64encode(data).decode()}


def update_ticket(ctx: Context, params: Params) -> dict[str, Any]:
    def opt(key: str) -> str | None:
        return params.str(key) if params.has(key) else None

    flag = params.int("flag") if params.has("flag") else None
    ticket = changes.update_ticket(
        ctx.uow,
        params.int("ticketid"),
        changes.TicketChanges(
            department_id=params.int("deptid") or None,
            status=opt("status") or None,
            subject=opt("subject"),
            client_id=params.int("userid") or None,
            name=opt("name"),
            email=opt("email") or None,
            cc=opt("cc"),
            priority=opt("priority") or None,
            created=opt("created"),
            flag=flag,
            remove_flag=params.bool("removeFlag") or (flag == 0 and params.has("flag")),
            message=opt("message"),
            markdown=params.opt_bool("markdown"),
            custom_fields=_custom_fields(params) or None,
            prevent_client_closure=params.opt_bool("preventClientClosure"),
        ),
    )
    return {"ticketid": str(ticket.id)}


def update_ticket_reply(ctx: Context, params: Params) -> dict[str, Any]:
    if not params.int("replyid"):
        raise ValidationError("Reply ID Required")
    if not params.str("message"):
        raise ValidationError("Message is Required")
    reply = ticket_replies.update_reply(
        ctx.uow,
        params.int("replyid"),
        params.str("message"),
        markdown=params.opt_bool("markdown"),
        created=params.str("created"),
    )
    return {"replyid": str(reply.id)}


def merge_ticket(ctx: Context, params: Params) -> dict[str, Any]:
    if not params.int("ticketid"):
        raise ValidationError("Ticket ID Required")
    raw = params.list("mergeticketids")
    parts = [p.strip() for item in raw for p in str(item).split(",") if p.strip()]
    if not parts:
        raise ValidationError("Merge Ticket IDs Required")
    bad = [p for p in parts if not p.isdigit()]
    if bad:
        raise ValidationError("Invalid Merge Ticket IDs: " + ", ".join(bad))
    ticket = merge.merge_tickets(
        ctx.uow, params.int("ticketid"), [int(p) for p in parts], params.str("newsubject")
    )
    return {"ticketid": str(ticket.id)}


def delete_ticket(ctx: Context, params: Params) -> dict[str, Any]:
    changes.delete_ticket(ctx.uow, params.int("ticketid"))
    return {}


def delete_ticket_reply(ctx: Context, params: Params) -> dict[str, Any]:
    if not params.int("ticketid"):
        raise ValidationError("Ticket ID Required")
    if not params.int("replyid"):
        raise ValidationError("Reply ID Required")
    ticket_replies.delete_reply(ctx.uow, params.int("ticketid"), params.int("replyid"))
    return {}


def delete_ticket_note(ctx: Context, params: Params) -> dict[str, Any]:
    ticket_replies.delete_note(ctx.uow, params.int("noteid"))
    return {}


def block_ticket_sender(ctx: Context, params: Params) -> dict[str, Any]:
    if not params.int("ticketid"):
        raise ValidationError("Ticket ID Required")
    deleted = blocklist.block_sender(ctx.uow, params.int("ticketid"), delete_ticket_too=params.bool("delete"))
    return {"deleted": "true" if deleted else "false"}


def get_support_departments(ctx: Context, params: Params) -> dict[str, Any]:
    counts = departments.department_counts(ctx.uow)
    items = [
        {
            "id": str(d.id),
            "name": d.name,
            "awaitingreply": str(counts.get(d.id, (0, 0))[0]),
            "opentickets": str(counts.get(d.id, (0, 0))[1]),
        }
        for d in departments.list_departments(ctx.uow)
    ]
    return {"totalresults": len(items), "departments": {"department": items}}


def get_support_statuses(ctx: Context, params: Params) -> dict[str, Any]:
    counts = queries.ticket_counts(ctx.uow, department_id=params.int("deptid"))
    items = [{"title": s.title, "count": n, "color": s.color} for s, n in counts.by_status]
    return {"totalresults": len(items), "statuses": {"status": items}}


def get_ticket_predefined_cats(ctx: Context, params: Params) -> dict[str, Any]:
    items = [
        {"id": str(c.id), "parentid": str(c.parent_id), "name": c.name, "replycount": str(n)}
        for c, n in predefined_replies.list_predefined_categories(ctx.uow)
    ]
    return {"totalresults": len(items), "categories": {"category": items}}


def get_ticket_predefined_replies(ctx: Context, params: Params) -> dict[str, Any]:
    items = [
        {"name": r.name, "reply": r.reply} for r in predefined_replies.list_predefined_replies(
            ctx.uow, params.int("catid"))
    ]
    return {"totalresults": len(items), "predefinedreplies": {"predefinedreply": items}}


ACTIONS = [
    Action("OpenTicket", open_ticket),
    Action("AddTicketReply", add_ticket_reply),
    Action("AddTicketNote", add_ticket_note),
    Action("GetTickets", get_tickets),
    Action("GetTicket", get_ticket),
    Action("GetTicketNotes", get_ticket_notes),
    Action("GetTicketCounts", get_ticket_counts),
    Action("GetTicketAttachment", get_ticket_attachment),
    Action("UpdateTicket", update_ticket),
    Action("UpdateTicketReply", update_ticket_reply),
    Action("MergeTicket", merge_ticket),
    Action("DeleteTicket", delete_ticket),
    Action("DeleteTicketReply", delete_ticket_reply),
    Action("DeleteTicketNote", delete_ticket_note),
    Action("BlockTicketSender", block_ticket_sender),
    Action("GetSupportDepartments", get_support_departments),
    Action("GetSupportStatuses", get_support_statuses),
    Action("GetTicketPredefinedCats", get_ticket_predefined_cats),
    Action("GetTicketPredefinedReplies", get_ticket_predefined_replies),
]
