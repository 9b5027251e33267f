"""The ``billow`` command: a stable contract that scripts and other tools call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from billow.config import get_settings
from billow.db.engine import session_factory
from billow.errors import BillowError
from billow.uow import UnitOfWork

app = typer.Typer(help="Billow: billing and automation for hosting providers.", no_args_is_help=True)
admin_app = typer.Typer(help="Administrator accounts.", no_args_is_help=True)
credential_app = typer.Typer(help="API credentials (identifier + secret).", no_args_is_help=True)
role_app = typer.Typer(help="API roles: which actions a credential may call.", no_args_is_help=True)
ip_app = typer.Typer(help="The API IP allow-list.", no_args_is_help=True)
ticket_app = typer.Typer(help="Support tickets: e-mail import and housekeeping.", no_args_is_help=True)
invoice_app = typer.Typer(help="Invoices.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(credential_app, name="credential")
app.add_typer(role_app, name="role")
app.add_typer(ip_app, name="ip")
app.add_typer(ticket_app, name="ticket")
app.add_typer(invoice_app, name="invoice")
webhook_app = typer.Typer(help="Webhook endpoints and their deliveries.", no_args_is_help=True)
email_app = typer.Typer(help="E-mail templates and the send queue.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")
app.add_typer(email_app, name="email")
server_app = typer.Typer(help="Provisioning servers (credentials stored encrypted).", no_args_is_help=True)
servergroup_app = typer.Typer(help="Server groups: where new services are placed.", no_args_is_help=True)
modulequeue_app = typer.Typer(help="Failed module actions waiting for a retry.", no_args_is_help=True)
app.add_typer(server_app, name="server")
app.add_typer(servergroup_app, name="servergroup")
app.add_typer(modulequeue_app, name="modulequeue")
product_app = typer.Typer(help="Products: settings the API does not carry (overage billing).",
                          no_args_is_help=True)
app.add_typer(product_app, name="product")

console = Console()


def _uow() -> UnitOfWork:
    return UnitOfWork(session_factory())


def _fail(exc: BillowError) -> None:
    console.print(f"[red]error:[/red] {exc.message}")
    raise typer.Exit(1)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from billow.db.migrate import upgrade

    upgrade(get_settings().resolved_database_url())
    console.print("database is up to date")


@app.command()
def demo() -> None:
    """Load demo data (idempotent): currencies, client groups, clients with contacts."""
    from billow.demo import load_demo

    with _uow() as uow:
        created = load_demo(uow)
        uow.commit()
    console.print(f"demo data ready ({created} new records)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only)")] = 1,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run the outbox worker in this process")
    ] = False,
) -> None:
    """Serve the WHMCS-compatible API (migrates the embedded database first)."""
    import uvicorn

    from billow.db.migrate import upgrade

    upgrade(get_settings().resolved_database_url())
    _load_plugins()
    if with_worker or get_settings().worker_in_process:
        from billow.worker import start_in_thread

        start_in_thread()
        console.print("outbox worker running in-process")
    uvicorn.run(
        "billow.api.app:create_app", factory=True, host=host, port=port,
        workers=workers, log_level="info", access_log=False,
    )


def _load_plugins() -> None:
    from billow.plugins import load_hooks

    load_hooks()


@app.command()
def quickstart(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Migrate, load demo data, make sure an admin and an API credential exist, then serve.

    This is what ``make run`` calls: one command from a fresh clone to a working API.
    """
    from billow.db.migrate import upgrade
    from billow.demo import ensure_quickstart_access, load_demo

    settings = get_settings()
    upgrade(settings.resolved_database_url())
    with _uow() as uow:
        load_demo(uow)
        access = ensure_quickstart_access(uow)
        uow.commit()
    url = f"http://{host}:{port}/includes/api.php"
    console.rule("Billow is starting")
    console.print(f"API endpoint : {url}")
    if access.admin_password:
        console.print(f"Admin login  : {access.admin_username} / {access.admin_password}")
    else:
        console.print(f"Admin login  : {access.admin_username} (password set earlier)")
    if access.secret:
        console.print(f"identifier   : {access.identifier}")
        console.print(f"secret       : {access.secret}")
        console.print(f"(also saved in {access.saved_to}; the database keeps only a digest)",
                      soft_wrap=True)
    else:
        console.print(f"credentials  : see {access.saved_to}", soft_wrap=True)
    # One unwrapped line, so it can be copied into a shell as it is.
    console.print(
        f"try          : curl -s {url} -d action=GetClients "
        f"-d identifier={access.identifier} -d secret={access.secret or '<secret>'} "
        f"-d responsetype=json", soft_wrap=True, highlight=False,
    )
    serve(host=host, port=port, workers=1, with_worker=True)


