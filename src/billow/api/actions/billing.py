"""Billing actions: invoices, payments, transactions, credit, billable items, gateways.

Handlers parse WHMCS's parameters, call one service function and shape the answer as the
examples in ``api-actions.json`` show it (money as two-decimal strings, ids as the
example types them).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from billow.api.actions._shared import page, paging, whmcs_date, whmcs_datetime
from billow.api.context import Context
from billow.api.params import (
    ISO_DATE,
    STORED_PLACES,
    Params,
    as_bool,
    parse_amount,
    parse_date,
    parse_int,
    parse_moment,
)
from billow.api.registry import Action
from billow.config import get_settings
from billow.db.models import Invoice, Transaction
from billow.errors import ValidationError
from billow.modules.gateways import active_gateways, display_name, load_gateway
from billow.modules.gateways.base import supports
from billow.money import ZERO, fmt
from billow.services.billing import credit as credit_svc
from billow.services.billing import generation as invoicegen
from billow.services.billing import invoice_edits, invoice_queries, invoices, payments
from billow.services.billing.billable_items import add_billable_item as add_item
from billow.services.billing.contract import InvoiceLine
from billow.services.billing.invoice_edits import InvoiceChanges, ItemChange
from billow.services.billing.invoice_queries import InvoiceFilter
from billow.services.billing.payments import TransactionInput
from billow.services.clients.accounts import get_client

_NUMBERED = re.compile(r"^itemdescription(\d+)$")


def money(amount: Decimal | None, places: int = 2) -> str:
    """An amount as WHMCS sends it: a string with the currency's decimals (at least two)."""
    return fmt(amount if amount is not None else ZERO, max(2, places))


def _amount(params: Params, key: str, *, error: str | None = None,
            places: int | None = STORED_PLACES) -> Decimal | None:
    """A money parameter (see :func:`parse_amount`), with at most *places* decimals: the
    currency's where the action knows it."""
    return params.decimal(key, None, error=error or f"Invalid {key}", places=places)


def _when(text: str, error: str) -> datetime | None:
    """A WHMCS date or date-time in the billing time zone (see :func:`parse_moment`)."""
    return parse_moment(text, error, ZoneInfo(get_settings().timezone))


# --- invoices -----------------------------------------------------------------------------

def _numbered_lines(params: Params) -> list[InvoiceLine]:
    """CreateInvoice's ``itemdescription1``/``itemamount1``/``itemtaxed1`` ... lines, in order."""
    found: dict[int, tuple[Any, Any, Any]] = {}
    for key in params:
        match = _NUMBERED.match(key)
        if match:
            n = parse_int(match.group(1), f"Invalid {key}")
            found[n] = (params.str(key), params.get(f"itemamount{n}"), params.get(f"itemtaxed{n}"))
    for name in ("itemdescription",):
        nested = params.dict(name)
        for k, value in nested.items():
            if str(k).isascii() and str(k).isdigit():
                n = parse_int(k, f"Invalid itemdescription[{k}]")
                found[n] = (str(value), params.dict("itemamount").get(k), params.dict("itemtaxed").get(k))
    lines = []
    for n in sorted(found):
        description, amount, taxed = found[n]
        try:
            value = parse_amount(amount, f"Invalid itemamount{n}") if amount not in (None, "") else ZERO
        except ValidationError:
            raise ValidationError(f"Invalid itemamount{n}") from None
        lines.append(InvoiceLine(description=description, amount=value, taxed=as_bool(taxed)))
    return lines


def create_invoice(ctx: Context, params: Params) -> dict[str, Any]:
    draft = params.bool("draft")
    send = params.bool("sendinvoice")
    if draft and send:
        raise ValidationError(
            "Cannot create and send a draft invoice in a single API request. Please create and send "
            "separately."
        )
    status = "Draft" if draft else (params.str("status") or "Unpaid")
    invoice = invoices.create_invoice(
        ctx.uow,
        params.int("userid") or params.int("clientid"),
        _numbered_lines(params),
        date=params.date("date", error="Invalid date"),
        duedate=params.date("duedate", error="Invalid duedate"),
        paymentmethod=params.str("paymentmethod"),
        status=status,
        notes=params.str("notes"),
        taxrate=_amount(params, "taxrate"),
        taxrate2=_amount(params, "taxrate2"),
        send_email=send,
        apply_credit=params.bool("autoapplycredit"),
    )
    return {"invoiceid": str(invoice.id), "status": invoice.status}


