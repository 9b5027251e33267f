"""Top-level commands that set up and serve Billow: ``migrate``, ``demo``, ``serve``, ``quickstart``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import uvicorn

from billow.cli.common import console, load_plugins, unit_of_work
from billow.config import get_settings
from billow.db.migrate import upgrade
from billow.demo import ensure_quickstart_access, load_demo
from billow.worker import start_in_thread

#: How ``serve`` runs uvicorn, also used by the tests' live server. Billow alone decides
#: which proxy's X-Forwarded-For to believe (``BILLOW_TRUSTED_PROXIES``, for every route):
#: uvicorn's own proxy-header handling, which by default trusts 127.0.0.1 and rewrites the
#: client address before Billow sees it, is off. No access log either: a GET may carry
#: credentials in its query string, and the API log keeps what an operator needs.
SERVER_OPTIONS: dict[str, Any] = {
    "proxy_headers": False,
    "forwarded_allow_ips": "",
    "access_log": False,
    "server_header": False,
}


def migrate() -> None:
    """Bring the database schema up to date."""
    upgrade(get_settings().resolved_database_url())
    console.print("database is up to date")


def demo() -> None:
    """Load demo data (idempotent): currencies, client groups, clients with contacts."""
    with unit_of_work() as uow:
        created = load_demo(uow)
    console.print(f"demo data ready ({created} new records)")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only)")] = 1,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run the outbox worker in this process")
    ] = False,
) -> None:
    """Serve the WHMCS-compatible API (migrates the embedded database first)."""
    upgrade(get_settings().resolved_database_url())
    load_plugins()
    if with_worker or get_settings().worker_in_process:
        start_in_thread()
        console.print("outbox worker running in-process")
    uvicorn.run(
        "billow.api.app:create_app", factory=True, host=host, port=port,
        workers=workers, log_level="info", **SERVER_OPTIONS,
    )


def quickstart(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Migrate, load demo data, make sure an admin and an API credential exist, then serve.

    This is what ``make run`` calls: one command from a fresh clone to a working API.
    """
    settings = get_settings()
    upgrade(settings.resolved_database_url())
    with unit_of_work() as uow:
        load_demo(uow)
        access = ensure_quickstart_access(uow)
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
