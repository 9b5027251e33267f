"""``billow email``: e-mail templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from billow.cli.common import console, unit_of_work
from billow.services.mail import templates as email

app = typer.Typer(help="E-mail templates and the send queue.", no_args_is_help=True)


@app.command("templates")
def email_templates(type_: Annotated[str, typer.Option("--type")] = "") -> None:
    """List e-mail templates (the shipped ones are added on first use)."""
    with unit_of_work() as uow:
        rows = email.list_templates(uow, type_=type_)
        table = Table("id", "name", "type", "subject", "status")
        for t in rows:
            table.add_row(str(t.id), t.name, t.type, t.subject, "disabled" if t.disabled else "active")
    console.print(table)


@app.command("edit")
def email_edit(
    name: str,
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    html_file: Annotated[str | None, typer.Option("--html-file", help="Jinja2 HTML body")] = None,
    text_file: Annotated[str | None, typer.Option("--text-file", help="Jinja2 text body")] = None,
    type_: Annotated[str, typer.Option("--type", help="Type of a new custom template")] = "",
    disable: Annotated[bool | None, typer.Option("--disable/--enable")] = None,
) -> None:
    """Edit a template (or add a custom one); bodies are read from files."""
    with unit_of_work() as uow:
        email.save_template(
            uow, name, type_=type_, subject=subject,
            html=Path(html_file).read_text() if html_file else None,
            text=Path(text_file).read_text() if text_file else None, disabled=disable,
        )
    console.print(f"template {name!r} saved")