@app.command()
def cron(
    date_: Annotated[str, typer.Option("--date", help="Run as of this billing date (YYYY-MM-DD)")] = "",
    only: Annotated[str, typer.Option("--only", help="Run only this task (any hour)")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Re-run daily tasks already done for the date")
    ] = False,
    list_tasks: Annotated[bool, typer.Option("--list", help="List the tasks and exit")] = False,
) -> None:
    """Run the automation: frequent tasks every run, daily tasks once a day.

    Put it in cron or a systemd timer every 5 minutes; overlapping runs are refused by a
    lock in the database, and a killed run is resumed by the next one.
    """
    from datetime import date as date_type

    from billow.automation.progress import default_progress
    from billow.automation.runner import run_cron
    from billow.automation.tasks import load_tasks

    _load_plugins()
    if list_tasks:
        table = Table("task", "when", "what")
        for task in load_tasks():
            table.add_row(task.name, "daily" if task.daily else "every run", task.title)
        console.print(table)
        return
    as_of = None
    if date_:
        try:
            as_of = date_type.fromisoformat(date_)
        except ValueError:
            console.print(f"[red]error:[/red] --date must be YYYY-MM-DD, not {date_!r}")
            raise typer.Exit(2) from None
    _configure_logging()
    try:
        report = run_cron(as_of=as_of, only=only or None, force=force, progress=default_progress())
    except BillowError as exc:
        _fail(exc)
    if not report.ran:
        return
    if any(t.status == "failed" for t in report.tasks):
        raise typer.Exit(1)


def _configure_logging() -> None:
    """Structured ``key=value`` lines on stderr (cron mails them, journald keeps them)."""
    import logging
    import sys

    import structlog

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.LogfmtRenderer(key_order=["timestamp", "level", "event"]),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


# --- admins -----------------------------------------------------------------------------

@admin_app.command("create")
def admin_create(
    username: str,
    password: Annotated[str, typer.Option("--password", help="Admin password")],
    email: Annotated[str, typer.Option("--email")] = "",
    role: Annotated[str, typer.Option("--role", help="Admin role")] = "Full Administrator",
) -> None:
    """Create an administrator."""
    from billow.services.access import admins as access

    with _uow() as uow:
        try:
            admin = access.create_admin(uow, username, password, email=email, role=role)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
        console.print(f"admin {admin.username} created (id {admin.id})")


@admin_app.command("disable")
def admin_disable(username: str) -> None:
    """Disable an administrator (their API credentials stop working at once)."""
    from billow.services.access import admins as access

    with _uow() as uow:
        try:
            access.set_admin_disabled(uow, username, True)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"admin {username} disabled")


@admin_app.command("enable")
def admin_enable(username: str) -> None:
    """Enable a disabled administrator."""
    from billow.services.access import admins as access

    with _uow() as uow:
        try:
            access.set_admin_disabled(uow, username, False)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"admin {username} enabled")


# --- credentials ------------------------------------------------------------------------

