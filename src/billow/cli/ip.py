"""``billow ip``: the API IP allow-list, and lifting a brute-force lock-out."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from billow.cli.common import console, unit_of_work
from billow.services.access import api_authentication
from billow.services.access import ip_allow_list as access

app = typer.Typer(help="The API IP allow-list and the brute-force lock-out.", no_args_is_help=True)


@app.command("allow")
def ip_allow(
    network: str, note: Annotated[str, typer.Option("--note", help="Why it is allowed")] = ""
) -> None:
    """Allow an IP address or CIDR range (IPv4 or IPv6) to call the API."""
    with unit_of_work() as uow:
        entry = access.add_allowed_ip(uow, network, note=note)
    console.print(f"allowed {entry.network}")


@app.command("remove")
def ip_remove(network: str) -> None:
    """Remove an IP address or range from the allow-list."""
    with unit_of_work() as uow:
        removed = access.remove_allowed_ip(uow, network)
    console.print(f"removed {removed} entr{'y' if removed == 1 else 'ies'}")


@app.command("list")
def ip_list() -> None:
    """Show the allow-list."""
    with unit_of_work(commit=False) as uow:
        table = Table("network", "credential", "note")
        for e in access.list_allowed_ips(uow):
            table.add_row(e.network, str(e.credential_id or "all"), e.note)
    console.print(table)


@app.command("unban")
def ip_unban(ip: str) -> None:
    """Lift the brute-force lock-out of an address at once (forget its failed logins)."""
    with unit_of_work() as uow:
        forgotten = api_authentication.unban_ip(uow, ip)
    plural = "" if forgotten == 1 else "s"
    console.print(f"unbanned {ip.strip()} ({forgotten} failed login{plural} forgotten)")
