"""The ``billow`` command assembled: top-level commands first, then one sub-app per module.

The order here is the order ``billow --help`` lists them in.
"""

from __future__ import annotations

import typer

from billow.bootstrap import wire
from billow.cli import (
    admin,
    credential,
    currency,
    email,
    gateway,
    invoice,
    ip,
    modulequeue,
    product,
    role,
    server,
    servergroup,
    ticket,
    webhook,
)
from billow.cli.cron import cron
from billow.cli.outbox import outbox, worker
from billow.cli.system import demo, migrate, quickstart, serve

app = typer.Typer(help="Billow: billing and automation for hosting providers.", no_args_is_help=True)


@app.callback()
def _wire() -> None:
    """Every command runs with the areas wired together (see billow.bootstrap)."""
    wire()


for command in (migrate, demo, serve, quickstart, cron, worker, outbox):
    app.command()(command)

for name, sub_app in (
    ("admin", admin.app),
    ("credential", credential.app),
    ("role", role.app),
    ("ip", ip.app),
    ("ticket", ticket.app),
    ("invoice", invoice.app),
    ("webhook", webhook.app),
    ("email", email.app),
    ("server", server.app),
    ("servergroup", servergroup.app),
    ("modulequeue", modulequeue.app),
    ("product", product.app),
    ("currency", currency.app),
    ("gateway", gateway.app),
):
    app.add_typer(sub_app, name=name)