def _item_changes(params: Params) -> dict[int, ItemChange]:
    descriptions, amounts, taxed = (params.dict(k) for k in ("itemdescription", "itemamount", "itemtaxed"))
    changes: dict[int, ItemChange] = {}
    for key in set(descriptions) | set(amounts) | set(taxed):
        if key not in descriptions or key not in amounts or key not in taxed:
            raise ValidationError(
                "Missing Variables: itemdescription, itemamount and itemtaxed are required for each item "
                "being changed"
            )
        item_id = parse_int(key, f"Invalid itemamount[{key}]")
        amount = parse_amount(amounts[key], f"Invalid itemamount[{key}]")
        changes[item_id] = ItemChange(str(descriptions[key]), amount, as_bool(taxed[key]))
    return changes


def _new_items(params: Params) -> list[InvoiceLine]:
    descriptions = params.list("newitemdescription")
    amounts, taxed = params.list("newitemamount"), params.list("newitemtaxed")
    lines = []
    for index, description in enumerate(descriptions):
        raw = amounts[index] if index < len(amounts) else "0"
        amount = parse_amount(raw, f"Invalid newitemamount[{index}]")
        is_taxed = as_bool(taxed[index]) if index < len(taxed) else False
        lines.append(InvoiceLine(str(description), amount, is_taxed))
    return lines


def update_invoice(ctx: Context, params: Params) -> dict[str, Any]:
    invoice_id = params.int("invoiceid")
    invoices.get_invoice(ctx.uow, invoice_id)
    delete_ids = [parse_int(v, "Invalid deletelineids") for v in params.list("deletelineids")]
    changes = InvoiceChanges(
        status=params.str("status") or None,
        paymentmethod=params.str("paymentmethod") if params.has("paymentmethod") else None,
        taxrate=_amount(params, "taxrate"),
        taxrate2=_amount(params, "taxrate2"),
        credit=_amount(params, "credit"),
        date=params.date("date", error="Invalid date"),
        duedate=params.date("duedate", error="Invalid duedate"),
        datepaid=_when(params.str("datepaid"), "Invalid datepaid"),
        notes=params.str("notes") if params.has("notes") else None,
        changed_items=_item_changes(params),
        new_items=_new_items(params),
        delete_item_ids=delete_ids,
        publish=params.bool("publish"),
        publish_and_email=params.bool("publishandsendemail"),
    )
    invoice = invoice_edits.update_invoice(ctx.uow, invoice_id, changes)
    return {"invoiceid": str(invoice.id)}


def transaction_row(txn: Transaction) -> dict[str, Any]:
    """One ``transactions.transaction[]`` entry (every value a string, as WHMCS sends it)."""
    return {
        "id": str(txn.id), "userid": str(txn.client_id), "currency": str(txn.currency_id),
        "gateway": txn.gateway, "date": whmcs_datetime(txn.date), "description": txn.description,
        "amountin": money(txn.amountin), "fees": money(txn.fees), "amountout": money(txn.amountout),
        "rate": fmt(txn.rate, 5), "transid": txn.transid, "invoiceid": str(txn.invoice_id),
        "refundid": str(txn.refundid),
    }


def _is_merchant(ctx: Context, gateway_name: str) -> bool:
    gateway = load_gateway(ctx.uow, gateway_name)
    return gateway is not None and supports(gateway, "capture")


def get_invoice(ctx: Context, params: Params) -> dict[str, Any]:
    invoice = invoices.get_invoice(ctx.uow, params.int("invoiceid"))
    places = invoices.places_of(invoice)
    txns = payments.list_transactions(ctx.uow, invoice_id=invoice.id)
    return {
        "invoiceid": invoice.id, "invoicenum": invoice.invoicenum, "userid": invoice.client_id,
        "date": whmcs_date(invoice.date), "duedate": whmcs_date(invoice.duedate),
        "datepaid": whmcs_datetime(invoice.datepaid),
        "lastcaptureattempt": whmcs_datetime(invoice.last_capture_attempt),
        "subtotal": money(invoice.subtotal, places), "credit": money(invoice.credit, places),
        "tax": money(invoice.tax, places), "tax2": money(invoice.tax2, places),
        "total": money(invoice.total, places),
        "balance": money(invoices.invoice_balance(ctx.uow, invoice), places),
        "taxrate": fmt(invoice.taxrate, 3), "taxrate2": fmt(invoice.taxrate2, 3),
        "status": invoice.status, "paymentmethod": invoice.paymentmethod, "notes": invoice.notes,
        "ccgateway": _is_merchant(ctx, invoice.paymentmethod),
        "items": {"item": [
            {"id": item.id, "type": item.type, "relid": item.relid, "description": item.description,
             "amount": money(item.amount, places), "taxed": 1 if item.taxed else 0}
            for item in invoice.items
        ]},
        "transactions": {"transaction": [transaction_row(t) for t in txns]} if txns else "",
    }


