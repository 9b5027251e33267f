"""``billow invoice``: invoice PDFs and refunds."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from billow.cli.common import console, error, unit_of_work
from billow.services.billing.invoice_pdf import render_invoice_pdf
from billow.services.billing.payments import refund_payment

app = typer.Typer(help="Invoices.", no_args_is_help=True)


@app.command("pdf")
def invoice_pdf(
    invoice_id: int,
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write the PDF to")],
) -> None:
    """Render invoice INVOICE_ID as a PDF file."""
    with unit_of_work(commit=False) as uow:
        pdf = render_invoice_pdf(uow, invoice_id)
    output.write_bytes(pdf)
    console.print(f"invoice {invoice_id} written to {output} ({len(pdf)} bytes)")


@app.command("refund")
def invoice_refund(
    transaction_id: int,
    amount: Annotated[str, typer.Option("--amount", help="Amount to refund (default: all)")] = "",
    to_credit: Annotated[bool, typer.Option("--to-credit", help="Refund onto the client's credit")] = False,
    gateway: Annotated[bool, typer.Option("--gateway", help="Pay it back through the gateway")] = False,
    reverse: Annotated[bool, typer.Option("--reverse", help="Paid invoice back to Unpaid")] = False,
    transid: Annotated[str, typer.Option("--transid", help="The refund's own transaction id")] = "",
) -> None:
    """Refund payment TRANSACTION_ID in full or in part (to the gateway record or to credit)."""
    try:
        value = Decimal(amount) if amount else None
    except InvalidOperation:
        error(f"not an amount: {amount}")
    with unit_of_work() as uow:
        refund = refund_payment(uow, transaction_id, value, to_credit=to_credit, through_gateway=gateway,
                                refund_transid=transid, reverse=reverse)
    console.print(f"refunded {refund.amountout} (transaction {refund.id})")
