"""The payment gateway contract: WHMCS's gateway module functions in Pythonic form.

A gateway has a *system name* (``paypal``, ``banktransfer``: what invoices store in
``paymentmethod`` and what ``AddInvoicePayment`` takes as ``gateway``) and a *display
name*. What a gateway can do is what it defines: a hook left undefined on a subclass is
unsupported (WHMCS checks ``function_exists`` the same way), see :func:`supports`.

* ``link(request)`` — third-party gateways: the HTML (usually a form) that sends the
  payer to the gateway (WHMCS ``_link``).
* ``capture(request)`` — merchant gateways: charge a stored card/token (``_capture``).
* ``refund(request)`` — give money back through the gateway (``_refund``).
* ``store_remote(request: StoreRequest)`` — tokenisation gateways: hand the card to the
  gateway and get back its token (WHMCS ``_storeremote``). The result's ``transid`` is the
  token; ``card_type``/``card_last_four``/``card_expiry`` describe the stored card. The
  card number travels in the request only: Billow never stores it.
* ``remove_remote(request: StoreRequest)`` — forget a stored token at the gateway
  (``request.token``); optional, a pay method is deleted locally anyway.
* ``hosted_payment(request)`` — create the gateway's hosted payment for an invoice and
  answer what a page needs to send the payer there (:class:`HostedPayment`).
* ``callback(body, headers)`` — verify a callback (webhook) with the gateway's own scheme
  and read it into :class:`CallbackEvent` values; a bad signature raises
  :class:`CallbackRejected`. It may call the gateway (never inside a transaction).

Remote refusals are results, not exceptions: every hook returns a :class:`GatewayResult`.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

#: ``status`` values a gateway may answer, as WHMCS gateway modules do.
SUCCESS, PENDING, DECLINED, ERROR = "success", "pending", "declined", "error"


@dataclass(frozen=True)
class ConfigField:
    """One setting of a gateway (WHMCS ``_config`` entry)."""

    key: str
    label: str
    type: str = "text"  # text | password | yesno | dropdown | radio | textarea
    default: str = ""
    description: str = ""
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class PaymentRequest:
    """What a gateway hook receives (WHMCS ``$params``), settings included."""

    invoice_id: int
    amount: Decimal
    currency: str
    description: str = ""
    client: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)
    #: the gateway's own transaction id (refunds) or stored token (captures)
    transid: str = ""
    gatewayid: str = ""
    system_url: str = ""
    return_url: str = ""


@dataclass(frozen=True)
class StoreRequest:
    """What ``store_remote``/``remove_remote`` receive: a card to tokenise (or a token to
    update or forget). Never logged or stored as it is."""

    client: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)
    card_number: str = field(default="", repr=False)
    #: ``MMYY``
    card_expiry: str = ""
    card_cvv: str = field(default="", repr=False)
    #: the gateway's existing token when updating or removing
    token: str = ""
    description: str = ""


@dataclass(frozen=True)
class GatewayResult:
    status: str
    transid: str = ""
    fee: Decimal = Decimal("0")
    rawdata: Any = ""
    reason: str = ""
    #: ``store_remote``: the stored card as the gateway describes it
    card_type: str = ""
    card_last_four: str = ""
    card_expiry: str = ""

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS


@dataclass(frozen=True)
class HostedPayment:
    """A hosted payment created at the gateway: where to send the payer, or what a page
    embedding the gateway's own payment element needs."""

    reference: str
    redirect_url: str = ""
    client_secret: str = ""
    publishable_key: str = ""


#: ``CallbackEvent.kind`` values.
PAYMENT, REFUND, DISPUTE, FAILED, IGNORED = "payment", "refund", "dispute", "failed", "ignored"


@dataclass(frozen=True)
class CallbackEvent:
    """One fact a verified callback reports, in Billow's terms.

    *transid* is the gateway's id of the money movement (the payment, the refund, the
    dispute); *original_transid* names the payment a refund or dispute takes back.
    """

    kind: str
    event_id: str = ""
    invoice_id: int = 0
    transid: str = ""
    original_transid: str = ""
    amount: Decimal = Decimal("0")
    currency: str = ""
    fee: Decimal = Decimal("0")
    reason: str = ""


class CallbackRejected(Exception):
    """A callback that failed the gateway's verification (bad or stale signature, bad body)."""


class Gateway(ABC):  # noqa: B024 - an ABC of optional hooks: subclasses define what they support
    """Base of payment gateways; subclasses set the class constants and define hooks."""

    #: System name (lower case, no spaces): the ``paymentmethod`` value.
    system_name: ClassVar[str]
    #: Name shown to clients and returned by ``GetPaymentMethods``.
    display_name: ClassVar[str]
    #: Settings the admin fills in; read back from the gateway_settings table.
    config: ClassVar[tuple[ConfigField, ...]] = ()
    #: Manual gateways need no settings, so they are usable before anyone configures them.
    active_by_default: ClassVar[bool] = False
    #: WHMCS ``gatewayType``: "Bank" for bank modules, "" otherwise.
    gateway_type: ClassVar[str] = ""
    #: Set from the gateway's settings row: run against the provider's sandbox.
    test_mode: bool = False

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        defaults = {f.key: f.default for f in self.config}
        self.settings: dict[str, str] = {**defaults, **dict(settings or {})}


def supports(gateway: Gateway, hook: str) -> bool:
    """True when *gateway*'s class (not the base) defines *hook* (``link``, ``capture``,
    ``refund``, ``store_remote``, ``remove_remote``)."""
    return any(hook in vars(k) for k in type(gateway).__mro__ if k not in (Gateway, object))