def invoice_row(invoice: Invoice) -> dict[str, Any]:
    client, currency = invoice.client, invoice.currency
    places = invoices.places_of(invoice)
    return {
        "id": invoice.id, "userid": invoice.client_id,
        "firstname": client.firstname if client else "", "lastname": client.lastname if client else "",
        "companyname": client.companyname if client else "", "invoicenum": invoice.invoicenum,
        "date": whmcs_date(invoice.date), "duedate": whmcs_date(invoice.duedate),
        "datepaid": whmcs_datetime(invoice.datepaid),
        "last_capture_attempt": whmcs_datetime(invoice.last_capture_attempt),
        "date_refunded": whmcs_datetime(invoice.date_refunded),
        "date_cancelled": whmcs_datetime(invoice.date_cancelled),
        "subtotal": money(invoice.subtotal, places), "credit": money(invoice.credit, places),
        "tax": money(invoice.tax, places), "tax2": money(invoice.tax2, places),
        "total": money(invoice.total, places),
        "taxrate": fmt(invoice.taxrate, 3), "taxrate2": fmt(invoice.taxrate2, 3),
        "status": invoice.status, "paymentmethod": invoice.paymentmethod,
        "paymethodid": invoice.paymethodid, "notes": invoice.notes,
        "created_at": whmcs_datetime(invoice.created_at), "updated_at": whmcs_datetime(invoice.updated_at),
        "currencycode": currency.code if currency else "",
        "currencyprefix": currency.prefix if currency else "",
        "currencysuffix": currency.suffix if currency else "",
    }


def get_invoices(ctx: Context, params: Params) -> dict[str, Any]:
    start, limit = paging(params)
    total, rows = invoice_queries.list_invoices(
        ctx.uow,
        InvoiceFilter(client_id=params.int("userid") or params.int("clientid") or None,
                      status=params.str("status"), orderby=params.str("orderby") or "id",
                      descending=params.str("order").lower() == "desc"),
        offset=start, limit=limit,
    )
    return page(total, start, "invoices", "invoice", [invoice_row(r) for r in rows])


# --- payments and transactions -------------------------------------------------------------

def add_invoice_payment(ctx: Context, params: Params) -> dict[str, Any]:
    invoice_id = params.int("invoiceid")
    places = invoices.places_of(invoices.get_invoice(ctx.uow, invoice_id))
    payments.add_payment(
        ctx.uow, invoice_id,
        transid=params.str("transid"),
        gateway=params.str("gateway"),
        amount=_amount(params, "amount", places=places),
        fees=_amount(params, "fees", places=places) or ZERO,
        when=_when(params.str("date"), "Invalid Date Format - Expected: 'YYYY-MM-DD HH:mm:ss'"),
        noemail=params.bool("noemail"),
    )
    return {}


def _transaction_input(params: Params, *, client_key: str = "userid") -> TransactionInput:
    def opt_int(key: str) -> int | None:
        return params.int(key) if params.has(key) and params.str(key) != "" else None

    def opt_str(key: str) -> str | None:
        return params.str(key) if params.has(key) else None

    return TransactionInput(
        paymentmethod=opt_str("paymentmethod") if params.has("paymentmethod") else opt_str("gateway"),
        client_id=opt_int(client_key),
        invoice_id=opt_int("invoiceid"),
        transid=opt_str("transid"),
        when=_when(params.str("date"), "Invalid Date Format"),
        currency_id=opt_int("currencyid") if params.has("currencyid") else opt_int("currency"),
        description=opt_str("description"),
        amountin=_amount(params, "amountin"),
        fees=_amount(params, "fees"),
        amountout=_amount(params, "amountout"),
        rate=_amount(params, "rate"),
        refundid=opt_int("refundid"),
    )


def add_transaction(ctx: Context, params: Params) -> dict[str, Any]:
    data = _transaction_input(params)
    data.paymentmethod = params.str("paymentmethod")
    payments.add_transaction(ctx.uow, data, credit=params.bool("credit"),
                             allow_duplicate=params.bool("allowduplicatetransid"))
    return {}


def update_transaction(ctx: Context, params: Params) -> dict[str, Any]:
    txn = payments.update_transaction(ctx.uow, params.int("transactionid"), _transaction_input(params),
                                      credit=params.bool("credit"))
    return {"transactionid": txn.id}


def get_transactions(ctx: Context, params: Params) -> dict[str, Any]:
    rows = payments.list_transactions(
        ctx.uow, invoice_id=params.int("invoiceid"), client_id=params.int("clientid") or params.int("userid"),
        transid=params.str("transid"),
    )
    return page(len(rows), 0, "transactions", "transaction", [transaction_row(t) for t in rows])


def get_payment_methods(ctx: Context, params: Params) -> dict[str, Any]:
    methods = [{"module": g.system_name, "displayname": display_name(ctx.uow, g)}
               for g in active_gateways(ctx.uow)]
    return {"totalresults": len(methods), "paymentmethods": {"paymentmethod": methods}}