@credential_app.command("create")
def credential_create(
    admin: Annotated[str, typer.Option("--admin", help="Owning admin's username")],
    role: Annotated[list[str] | None, typer.Option("--role", help="API role (repeatable)")] = None,
    allow_ip: Annotated[
        list[str] | None, typer.Option("--allow-ip", help="IP or CIDR allowed (repeatable)")
    ] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create an API credential and print its identifier and secret (shown only now)."""
    from billow.services.access import credentials as access

    with _uow() as uow:
        try:
            new = access.create_credential(
                uow, admin, roles=role or None, allow_ips=allow_ip or [], description=description
            )
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    if as_json:
        typer.echo(json.dumps({"identifier": new.identifier, "secret": new.secret}))
    else:
        console.print(f"identifier: {new.identifier}")
        console.print(f"secret:     {new.secret}")


@credential_app.command("list")
def credential_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List API credentials (never their secrets)."""
    from billow.services.access import credentials as access

    with _uow() as uow:
        rows = [
            {
                "identifier": c.identifier,
                "admin": c.admin.username,
                "roles": [r.name for r in c.roles],
                "description": c.description,
                "revoked": c.revoked_at is not None,
                "last_used": c.last_used_at.isoformat() if c.last_used_at else None,
            }
            for c in access.list_credentials(uow)
        ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table()
    # The identifier is what `credential revoke` takes: never cut it short.
    table.add_column("identifier", no_wrap=True, min_width=32)
    for name in ("admin", "roles", "status", "last used", "description"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(r["identifier"], r["admin"], ", ".join(r["roles"]),
                      "revoked" if r["revoked"] else "active", r["last_used"] or "-",
                      r["description"])
    console.print(table)


@credential_app.command("revoke")
def credential_revoke(identifier: str) -> None:
    """Revoke an API credential; it stops working at once."""
    from billow.services.access import credentials as access

    with _uow() as uow:
        try:
            access.revoke_credential(uow, identifier)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"credential {identifier} revoked")


# --- roles ------------------------------------------------------------------------------

@role_app.command("create")
def role_create(
    name: str,
    allow: Annotated[list[str], typer.Option("--allow", help="API action allowed (repeatable)")],
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Create an API role allowing the given actions (``*`` allows every action)."""
    from billow.services.access import api_roles as access

    with _uow() as uow:
        try:
            role = access.create_role(uow, name, allow, description)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
        console.print(f"role {role.name} created: {', '.join(a.action for a in role.actions)}")


@role_app.command("list")
def role_list() -> None:
    """List API roles and their actions."""
    from billow.services.access import api_roles as access

    with _uow() as uow:
        table = Table("name", "actions", "description")
        for role in access.list_roles(uow):
            table.add_row(role.name, ", ".join(a.action for a in role.actions), role.description)
    console.print(table)


# --- IP allow-list ----------------------------------------------------------------------

@ip_app.command("allow")
def ip_allow(
    network: str, note: Annotated[str, typer.Option("--note", help="Why it is allowed")] = ""
) -> None:
    """Allow an IP address or CIDR range (IPv4 or IPv6) to call the API."""
    from billow.services.access import ip_allow_list as access

    with _uow() as uow:
        try:
            entry = access.add_allowed_ip(uow, network, note=note)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"allowed {entry.network}")


@ip_app.command("remove")
def ip_remove(network: str) -> None:
    """Remove an IP address or range from the allow-list."""
    from billow.services.access import ip_allow_list as access

    with _uow() as uow:
        try:
            removed = access.remove_allowed_ip(uow, network)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"removed {removed} entr{'y' if removed == 1 else 'ies'}")


@ip_app.command("list")
def ip_list() -> None:
    """Show the allow-list."""
    from billow.services.access import ip_allow_list as access

    with _uow() as uow:
        table = Table("network", "credential", "note")
        for e in access.list_allowed_ips(uow):
            table.add_row(e.network, str(e.credential_id or "all"), e.note)
    console.print(table)


# --- support tickets --------------------------------------------------------------------

#: sysexits EX_TEMPFAIL: the MTA keeps the message and tries the pipe again later.
EX_TEMPFAIL = 75


@ticket_app.command("import")
def ticket_import() -> None:
    """Import one raw e-mail from standard input (point the MTA's pipe at this).

    Exits 0 once the message is handled, including when it is dropped on purpose (an
    auto-reply, a loop, a blocked sender: bouncing those would only feed the loop), and
    75 (temporary failure) when it could not be stored, so the MTA retries it.
    """
    import sys

    from billow.services.support.inbound_mail import import_message

    raw = sys.stdin.buffer.read()
    try:
        with _uow() as uow:
            outcome = import_message(uow, raw)
            uow.commit()
    except Exception as exc:  # noqa: BLE001 - any failure must reach the MTA as "try again"
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EX_TEMPFAIL) from exc
    typer.echo(json.dumps({"status": outcome.status, "ticketid": outcome.ticket_id,
                           "replyid": outcome.reply_id}))


@ticket_app.command("poll")
def ticket_poll() -> None:
    """Poll every department's IMAP mailbox once and import unseen messages."""
    from billow.services.support.imap import poll_mailboxes

    result = poll_mailboxes(_uow)
    typer.echo(json.dumps({"fetched": result.fetched, "imported": result.imported,
                           "dropped": result.dropped, "failed": result.failed_mailboxes}))
    if result.failed_mailboxes:
        raise typer.Exit(1)


@ticket_app.command("department-add")
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
    from billow.services.support import departments as support

    with _uow() as uow:
        try:
            dept = support.add_department(
                uow, name, email, clients_only=clients_only, piping_replies_only=replies_only,
                prevent_client_closure=prevent_client_closure, mail_host=imap_host, mail_port=imap_port,
                mail_ssl=not imap_plain, mail_login=imap_login, mail_password=imap_password,
                mail_folder=imap_folder,
            )
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"department {dept.name} created (id {dept.id})")


@ticket_app.command("department-list")
def ticket_department_list() -> None:
    """List support departments and their mailboxes (never their passwords)."""
    from billow.services.support import departments as support

    with _uow() as uow:
        table = Table("id", "name", "email", "imap", "rules")
        for d in support.list_departments(uow):
            rules = ", ".join(label for flag, label in (
                (d.clients_only, "clients only"), (d.piping_replies_only, "replies only"),
                (d.prevent_client_closure, "client may not close")) if flag)
            imap = f"{d.mail_login}@{d.mail_host}:{d.mail_port}" if d.mail_host else "-"
            table.add_row(str(d.id), d.name, d.email, imap, rules)
    console.print(table)


@ticket_app.command("department-assign")
def ticket_department_assign(admin: str, department_id: int) -> None:
    """Assign admin ADMIN (username) to department DEPARTMENT_ID: they get its notifications."""
    _department_assignment(admin, department_id, assign=True)


@ticket_app.command("department-unassign")
def ticket_department_unassign(admin: str, department_id: int) -> None:
    """Take admin ADMIN (username) off department DEPARTMENT_ID."""
    _department_assignment(admin, department_id, assign=False)


def _department_assignment(admin: str, department_id: int, *, assign: bool) -> None:
    from billow.services.support import staff as support_staff

    change = support_staff.assign_admin if assign else support_staff.unassign_admin
    with _uow() as uow:
        try:
            changed = change(uow, admin, department_id)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
        admins = [a.username for a in support_staff.department_admins(uow, department_id)]
    typer.echo(json.dumps({"department": department_id, "changed": changed, "admins": admins}))


@ticket_app.command("close-inactive")
def ticket_close_inactive() -> None:
    """Close tickets idle for ``CloseInactiveTickets`` hours (what the automation run does)."""
    from billow.services.support.auto_close import close_inactive_tickets

    with _uow() as uow:
        closed = close_inactive_tickets(uow, uow.now)
        uow.commit()
    typer.echo(json.dumps({"closed": closed}))


# --- invoices ---------------------------------------------------------------------------

@invoice_app.command("pdf")
def invoice_pdf(
    invoice_id: int,
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write the PDF to")],
) -> None:
    """Render invoice INVOICE_ID as a PDF file."""
    from billow.services.billing.invoice_pdf import render_invoice_pdf

    with _uow() as uow:
        try:
            pdf = render_invoice_pdf(uow, invoice_id)
        except BillowError as exc:
            _fail(exc)
    output.write_bytes(pdf)
    console.print(f"invoice {invoice_id} written to {output} ({len(pdf)} bytes)")


@invoice_app.command("refund")
def invoice_refund(
    transaction_id: int,
    amount: Annotated[str, typer.Option("--amount", help="Amount to refund (default: all)")] = "",
    to_credit: Annotated[bool, typer.Option("--to-credit", help="Refund onto the client's credit")] = False,
    gateway: Annotated[bool, typer.Option("--gateway", help="Pay it back through the gateway")] = False,
    reverse: Annotated[bool, typer.Option("--reverse", help="Paid invoice back to Unpaid")] = False,
    transid: Annotated[str, typer.Option("--transid", help="The refund's own transaction id")] = "",
) -> None:
    """Refund payment TRANSACTION_ID in full or in part (to the gateway record or to credit)."""
    from decimal import Decimal, InvalidOperation

    from billow.services.billing.payments import refund_payment

    try:
        value = Decimal(amount) if amount else None
    except InvalidOperation:
        console.print(f"[red]error:[/red] not an amount: {amount}")
        raise typer.Exit(1) from None
    with _uow() as uow:
        try:
            refund = refund_payment(uow, transaction_id, value, to_credit=to_credit, through_gateway=gateway,
                                    refund_transid=transid, reverse=reverse)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"refunded {refund.amountout} (transaction {refund.id})")
# --- the outbox worker ------------------------------------------------------------------

@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Drain what is due now, then exit")] = False,
    interval: Annotated[float, typer.Option(help="Seconds to sleep when idle")] = 1.0,
) -> None:
    """Deliver the outbox: webhooks and e-mails (runs until stopped unless --once)."""
    from billow.worker import Worker

    _load_plugins()
    with Worker() as w:
        if once:
            stats = w.run_once()
            console.print(
                f"dispatched {stats.dispatched} events, webhooks sent {stats.webhooks_sent} "
                f"(failed attempts {stats.webhooks_failed}), e-mails sent {stats.emails_sent} "
                f"(failed attempts {stats.emails_failed}), jobs run {stats.jobs_done} "
                f"(failed attempts {stats.jobs_failed})"
            )
            if stats.errors:
                for error in stats.errors:
                    console.print(f"[red]error:[/red] {error}")
                raise typer.Exit(1)
            return
        import contextlib
        import signal

        # SIGTERM (a service manager stopping us) finishes the current round, then exits.
        signal.signal(signal.SIGTERM, lambda *_: w.stop())
        console.print("worker running; Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            w.run_forever(interval=interval)
        console.print("worker stopped")


@app.command()
def outbox(
    retry_parked: Annotated[bool, typer.Option("--retry-parked", help="Retry parked events")] = False,
    purge_days: Annotated[
        int, typer.Option("--purge-days", help="Delete finished deliveries older than N days")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the outbox: events waiting, parked (with why), deliveries pending."""
    from datetime import timedelta

    from billow.db.engine import session_factory
    from billow.worker import outbox_status, purge_history
    from billow.worker import retry_parked as retry

    factory = session_factory()
    if retry_parked:
        console.print(f"{retry(factory)} parked events will be retried")
    if purge_days > 0:
        removed = purge_history(factory, timedelta(days=purge_days))
        console.print(f"purged {removed['deliveries']} deliveries, {removed['attempts']} attempts, "
                      f"{removed['events']} events")
    status = outbox_status(factory)
    if as_json:
        typer.echo(json.dumps(status))
        return
    console.print(f"events waiting: {status['undispatched']}; deliveries pending: "
                  f"{status['pending_deliveries']} (oldest {status['oldest_pending_delivery'] or '-'}); "
                  f"jobs pending: {status['jobs_pending']}, failed: {status['jobs_failed']}")
    for event in status["parked"]:  # type: ignore[union-attr]
        console.print(f"[red]parked[/red] event {event['id']} {event['name']}: {event['error']}")


# --- webhooks ---------------------------------------------------------------------------

@webhook_app.command("add")
def webhook_add(
    url: str,
    event: Annotated[
        list[str] | None, typer.Option("--event", help="WHMCS hook name (repeatable; none: all)")
    ] = None,
    secret: Annotated[str, typer.Option("--secret", help="whsec_ secret (generated when empty)")] = "",
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Register an endpoint and print its id and signing secret."""
    from billow.services.events import webhook_endpoints as webhooks

    with _uow() as uow:
        try:
            endpoint, new_secret = webhooks.add_endpoint(uow, url, event or [], secret=secret,
                                                         description=description)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"webhook {endpoint.id} added for {endpoint.url}")
    console.print(f"secret: {new_secret}")


@webhook_app.command("list")
def webhook_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List endpoints with their delivery counts (never their secrets)."""
    from billow.services.events import webhook_endpoints as webhooks

    with _uow() as uow:
        rows = [
            {"id": e.id, "url": e.url, "events": e.events or ["*"], "enabled": e.enabled,
             "disabled_reason": e.disabled_reason, **webhooks.delivery_counts(uow, e.id)}
            for e in webhooks.list_endpoints(uow)
        ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("id", "url", "events", "status", "pending", "succeeded", "failed")
    for r in rows:
        status = "enabled" if r["enabled"] else f"disabled: {r['disabled_reason']}"
        table.add_row(str(r["id"]), r["url"], ", ".join(r["events"]), status, str(r["pending"]),
                      str(r["succeeded"]), str(r["failed"]))
    console.print(table)


@webhook_app.command("remove")
def webhook_remove(webhook_id: int) -> None:
    """Delete an endpoint and its delivery history."""
    from billow.services.events import webhook_endpoints as webhooks

    with _uow() as uow:
        try:
            webhooks.delete_endpoint(uow, webhook_id)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"webhook {webhook_id} removed")


@webhook_app.command("enable")
def webhook_enable(webhook_id: int) -> None:
    """Enable an endpoint again (for instance after it was disabled for failing)."""
    from billow.services.events import webhook_endpoints as webhooks

    with _uow() as uow:
        try:
            webhooks.update_endpoint(uow, webhook_id, enabled=True)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"webhook {webhook_id} enabled")


@webhook_app.command("deliveries")
def webhook_deliveries(
    webhook_id: Annotated[int, typer.Option("--webhook", help="Only this endpoint")] = 0,
    status: Annotated[str, typer.Option("--status", help="pending, succeeded or failed")] = "",
    limit: Annotated[int, typer.Option("--limit")] = 25,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show recent deliveries and their last attempt."""
    from billow.services.events import webhook_inspection as webhooks

    with _uow() as uow:
        try:
            total, rows = webhooks.list_deliveries(uow, endpoint_id=webhook_id, status=status, limit=limit)
        except BillowError as exc:
            _fail(exc)
        items = [
            {"id": d.id, "webhook": d.endpoint_id, "event": d.event_name, "event_id": d.event_uuid,
             "status": d.status, "attempts": d.attempts, "response_code": d.response_code,
             "last_error": d.last_error,
             "next_attempt": d.next_attempt_at.isoformat() if d.next_attempt_at else None}
            for d in rows
        ]
    if as_json:
        typer.echo(json.dumps({"total": total, "deliveries": items}))
        return
    table = Table("id", "webhook", "event", "status", "attempts", "code", "next attempt", "error")
    for d in items:
        table.add_row(str(d["id"]), str(d["webhook"]), d["event"], d["status"], str(d["attempts"]),
                      str(d["response_code"] or "-"), d["next_attempt"] or "-", d["last_error"])
    console.print(table)
    console.print(f"{total} deliveries in all")


@webhook_app.command("retry")
def webhook_retry(delivery_id: int) -> None:
    """Replay a delivery now (same event id, so receivers can de-duplicate)."""
    from billow.services.events import webhook_inspection as webhooks

    with _uow() as uow:
        try:
            replay = webhooks.retry_delivery(uow, delivery_id)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"delivery {delivery_id} queued again as {replay.id}")


# --- e-mail -----------------------------------------------------------------------------

@email_app.command("templates")
def email_templates(type_: Annotated[str, typer.Option("--type")] = "") -> None:
    """List e-mail templates (the shipped ones are added on first use)."""
    from billow.services.mail import templates as email

    with _uow() as uow:
        rows = email.list_templates(uow, type_=type_)
        table = Table("id", "name", "type", "subject", "status")
        for t in rows:
            table.add_row(str(t.id), t.name, t.type, t.subject, "disabled" if t.disabled else "active")
        uow.commit()
    console.print(table)


@email_app.command("edit")
def email_edit(
    name: str,
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    html_file: Annotated[str | None, typer.Option("--html-file", help="Jinja2 HTML body")] = None,
    text_file: Annotated[str | None, typer.Option("--text-file", help="Jinja2 text body")] = None,
    type_: Annotated[str, typer.Option("--type", help="Type of a new custom template")] = "",
    disable: Annotated[bool | None, typer.Option("--disable/--enable")] = None,
) -> None:
    """Edit a template (or add a custom one); bodies are read from files."""
    from pathlib import Path

    from billow.services.mail import templates as email

    with _uow() as uow:
        try:
            email.save_template(
                uow, name, type_=type_, subject=subject,
                html=Path(html_file).read_text() if html_file else None,
                text=Path(text_file).read_text() if text_file else None, disabled=disable,
            )
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"template {name!r} saved")



# --- servers ----------------------------------------------------------------------------

@server_app.command("add")
def server_add(
    name: str,
    module: Annotated[str, typer.Option("--module", help="Server module: cpanel, infrafabric, none ...")],
    hostname: Annotated[str, typer.Option("--hostname")] = "",
    ip: Annotated[str, typer.Option("--ip", help="IP address")] = "",
    username: Annotated[str, typer.Option("--username", help="Panel user or API key")] = "",
    password: Annotated[str, typer.Option("--password", envvar="BILLOW_SERVER_PASSWORD",
                                          help="Password or API secret (prefer the env var)")] = "",
    access_hash: Annotated[str, typer.Option("--access-hash", envvar="BILLOW_SERVER_ACCESSHASH",
                                             help="API token (prefer the env var)")] = "",
    port: Annotated[int, typer.Option("--port", help="0: the module's default")] = 0,
    insecure: Annotated[bool, typer.Option("--insecure", help="Plain HTTP instead of HTTPS")] = False,
    max_accounts: Annotated[int, typer.Option("--max-accounts", help="Capacity (0: unlimited)")] = 0,
    default: Annotated[bool, typer.Option("--default", help="The module's default server")] = False,
    status_address: Annotated[str, typer.Option("--status-address")] = "",
) -> None:
    """Add a provisioning server."""
    from billow.services.hosting.servers import ServerInput, add_server

    with _uow() as uow:
        try:
            server = add_server(uow, ServerInput(
                name=name, type=module, hostname=hostname, ipaddress=ip, username=username,
                password=password, accesshash=access_hash, port=port, secure=not insecure,
                maxaccounts=max_accounts, active=default, statusaddress=status_address))
        except BillowError as exc:
            _fail(exc)
        uow.commit()
        console.print(f"server {server.name} added (id {server.id})")


@server_app.command("list")
def server_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List servers with their load (credentials are never shown)."""
    from billow.services.hosting.servers import active_counts, list_servers

    with _uow() as uow:
        counts = active_counts(uow)
        rows = [{"id": s.id, "name": s.name, "module": s.type, "hostname": s.hostname, "ip": s.ipaddress,
                 "services": counts.get(s.id, 0), "max": s.maxaccounts, "default": s.active,
                 "disabled": s.disabled} for s in list_servers(uow)]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "name", "module", "hostname", "services", "default", "disabled")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["module"], r["hostname"] or r["ip"],
                      f"{r['services']}/{r['max'] or '∞'}", "yes" if r["default"] else "",
                      "yes" if r["disabled"] else "")
    console.print(table)


@server_app.command("update")
def server_update(
    server_id: int,
    password: Annotated[str | None, typer.Option("--password", envvar="BILLOW_SERVER_PASSWORD")] = None,
    access_hash: Annotated[str | None,
                           typer.Option("--access-hash", envvar="BILLOW_SERVER_ACCESSHASH")] = None,
    hostname: Annotated[str | None, typer.Option("--hostname")] = None,
    max_accounts: Annotated[int | None, typer.Option("--max-accounts")] = None,
    disabled: Annotated[bool | None, typer.Option("--disabled/--enabled")] = None,
    default: Annotated[bool | None, typer.Option("--default/--not-default")] = None,
) -> None:
    """Change a server's credentials, hostname, capacity or state."""
    from billow.services.hosting.servers import update_server

    changes = {k: v for k, v in {"password": password, "accesshash": access_hash, "hostname": hostname,
                                 "maxaccounts": max_accounts, "disabled": disabled, "active": default}.items()
               if v is not None}
    with _uow() as uow:
        try:
            update_server(uow, server_id, changes)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"server {server_id} updated")


