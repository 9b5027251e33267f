"""Stored pay methods (WHMCS ``AddPayMethod``/``GetPayMethods``/``UpdatePayMethod``/``DeletePayMethod``).

Billow never stores a card number: ``CreditCard`` (a card kept locally) is refused as WHMCS
refuses it when no local-card gateway is enabled; ``RemoteCreditCard`` hands the card to
the named gateway's ``store_remote`` hook (outside any transaction) and keeps only its
token (encrypted), brand, last four digits and expiry. ``BankAccount`` keeps the routing
code and account number encrypted and shows them masked. Every exchange with a gateway is
written to the Gateway Log, masked.

The default pay method is the one with the lowest ``order_preference`` (the one automatic
captures and ``CapturePayment`` use).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from billow.db.models import Client, PayMethod
from billow.errors import NotFound, ValidationError
from billow.modules.gateways import active_gateways, load_gateway
from billow.modules.gateways.base import Gateway, GatewayResult, StoreRequest, supports
from billow.security import decrypt, encrypt
from billow.services.billing import gateway_log
from billow.uow import UnitOfWork

TYPES = ("BankAccount", "CreditCard", "RemoteCreditCard")
CARD_TYPES = ("CreditCard", "RemoteCreditCard")
BANK_TYPES = ("BankAccount", "RemoteBankAccount")

_EXPIRY = re.compile(r"^(0[1-9]|1[0-2])/?(\d{2}|\d{4})$")


@dataclass
class CardInput:
    number: str = ""
    expiry: str = ""
    start: str = ""
    issue_number: str = ""
    cvv: str = ""


@dataclass
class BankInput:
    name: str = ""
    account_type: str = ""
    code: str = ""
    account: str = ""


def _client(uow: UnitOfWork, client_id: int, message: str) -> Client:
    client = uow.session.get(Client, client_id) if client_id else None
    if client is None:
        raise NotFound(message, code="client_not_found")
    return client


def parse_expiry(text: str, message: str = "Expiry Date is invalid") -> str:
    """``MMYY``, ``MM/YY`` or ``MM/YYYY`` as ``MM/YY``."""
    match = _EXPIRY.match(text.strip())
    if match is None:
        raise ValidationError(message, code="pay_method_date_invalid")
    return f"{match.group(1)}/{match.group(2)[-2:]}"


def _check_card_extras(card: CardInput) -> None:
    if card.start:
        parse_expiry(card.start, "Start Date is invalid")
    if card.issue_number and not card.issue_number.isdigit():
        raise ValidationError("Issue Number is invalid", code="pay_method_issue_number_invalid")


def _storage_gateways(uow: UnitOfWork) -> list[Gateway]:
    return [g for g in active_gateways(uow) if supports(g, "store_remote")]


def _store_remote(uow: UnitOfWork, gateway: Gateway, request: StoreRequest, kind: str) -> GatewayResult:
    """Ask *gateway* to store (or update) a card, with no transaction open, and log it."""
    with uow.outside_transaction():
        try:
            result = gateway.store_remote(request)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - a broken gateway is a refusal, reported as WHMCS does
            result = GatewayResult("error", reason=f"{type(exc).__name__}: {exc}")
    gateway_log.record(uow, gateway.system_name, kind, {
        "card_number": request.card_number, "card_expiry": request.card_expiry, "token": result.transid,
        "status": result.status, "reason": result.reason, "card_type": result.card_type,
        "card_last_four": result.card_last_four, "rawdata": result.rawdata,
    }, "Success" if result.ok else (result.status or "Error").title())
    return result


def _next_preference(uow: UnitOfWork, client_id: int, default: bool) -> int:
    bound = func.min if default else func.max
    current = uow.session.scalar(select(bound(PayMethod.order_preference)).where(
        PayMethod.client_id == client_id, PayMethod.deleted_at.is_(None)))
    if current is None:
        return 0
    return current - 1 if default else current + 1


def add_pay_method(uow: UnitOfWork, client_id: int, kind: str, *, description: str = "", gateway: str = "",
                   card: CardInput | None = None, bank: BankInput | None = None,
                   set_as_default: bool = False) -> PayMethod:
    """Store a pay method for *client_id* (WHMCS ``AddPayMethod``, its checks in its order)."""
    if not client_id:
        raise ValidationError("Client ID Is Required", code="client_id_required")
    _client(uow, client_id, "Invalid Client ID")
    kind = kind or "CreditCard"
    if kind not in TYPES:
        raise ValidationError("Invalid Pay Method Type. Type should be one of 'BankAccount', 'CreditCard', "
                              "or 'RemoteCreditCard'", code="pay_method_type_invalid")
    card, bank = card or CardInput(), bank or BankInput()
    method = PayMethod(client_id=client_id, type=kind, description=description[:255])
    if kind == "CreditCard":
        raise ValidationError("No Local Credit Card Payment Gateways Enabled", code="local_cards_refused")
    if kind == "RemoteCreditCard":
        _add_remote_card(uow, method, gateway, card, client_id)
    else:
        if not bank.code:
            raise ValidationError("Routing number is required", code="bank_code_required")
        if not bank.account:
            raise ValidationError("Account number is required", code="bank_account_required")
        _set_bank(method, bank)
    method.order_preference = _next_preference(uow, client_id, set_as_default)
    method.updated_at = uow.now
    uow.session.add(method)
    uow.session.flush()
    return method


def _add_remote_card(uow: UnitOfWork, method: PayMethod, gateway_name: str, card: CardInput,
                     client_id: int) -> None:
    if not gateway_name:
        raise ValidationError("Gateway is Required for RemoteCreditCard type", code="gateway_required")
    if not card.number:
        raise ValidationError("Card Number is required for 'CreditCard' or 'RemoteCreditCard' type",
                              code="card_number_required")
    if not card.expiry:
        raise ValidationError("Expiry Date is required for 'CreditCard' or 'RemoteCreditCard' type",
                              code="card_expiry_required")
    expiry = parse_expiry(card.expiry)
    _check_card_extras(card)
    active = {g.system_name: g for g in active_gateways(uow)}
    gateway = active.get(gateway_name.strip().lower())
    if gateway is None:
        names = ", ".join(g.system_name for g in _storage_gateways(uow))
        raise ValidationError(f"Invalid Gateway Module Name. Must be one of: {names}", code="gateway_invalid")
    if not supports(gateway, "store_remote"):
        raise ValidationError("Unsupported Gateway Type for Storage", code="gateway_cannot_store")
    result = _store_remote(uow, gateway, StoreRequest(
        client={"userid": client_id}, settings=gateway.settings, card_number=card.number,
        card_expiry=expiry.replace("/", ""), card_cvv=card.cvv), "store_remote")
    if not result.ok or not result.transid:
        raise ValidationError(f"Error Creating Remote Token: {result.reason or result.status}",
                              code="remote_token_failed")
    method.gateway = gateway.system_name
    method.token_enc = encrypt(result.transid)
    method.card_type = result.card_type[:30]
    method.card_last_four = (result.card_last_four or _digits(card.number)[-4:])[:4]
    method.card_expiry = _expiry_from(result.card_expiry) or expiry


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _expiry_from(text: str) -> str:
    try:
        return parse_expiry(text) if text else ""
    except ValidationError:
        return ""


def _set_bank(method: PayMethod, bank: BankInput) -> None:
    method.bank_name = bank.name[:100]
    method.bank_account_type = bank.account_type[:30]
    if bank.code:
        method.bank_code_enc = encrypt(bank.code.strip())
    if bank.account:
        method.bank_account_enc = encrypt(bank.account.strip())


def _owned(uow: UnitOfWork, client_id: int, pay_method_id: int, *, client_message: str) -> PayMethod:
    if not client_id:
        raise ValidationError(client_message, code="client_id_required")
    if not pay_method_id:
        raise ValidationError("Pay Method ID is Required", code="pay_method_id_required")
    method = uow.session.get(PayMethod, pay_method_id)
    if method is None or method.deleted_at is not None:
        raise NotFound("Invalid Pay Method ID", code="pay_method_not_found")
    if method.client_id != client_id:
        raise ValidationError("Pay Method does not belong to passed Client ID", code="pay_method_not_owned")
    return method


def update_pay_method(uow: UnitOfWork, client_id: int, pay_method_id: int, *, card: CardInput | None = None,
                      bank: BankInput | None = None, set_as_default: bool = False) -> PayMethod:
    """Change a stored pay method (WHMCS ``UpdatePayMethod``)."""
    method = _owned(uow, client_id, pay_method_id, client_message="Client ID is Required")
    card, bank = card or CardInput(), bank or BankInput()
    card_given = any((card.number, card.expiry, card.start, card.issue_number))
    bank_given = any((bank.name, bank.account_type, bank.code, bank.account))
    if method.type in BANK_TYPES:
        if method.type != "BankAccount" and bank_given:
            raise ValidationError("Unsupported Gateway Type for Update", code="pay_method_update_unsupported")
        if not bank_given and not set_as_default:
            raise ValidationError("No Details Provided for Update", code="pay_method_no_changes")
        if bank_given:
            _set_bank(method, bank)
    else:
        if not card_given and not set_as_default:
            raise ValidationError("No Details Provided for Update", code="pay_method_no_changes")
        if card_given:
            _update_card(uow, method, card)
    if set_as_default:
        method.order_preference = _next_preference(uow, method.client_id, True)
    method.updated_at = uow.now
    uow.session.flush()
    return method


def _update_card(uow: UnitOfWork, method: PayMethod, card: CardInput) -> None:
    expiry = parse_expiry(card.expiry) if card.expiry else method.card_expiry
    _check_card_extras(card)
    gateway = load_gateway(uow, method.gateway) if method.gateway else None
    if gateway is None or not supports(gateway, "store_remote"):
        raise ValidationError("Unsupported Gateway Type for Update", code="pay_method_update_unsupported")
    result = _store_remote(uow, gateway, StoreRequest(
        client={"userid": method.client_id}, settings=gateway.settings, card_number=card.number,
        card_expiry=expiry.replace("/", ""), card_cvv=card.cvv,
        token=decrypt(method.token_enc) if method.token_enc else ""), "update_remote")
    if not result.ok or not result.transid:
        raise ValidationError(f"Error Updating Remote Pay Method: {result.reason or result.status}",
                              code="remote_update_failed")
    method.token_enc = encrypt(result.transid)
    if card.number:
        method.card_last_four = (result.card_last_four or _digits(card.number)[-4:])[:4]
        method.card_type = (result.card_type or method.card_type)[:30]
    method.card_expiry = _expiry_from(result.card_expiry) or expiry


def delete_pay_method(uow: UnitOfWork, client_id: int, pay_method_id: int, *,
                      fail_on_remote_failure: bool = False) -> None:
    """Forget a pay method (WHMCS ``DeletePayMethod``): the gateway is asked to drop the
    token where it can; its refusal stops the deletion only with *fail_on_remote_failure*."""
    method = _owned(uow, client_id, pay_method_id, client_message="Client ID is Required")
    gateway = load_gateway(uow, method.gateway) if method.gateway else None
    if gateway is not None and method.token_enc and supports(gateway, "remove_remote"):
        request = StoreRequest(client={"userid": method.client_id}, settings=gateway.settings,
                               token=decrypt(method.token_enc))
        with uow.outside_transaction():
            try:
                result = gateway.remove_remote(request)  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - reported as the gateway's refusal
                result = GatewayResult("error", reason=f"{type(exc).__name__}: {exc}")
        gateway_log.record(uow, gateway.system_name, "remove_remote",
                           {"token": request.token, "status": result.status, "reason": result.reason},
                           "Success" if result.ok else "Error")
        if not result.ok and fail_on_remote_failure:
            raise ValidationError(f"Error Deleting Remote Pay Method: {result.reason or result.status}",
                                  code="remote_delete_failed")
        method = uow.session.get(PayMethod, pay_method_id)  # type: ignore[assignment]
    method.deleted_at = uow.now
    method.updated_at = uow.now
    uow.session.flush()


def list_pay_methods(uow: UnitOfWork, client_id: int, *, pay_method_id: int | None = None,
                     kind: str = "") -> list[PayMethod]:
    """A client's pay methods, default first (WHMCS ``GetPayMethods``)."""
    if not client_id:
        raise ValidationError("Client ID Is Required", code="client_id_required")
    if kind and kind not in ("BankAccount", "CreditCard"):
        raise ValidationError("Invalid Pay Method Type. Should be 'BankAccount' or 'CreditCard'",
                              code="pay_method_type_invalid")
    _client(uow, client_id, "Client Not Found")
    query = (select(PayMethod).where(PayMethod.client_id == client_id, PayMethod.deleted_at.is_(None))
             .order_by(PayMethod.order_preference, PayMethod.id))
    if pay_method_id:
        query = query.where(PayMethod.id == pay_method_id)
    if kind:
        query = query.where(PayMethod.type.in_(CARD_TYPES if kind == "CreditCard" else BANK_TYPES))
    return list(uow.session.scalars(query))


def masked_account(method: PayMethod) -> str:
    """The bank account number as shown: its last four characters only."""
    return gateway_log.last_four(decrypt(method.bank_account_enc)) if method.bank_account_enc else ""


def describe(method: PayMethod) -> dict[str, Any]:
    """What may be shown of *method*: no number in full, ever."""
    return {
        "id": method.id, "type": method.type, "description": method.description, "gateway": method.gateway,
        "card_type": method.card_type, "card_last_four": method.card_last_four,
        "card_expiry": method.card_expiry, "bank_name": method.bank_name,
        "bank_account_type": method.bank_account_type, "bank_account": masked_account(method),
        "remote_token": decrypt(method.token_enc) if method.token_enc else "",
        "updated_at": method.updated_at or method.created_at,
    }