# --- credit -------------------------------------------------------------------------------

def add_credit(ctx: Context, params: Params) -> dict[str, Any]:
    kind = (params.str("type") or "add").lower()
    if kind not in ("add", "remove"):
        raise ValidationError("Type can only be add or remove")
    client_id = params.int("clientid")
    client = get_client(ctx.uow, client_id)
    places = client.currency.decimals if client.currency is not None else 2
    raw = params.str("amount")
    if not raw:
        raise ValidationError("No Amount Provided")
    if not re.fullmatch(r"\d+(\.\d+)?", raw):
        raise ValidationError("Amount must be in decimal format: ### or ###.##")
    amount = parse_amount(raw, "Amount must be in decimal format: ### or ###.##", places)
    on = None
    if params.str("date"):
        on = parse_date(params.str("date")[:10], "Date Format is not Valid", ISO_DATE)
    balance = credit_svc.add_credit(
        ctx.uow, client_id, amount, params.str("description"), remove=kind == "remove", on=on,
        admin_id=params.int("adminid") if params.has("adminid") else None,
    )
    return {"newbalance": money(balance)}


def apply_credit(ctx: Context, params: Params) -> dict[str, Any]:
    invoice_id = params.int("invoiceid")
    places = invoices.places_of(invoices.get_invoice(ctx.uow, invoice_id))
    raw = params.str("amount")
    amount: Decimal | None = None
    if raw and raw.lower() != "full":
        amount = _amount(params, "amount", error="Credit Amount to apply must be greater than zero",
                         places=places)
    invoice, applied, paid = invoices.apply_credit(
        ctx.uow, invoice_id, amount, noemail=params.bool("noemail"))
    return {"invoiceid": str(invoice.id), "amount": money(applied),
            "invoicepaid": "true" if paid else "false"}


def get_credits(ctx: Context, params: Params) -> dict[str, Any]:
    client_id = params.int("clientid")
    rows = credit_svc.list_credits(ctx.uow, client_id)
    credits = [
        {"id": str(r.id), "date": whmcs_date(r.date), "description": r.description, "amount": money(r.amount),
         "relid": str(r.relid)}
        for r in rows
    ]
    return {"totalresults": str(len(credits)), "clientid": str(client_id), "credits": {"credit": credits}}


# --- billable items and generation ----------------------------------------------------------

def add_billable_item(ctx: Context, params: Params) -> dict[str, Any]:
    duedate: date | None = None
    if params.str("duedate"):
        duedate = parse_date(params.str("duedate"), "Invalid Date Format - Expected: 'YYYY-mm-dd'", ISO_DATE)
    quantity = params.decimal("quantity", None) if params.has("quantity") else params.decimal("hours", None)
    item = add_item(
        ctx.uow, params.int("clientid"), params.str("description"),
        _amount(params, "amount") or ZERO,
        unit=params.str("unit") or ("hours" if params.has("hours") else "quantity"),
        quantity=quantity or ZERO,
        invoiceaction=params.str("invoiceaction") or "noinvoice",
        recur=params.int("recur"), recurcycle=params.str("recurcycle"), recurfor=params.int("recurfor"),
        duedate=duedate,
    )
    return {"status": "success", "billableid": item.id}


def _ids(params: Params, key: str) -> list[int] | None:
    if not params.has(key):
        return None
    return [parse_int(v, f"Invalid {key}") for v in params.list(key) if str(v).strip() != ""]


def gen_invoices(ctx: Context, params: Params) -> dict[str, Any]:
    client_id = params.int("clientid") or None
    made = invoicegen.generate_invoices(
        ctx.uow, client_id=client_id, service_ids=_ids(params, "serviceids"),
        addon_ids=_ids(params, "addonids"), domain_ids=_ids(params, "domainids"),
        no_email=params.bool("noemails"),
    )
    result: dict[str, Any] = {"numcreated": str(len(made))}
    if made:
        result["latestinvoiceid"] = max(inv.id for inv in made)
    return result


ACTIONS = [
    Action("CreateInvoice", create_invoice),
    Action("UpdateInvoice", update_invoice),
    Action("GetInvoice", get_invoice),
    Action("GetInvoices", get_invoices),
    Action("AddInvoicePayment", add_invoice_payment),
    Action("AddTransaction", add_transaction),
    Action("UpdateTransaction", update_transaction),
    Action("GetTransactions", get_transactions),
    Action("GetPaymentMethods", get_payment_methods),
    Action("AddCredit", add_credit),
    Action("ApplyCredit", apply_credit),
    Action("GetCredits", get_credits),
    Action("AddBillableItem", add_billable_item),
    Action("GenInvoices", gen_invoices),
]