@server_app.command("remove")
def server_remove(server_id: int) -> None:
    """Remove a server that has no live services."""
    from billow.services.hosting.servers import delete_server

    with _uow() as uow:
        try:
            delete_server(uow, server_id)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"server {server_id} removed")


@server_app.command("test")
def server_test(server_id: int) -> None:
    """Test the connection to a server through its module."""
    from billow.services.hosting.provisioning import test_connection

    with _uow() as uow:
        try:
            result = test_connection(uow, server_id)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    if not result.success:
        console.print(f"[red]connection failed:[/red] {result.error}")
        raise typer.Exit(1)
    console.print("connection successful")


@servergroup_app.command("add")
def servergroup_add(
    name: str,
    server: Annotated[list[int], typer.Option("--server", help="Server id (repeat)")],
    fill: Annotated[int, typer.Option("--fill", help="1: least full first, 2: fill the default first")] = 1,
) -> None:
    """Create a server group from existing servers."""
    from billow.services.hosting.servers import add_group

    with _uow() as uow:
        try:
            group = add_group(uow, name, server, fill)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
        console.print(f"server group {group.name} added (id {group.id})")


@servergroup_app.command("list")
def servergroup_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List server groups and their servers."""
    from billow.services.hosting.servers import list_groups

    with _uow() as uow:
        rows = [{"id": g.id, "name": g.name, "filltype": g.filltype, "servers": ids}
                for g, ids in list_groups(uow)]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "name", "fill", "servers")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], str(r["filltype"]), ",".join(map(str, r["servers"])))
    console.print(table)


@servergroup_app.command("remove")
def servergroup_remove(group_id: int) -> None:
    """Remove a server group (its servers stay)."""
    from billow.services.hosting.servers import delete_group

    with _uow() as uow:
        try:
            delete_group(uow, group_id)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
    console.print(f"server group {group_id} removed")


# --- module queue -----------------------------------------------------------------------

@modulequeue_app.command("list")
def modulequeue_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show failed module actions with the module's own error."""
    from billow.services.hosting.provisioning import list_queue

    with _uow() as uow:
        rows = [{"id": e.id, "service": e.service_id, "module": e.module_name, "action": e.module_action,
                 "retries": e.num_retries, "error": e.last_attempt_error} for e in list_queue(uow)]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "service", "module", "action", "retries", "error")
    for r in rows:
        table.add_row(str(r["id"]), str(r["service"]), r["module"], r["action"], str(r["retries"]),
                      r["error"])
    console.print(table)


