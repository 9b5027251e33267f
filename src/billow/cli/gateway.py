"""``billow gateway``: payment gateways (activation, settings, the Gateway Log).

Settings are given as ``--setting key=value`` (repeat) and stored encrypted; what is
printed never shows a secret (keys, passwords, tokens are masked).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from billow.cli.common import console, error, unit_of_work
from billow.services.billing import gateway_log, gateway_settings
from billow.services.billing.gateway_settings import GatewayView

app = typer.Typer(help="Payment gateways: activation, settings and the Gateway Log.", no_args_is_help=True)

SettingOption = Annotated[list[str] | None, typer.Option("--setting", help="key=value (repeat)")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _pairs(settings: list[str] | None) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in settings or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            error(f"--setting needs key=value: {item.split('=')[0]!r}")
        pairs[key.strip()] = value
    return pairs


def _print(view: GatewayView, as_json: bool) -> None:
    if as_json:
        print(json.dumps(asdict(view)))
        return
    mode = "test" if view.test_mode else "live"
    state = "active" if view.active else "inactive"
    console.print(f"{view.name} ({view.display_name}): {state}, {mode} mode")
    for key, value in sorted(view.settings.items()):
        console.print(f"  {key} = {value}", highlight=False, markup=False)
    console.print(f"  hooks: {', '.join(view.hooks) or '-'}")


@app.command("activate")
def gateway_activate(
    name: str, setting: SettingOption = None,
    test_mode: Annotated[bool, typer.Option("--test-mode/--live", help="Use the gateway's sandbox")] = False,
    display: Annotated[str, typer.Option("--display-name", help="Name shown to clients")] = "",
    order: Annotated[int | None, typer.Option("--order", help="Display order")] = None,
    as_json: JsonOption = False,
) -> None:
    """Activate a gateway with its settings (kept encrypted)."""
    with unit_of_work() as uow:
        view = gateway_settings.activate(uow, name, _pairs(setting), test_mode=test_mode, display=display,
                                         sortorder=order)
    _print(view, as_json)


@app.command("deactivate")
def gateway_deactivate(name: str) -> None:
    """Deactivate a gateway (its settings are kept)."""
    with unit_of_work() as uow:
        view = gateway_settings.deactivate(uow, name)
    console.print(f"{view.name} deactivated")


@app.command("settings")
def gateway_settings_cmd(name: str, setting: SettingOption = None, as_json: JsonOption = False) -> None:
    """Change some settings of a gateway (the others, its activation and mode are kept)."""
    with unit_of_work() as uow:
        view = gateway_settings.update_settings(uow, name, _pairs(setting))
    _print(view, as_json)


@app.command("show")
def gateway_show(name: str, as_json: JsonOption = False) -> None:
    """Show a gateway, its mode and its settings (secrets masked)."""
    with unit_of_work(commit=False) as uow:
        view = gateway_settings.show(uow, name)
    _print(view, as_json)


@app.command("list")
def gateway_list(as_json: JsonOption = False) -> None:
    """List installed gateways, active or not."""
    with unit_of_work(commit=False) as uow:
        views = gateway_settings.all_gateways(uow)
    if as_json:
        print(json.dumps([asdict(v) for v in views]))
        return
    table = Table("gateway", "display name", "active", "mode", "hooks")
    for v in views:
        table.add_row(v.name, v.display_name, "yes" if v.active else "no", "test" if v.test_mode else "live",
                      ", ".join(v.hooks))
    console.print(table)


@app.command("log")
def gateway_log_cmd(
    gateway: Annotated[str, typer.Option("--gateway", help="Only this gateway")] = "",
    limit: Annotated[int, typer.Option("--limit", help="How many entries, newest first")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The Gateway Log: every exchange with a gateway, secrets and card data masked."""
    with unit_of_work(commit=False) as uow:
        rows: list[dict[str, Any]] = [
            {"id": e.id, "date": e.date.strftime("%Y-%m-%d %H:%M:%S"), "gateway": e.gateway, "kind": e.kind,
             "result": e.result, "data": json.loads(e.data or "{}")}
            for e in gateway_log.entries(uow, gateway=gateway.strip().lower(), limit=max(limit, 1))]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "date", "gateway", "kind", "result", "data")
    for r in rows:
        table.add_row(str(r["id"]), r["date"], r["gateway"], r["kind"], r["result"],
                      json.dumps(r["data"], sort_keys=True))
    console.print(table)
