"""``billow ticket``: support tickets, e-mail import and housekeeping."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from billow.cli.common import console, error, new_uow, unit_of_work
from billow.services.support import auto_close, departments
from billow.services.support import staff as support_staff
from billow.services.support.imap import poll_mailboxes
from billow.services.support.inbound_mail import import_message

app = typer.Typer(help="Support tickets: e-mail import and housekeeping.", no_args_is_help=True)

#: sysexits EX_TEMPFAIL: the MTA keeps the message and tries the pipe again later.
EX_TEMPFAIL = 75


@app.command("import")
def ticket_import() -> None:
    """Import one raw e-mail from standard input (point the MTA's pipe at this).

    Exits 0 once the message is handled, including when it is dropped on purpose (an
    auto-reply, a loop, a blocked sender: bouncing those would only feed the loop), and
    75 (temporary failure) when it could not be stored, so the MTA retries it.
    """
    raw = sys.stdin.buffer.read()
    try:
        with new_uow() as uow:
            outcome = import_message(uow, raw)
            uow.commit()
    except Exception as exc:  # noqa: BLE001 - any failure must reach the MTA as "try again"
        error(str(exc), EX_TEMPFAIL)
    typer.echo(json.dumps({"status": outcome.status, "ticketid": outcome.ticket_id,
                           "replyid": outcome.reply_id}))


@app.command("poll")
def ticket_poll() -> None:
    """Poll every department's IMAP mailbox once and import unseen messages."""
    result = poll_mailboxes(new_uow)
    typer.echo(json.dumps({"fetched": result.fetched, "imported": result.imported,
                           "dropped": result.dropped, "failed": result.failed_mailboxes}))
    if result.failed_mailboxes:
        raise typer.Exit(1)


@app.command("department-add")
def ticket_department_add(
    name: str,
    email: Annotated[str, typer.Option("--email", help="Address customers write to")] = "",
    clients_only: Annotated[bool, typer.Option("--clients-only", help="Only clients may e-mail")] = False,
    replies_only: Annotated[bool, typer.Option("--replies-only", help="E-mail may only reply")] = False,
    prevent_client_closure: Annotated[bool, typer.Option("--prevent-client-closure")] = False,
    imap_host: Annotated[str, typer.Option("--imap-host", help="IMAP server to poll")] = "",
    imap_port: Annotated[int, typer.Option("--imap-port")] = 993,
    imap_plain: Annotated[bool, typer.Option("--imap-plain", help="No TLS (local servers only)")] = False,
    imap_login: Annotated[str, typer.Option("--imap-login")] = "",
    imap_password: Annotated[str, typer.Option("--imap-password", envvar="BILLOW_IMAP_PASSWORD")] = "",
    imap_folder: Annotated[str, typer.Option("--imap-folder")] = "INBOX",
) -> None:
    """Create a support department, optionally with an IMAP mailbox to poll."""
    with unit_of_work() as uow:
        dept = departments.add_department(
            uow, name, email, clients_only=clients_only, piping_replies_only=replies_only,
            prevent_client_closure=prevent_client_closure, mail_host=imap_host, mail_port=imap_port,
            mail_ssl=not imap_plain, mail_login=imap_login, mail_password=imap_password,
            mail_folder=imap_folder,
        )
    console.print(f"department {dept.name} created (id {dept.id})")


@app.command("department-list")
def ticket_department_list() -> None:
    """List support departments and their mailboxes (never their passwords)."""
    with unit_of_work(commit=False) as uow:
        table = Table("id", "name", "email", "imap", "rules")
        for d in departments.list_departments(uow):
            rules = ", ".join(label for flag, label in (
                (d.clients_only, "clients only"), (d.piping_replies_only, "replies only"),
                (d.prevent_client_closure, "client may not close")) if flag)
            imap = f"{d.mail_login}@{d.mail_host}:{d.mail_port}" if d.mail_host else "-"
            table.add_row(str(d.id), d.name, d.email, imap, rules)
    console.print(table)


@app.command("department-assign")
def ticket_department_assign(admin: str, department_id: int) -> None:
    """Assign admin ADMIN (username) to department DEPARTMENT_ID: they get its notifications."""
    _department_assignment(admin, department_id, assign=True)


@app.command("department-unassign")
def ticket_department_unassign(admin: str, department_id: int) -> None:
    """Take admin ADMIN (username) off department DEPARTMENT_ID."""
    _department_assignment(admin, department_id, assign=False)


def _department_assignment(admin: str, department_id: int, *, assign: bool) -> None:
    change = support_staff.assign_admin if assign else support_staff.unassign_admin
    with unit_of_work() as uow:
        changed = change(uow, admin, department_id)
        uow.commit()
        admins = [a.username for a in support_staff.department_admins(uow, department_id)]
    typer.echo(json.dumps({"department": department_id, "changed": changed, "admins": admins}))


@app.command("close-inactive")
def ticket_close_inactive() -> None:
    """Close tickets idle for ``CloseInactiveTickets`` hours (what the automation run does)."""
    with unit_of_work() as uow:
        closed = auto_close.close_inactive_tickets(uow, uow.now)
    typer.echo(json.dumps({"closed": closed}))