@modulequeue_app.command("retry")
def modulequeue_retry(
    entry_id: Annotated[int | None, typer.Argument(help="Queue entry id (omit with --all)")] = None,
    all_entries: Annotated[bool, typer.Option("--all", help="Retry every open entry")] = False,
) -> None:
    """Run failed module actions again; each retry commits on its own."""
    from billow.services.hosting.provisioning import list_queue, retry

    if entry_id is None and not all_entries:
        console.print("[red]error:[/red] give an entry id or --all")
        raise typer.Exit(2)
    with _uow() as uow:
        ids = [entry_id] if entry_id is not None else [e.id for e in list_queue(uow)]
    failed = 0
    for queued in ids:
        with _uow() as uow:
            try:
                result = retry(uow, queued)
            except BillowError as exc:
                _fail(exc)
            uow.commit()
        if result.success:
            console.print(f"entry {queued}: done")
        else:
            failed += 1
            console.print(f"[red]entry {queued} failed:[/red] {result.error}")
    if failed:
        raise typer.Exit(1)


# --- products ---------------------------------------------------------------------------

@product_app.command("overages")
def product_overages(
    pid: int,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Bill disk and bandwidth overages")
    ] = None,
    disk_limit: Annotated[int | None, typer.Option("--disk-limit", help="Soft disk limit")] = None,
    bw_limit: Annotated[int | None, typer.Option("--bw-limit", help="Soft bandwidth limit")] = None,
    disk_price: Annotated[str | None, typer.Option("--disk-price", help="Price per disk unit")] = None,
    bw_price: Annotated[str | None, typer.Option("--bw-price", help="Price per bandwidth unit")] = None,
    disk_unit: Annotated[str | None, typer.Option("--disk-unit", help="MB, GB or TB")] = None,
    bw_unit: Annotated[str | None, typer.Option("--bw-unit", help="MB, GB or TB")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show or change a product's overage billing (WHMCS product "Other" tab).

    Prices are per unit in the default currency (up to 4 decimals); other currencies are
    converted by their exchange rate when the charges are worked out, on the last day of
    each month (``OverageBillingMethod``: 1 invoice at once, 2 add to the next invoice).
    """
    from billow.services.billing.overages import set_product_overages

    with _uow() as uow:
        try:
            product = set_product_overages(
                uow, pid, enabled=enable, disk_limit=disk_limit, bw_limit=bw_limit, disk_price=disk_price,
                bw_price=bw_price, disk_unit=disk_unit, bw_unit=bw_unit)
        except BillowError as exc:
            _fail(exc)
        uow.commit()
        row = {"pid": product.id, "overagesenabled": product.overagesenabled,
               "overagesdisklimit": product.overagesdisklimit, "overagesdiskunit": product.overagesdiskunit,
               "overagesdiskprice": f"{product.overagesdiskprice:.4f}",
               "overagesbwlimit": product.overagesbwlimit, "overagesbwunit": product.overagesbwunit,
               "overagesbwprice": f"{product.overagesbwprice:.4f}"}
    if as_json:
        print(json.dumps(row))
        return
    state = "on" if row["overagesenabled"] else "off"
    disk, bw = row["overagesdiskunit"], row["overagesbwunit"]
    console.print(f"product {pid} overages {state}: disk {row['overagesdisklimit']} {disk} "
                  f"then {row['overagesdiskprice']}/{disk}, bandwidth {row['overagesbwlimit']} {bw} "
                  f"then {row['overagesbwprice']}/{bw}")
# --- currencies ----------------------------------------------------------------------------
currency_app = typer.Typer(help="Currencies: exchange rates and converted prices.", no_args_is_help=True)
app.add_typer(currency_app, name="currency")


@currency_app.command("update-rates")
def currency_update_rates(
    prices: Annotated[
        bool, typer.Option("--prices", help="Then recompute other currencies' prices from the new rates")
    ] = False,
    url: Annotated[str, typer.Option("--url", help="Feed address (default: BILLOW_EXCHANGE_RATES_URL)")] = "",
) -> None:
    """Fetch the ECB reference rates now and set every non-default currency's rate.

    The same service as the daily CurrencyUpdateExchangeRates task (WHMCS's "Update
    Exchange Rates" button); with --prices also what CurrencyUpdateProductPricing does.
    """
    from billow.services.catalog.ecb_feed import fetch_daily_rates
    from billow.services.catalog.exchange_rates import show_rate, update_exchange_rates

    settings = get_settings()
    try:
        feed = fetch_daily_rates(url or settings.exchange_rates_url,
                                 timeout=settings.exchange_rates_timeout_seconds)
        with _uow() as uow:
            outcome = update_exchange_rates(uow, feed)
            uow.commit()
    except BillowError as exc:
        _fail(exc)
    day = feed.day.isoformat() if feed.day else "an undated feed"
    console.print(f"rates of {day}")
    for change in outcome.updated:
        console.print(f"Updated {change.code} Exchange Rate to {show_rate(change.new)}")
    for _, code in outcome.missing:
        console.print(f"[yellow]Update Failed for {code} Exchange Rate[/yellow] (not in the feed)")
    if prices:
        console.print(f"{_convert_all_prices()} price rows updated")
    if outcome.missing:
        raise typer.Exit(1)


@currency_app.command("update-prices")
def currency_update_prices() -> None:
    """Recompute every other currency's prices from the default currency's and the stored rates."""
    console.print(f"{_convert_all_prices()} price rows updated")


def _convert_all_prices(page: int = 200) -> int:
    from billow.services.catalog.price_conversion import base_price_ids, convert_prices

    changed, after = 0, 0
    while True:
        with _uow() as uow:
            try:
                ids = base_price_ids(uow, after=after, limit=page)
                changed += convert_prices(uow, ids)
            except BillowError as exc:
                _fail(exc)
            uow.commit()
        if len(ids) < page:
            return changed
        after = ids[-1]


if __name__ == "__main__":
    app()
