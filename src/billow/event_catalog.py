"""The event catalogue: every event Billow emits, its WHMCS hook name, variables and emitters.

One table answers three questions: which hook names a hook file or webhook endpoint can
subscribe to, which variables each one carries (WHMCS's own names, from its hooks
reference), and which service modules raise it. ``tests/events/test_catalog.py`` greps
``src/`` for every ``emit("...")`` and fails when an event is missing here, when the module
that emits it is not listed, or when the variables drift from WHMCS's reference, so the
catalogue cannot silently fall behind the code.

Areas add their events here when they start emitting them; the entries for areas still
being built list the modules expected to emit them (a module that does not exist yet is
harmless). Variables of type object in WHMCS (``invoice`` of ``InvoicePaid``) are sent as
plain dictionaries to webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass

from billow.events import is_pre_hook

__all__ = [
    "CATALOGUE", "INTERNAL_EVENTS", "WITHHELD_VARIABLES", "EventSpec", "get", "is_known",
    "missing_variables", "webhook_events",
]


@dataclass(frozen=True)
class EventSpec:
    """One event: WHMCS hook name, WHMCS hook category, emitting modules, variables."""

    name: str
    category: str
    emitted_by: tuple[str, ...]
    variables: tuple[str, ...]

    @property
    def is_pre(self) -> bool:
        """Pre and validation hooks run before the change and may abort it."""
        return is_pre_hook(self.name)


def _e(name: str, category: str, emitted_by: tuple[str, ...], variables: str) -> EventSpec:
    return EventSpec(name, category, emitted_by, tuple(variables.split()))


_ENTRIES: tuple[EventSpec, ...] = (
    # --- Clients, contacts and users ---------------------------------------------------------------------
    _e("ClientAdd", "Client",
       ("billow.services.clients.accounts",),
       "client_id user_id firstname lastname companyname email address1 address2 city state postcode "
       "country phonenumber tax_id password customFields taxexempt latefeeoveride overideduenotices "
       "separateinvoices disableautocc emailoptout marketing_emails_opt_in overrideautoclose notes "
       "groupid"),
    _e("ClientEdit", "Client",
       ("billow.services.clients.accounts",),
       "userid uuid firstname lastname companyname email address1 address2 city state postcode "
       "country phonenumber currency notes status taxexempt latefeeoveride overideduenotices "
       "separateinvoices disableautocc emailoptout marketing_emails_opt_in overrideautoclose "
       "language billingcid groupid allow_sso olddata authmodule authdata email_verified "
       "isOptedInToMarketingEmails email_preferences[affiliate] email_preferences[domain] "
       "email_preferences[general] email_preferences[invoices] email_preferences[product] "
       "email_preferences[support]"),
    _e("ClientClose", "Client",
       ("billow.services.clients.lifecycle",),
       "userid"),
    _e("PreDeleteClient", "Client",
       ("billow.services.clients.lifecycle",),
       "userid"),
    _e("ClientDelete", "Client",
       ("billow.services.clients.lifecycle",),
       "userid"),
    _e("ContactAdd", "Contact",
       ("billow.services.clients.contacts",),
       "userid contactid firstname lastname companyname email address1 address2 city state postcode "
       "country phonenumber tax_id generalemails productemails domainemails invoiceemails "
       "supportemails affiliateemails"),
    _e("ContactEdit", "Contact",
       ("billow.services.clients.contacts",),
       "userid contactid firstname lastname companyname email address1 address2 city state postcode "
       "country phonenumber tax_id domainemails generalemails invoiceemails productemails "
       "supportemails affiliateemails olddata"),
    _e("ContactDelete", "Contact",
       ("billow.services.clients.contacts",),
       "userid contactid"),
    _e("PreUserAdd", "User",
       ("billow.services.clients.users",),
       "user_id firstname lastname email password language"),
    _e("UserAdd", "User",
       ("billow.services.clients.users",),
       "user_id firstname lastname email password language"),
    _e("UserEdit", "User",
       ("billow.services.clients.users",),
       "user_id firstname lastname email olddata"),
    _e("UserChangePassword", "User",
       ("billow.services.clients.users",),
       "userid password"),
    _e("ClientChangePassword", "Client",
       ("billow.services.clients.users",),
       "userid password"),
    _e("UserLogin", "Authentication",
       ("billow.services.clients.users",),
       "user"),
    # --- Invoices, payments and transactions -------------------------------------------------------------
    _e("InvoiceCreation", "Invoices and Quotes",
       ("billow.services.billing.invoices",),
       "source user invoiceid status"),
    _e("InvoiceCreated", "Invoices and Quotes",
       ("billow.services.billing.invoices",),
       "source user invoiceid status"),
    _e("InvoiceCreationPreEmail", "Invoices and Quotes",
       ("billow.services.billing.invoices",),
       "source user invoiceid status"),
    _e("InvoicePaid", "Invoices and Quotes",
       ("billow.services.billing.invoices",),
       "invoiceid invoice"),
    _e("InvoicePaidPreEmail", "Invoices and Quotes",
       ("billow.services.billing.invoices",),
       "invoiceid"),
    _e("InvoiceUnpaid", "Invoices and Quotes",
       ("billow.services.billing.payments",),
       "invoiceid"),
    _e("InvoiceCancelled", "Invoices and Quotes",
       ("billow.services.hosting.cancellations", "billow.services.orders.status_changes"),
       "invoiceid"),
    _e("InvoiceRefunded", "Invoices and Quotes",
       ("billow.services.billing.payments",),
       "invoiceid"),
    _e("InvoiceChangeGateway", "Invoices and Quotes",
       ("billow.services.billing.invoice_edits",),
       "invoiceid paymentmethod"),
    _e("InvoiceSplit", "Invoices and Quotes",
       ("billow.services.billing", "billow.services.billing.invoices"),
       "originalinvoiceid newinvoiceid"),
    _e("InvoicePaymentReminder", "Invoices and Quotes",
       ("billow.services.billing.reminders",),
       "invoiceid type"),
    _e("AddInvoicePayment", "Invoices and Quotes",
       ("billow.services.billing.payments",),
       "invoiceid"),
    _e("AddInvoiceLateFee", "Invoices and Quotes",
       ("billow.services.billing.late_fees",),
       "invoiceid"),
    _e("UpdateInvoiceTotal", "Invoices and Quotes",
       ("billow.services.billing.invoice_edits",),
       "invoiceid"),
    _e("AddTransaction", "Invoices and Quotes",
       ("billow.services.billing.payments",),
       "id userid currency gateway date description amountin fees amountout rate transid invocieid "
       "refundid"),
    _e("LogTransaction", "Invoices and Quotes",
       ("billow.services.billing.payments", "billow.services.billing.gateway_log"),
       "gateway data result"),
    _e("ManualRefund", "Invoices and Quotes",
       ("billow.services.billing.payments",),
       "transid amount"),
    _e("PreInvoicingGenerateInvoiceItems", "Invoices and Quotes",
       ("billow.automation.tasks.billing", "billow.services.billing.generation"),
       ""),
    _e("AfterInvoicingGenerateInvoiceItems", "Invoices and Quotes",
       ("billow.automation.tasks.billing", "billow.services.billing.generation"),
       ""),
    _e("PreInvoiceAutomaticCancellation", "Invoices and Quotes",
       ("billow.services.billing", "billow.automation.steps"),
       "invoiceid"),
    _e("QuoteCreated", "Invoices and Quotes",
       ("billow.services.quotes",),
       "quoteid status"),
    _e("QuoteStatusChange", "Invoices and Quotes",
       ("billow.services.quotes",),
       "quoteid status"),
    _e("AcceptQuote", "Invoices and Quotes",
       ("billow.services.quotes",),
       "quoteid invoiceid"),
    # --- Orders and the shopping cart --------------------------------------------------------------------
    _e("ShoppingCartValidateCheckout", "Shopping Cart",
       ("billow.services.orders.placing",),
       "a submit promocode notes paymentmethod ccinfo cctype ccnumber ccexpirymonth ccexpiryyear "
       "cccvv custtype clientId loginemail loginpassword firstname lastname companyname email "
       "address1 address2 city state country tax_id phonenumber password password2 securityqid "
       "securityqans customfield"),
    _e("PreShoppingCartCheckout", "Shopping Cart",
       ("billow.services.orders.placing",),
       "products domains"),
    _e("AfterShoppingCartCheckout", "Shopping Cart",
       ("billow.services.orders.placing",),
       "OrderID OrderNumber ServiceIDs AddonIDs DomainIDs RenewalIDs PaymentMethod InvoiceID "
       "TotalDue"),
    _e("AcceptOrder", "Shopping Cart",
       ("billow.services.orders.status_changes",),
       "orderid"),
    _e("PendingOrder", "Shopping Cart",
       ("billow.services.orders.status_changes",),
       "orderid"),
    _e("CancelOrder", "Shopping Cart",
       ("billow.services.orders.status_changes",),
       "orderid"),
    _e("CancelAndRefundOrder", "Invoices and Quotes",
       ("billow.services.orders.status_changes",),
       "orderid"),
    _e("FraudOrder", "Shopping Cart",
       ("billow.services.orders.status_changes",),
       "orderid"),
    _e("DeleteOrder", "Shopping Cart",
       ("billow.services.orders.status_changes",),
       "orderid"),
    _e("OrderPaid", "Shopping Cart",
       ("billow.services.hosting.paid",),
       "orderId userId invoiceId"),
    # --- Services, addons and provisioning modules -------------------------------------------------------
    _e("ServiceEdit", "Service",
       ("billow.services.hosting.services",),
       "userid serviceid"),
    _e("PreServiceEdit", "Service",
       ("billow.services.hosting.services",),
       "serviceid"),
    _e("ServiceDelete", "Service",
       ("billow.services.orders.status_changes",),
       "userid clientId serviceid"),
    _e("CancellationRequest", "Service",
       ("billow.services.hosting.cancellations",),
       "userid relid reason type"),
    _e("AfterProductUpgrade", "Products and Services",
       ("billow.services.hosting.upgrades",),
       "upgradeid"),
    _e("AddonAdd", "Addon",
       ("billow.services.orders.placing",),
       "id userid serviceid addonid"),
    _e("AddonEdit", "Addon",
       ("billow.services.hosting.addons",),
       "id userid serviceid addonid"),
    _e("AddonDeleted", "Addon",
       ("billow.services.addons", "billow.services.services"),
       "id"),
    _e("AddonActivation", "Addon",
       ("billow.services.hosting.addons", "billow.services.orders.status_changes"),
       "id userid clientid serviceid addonid"),
    _e("AddonSuspended", "Addon",
       ("billow.services.hosting.addons",),
       "id userid serviceid addonid"),
    _e("AddonUnsuspended", "Addon",
       ("billow.services.addons", "billow.services.hosting._exchange"),
       "id userid serviceid addonid"),
    _e("AddonTerminated", "Addon",
       ("billow.services.hosting.addons",),
       "id userid serviceid addonid"),
    _e("AddonCancelled", "Addon",
       ("billow.services.hosting.addons",),
       "id userid serviceid addonid"),
    _e("PreModuleCreate", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleCreate", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleCreateFailed", "Module",
       ("billow.services.hosting._exchange",),
       "params failureResponseMessage"),
    _e("PreModuleSuspend", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleSuspend", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleSuspendFailed", "Module",
       ("billow.services.hosting._exchange",),
       "params failureResponseMessage"),
    _e("PreModuleUnsuspend", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleUnsuspend", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleUnsuspendFailed", "Module",
       ("billow.services.hosting._exchange",),
       "params failureResponseMessage"),
    _e("PreModuleTerminate", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleTerminate", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleTerminateFailed", "Module",
       ("billow.services.hosting._exchange",),
       "params failureResponseMessage"),
    _e("PreModuleRenew", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("PreModuleChangePackage", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleChangePackage", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleChangePackageFailed", "Module",
       ("billow.services.hosting._exchange",),
       "params failureResponseMessage"),
    _e("PreModuleChangePassword", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleChangePassword", "Module",
       ("billow.services.hosting._exchange", "billow.services.hosting.provisioning"),
       "serviceid oldpassword newpassword"),
    _e("AfterModuleChangePasswordFailed", "Module",
       ("billow.services.hosting._exchange",),
       "params failureResponseMessage"),
    _e("PreModuleCustom", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleCustom", "Module",
       ("billow.services.hosting._exchange",),
       "params"),
    _e("AfterModuleCustomFailed", "Module",
       ("billow.services.hosting._exchange",),
       "params failureResponseMessage"),
    _e("ServerAdd", "Products and Services",
       ("billow.services.hosting.servers",),
       "serverid"),
    _e("ServerEdit", "Products and Services",
       ("billow.services.hosting.servers",),
       "serverid"),
    _e("ServerDelete", "Products and Services",
       ("billow.services.hosting.servers",),
       "serverid"),
    _e("ProductEdit", "Products and Services",
       ("billow.services.catalog.products", "billow.services.products", "billow.services.billing.overages"),
       "pid type gid name description welcomeemail showdomainoptions stockcontrol qty tax "
       "is_featured hidden retired paytype allowqty recurringcycles autoterminatedays "
       "autoterminateemail proratabilling proratadate proratachargenextmonth servertype servergroup "
       "autosetup configoptionsupgrade upgradeemail freedomain freedomainpaymentterms freedomaintlds "
       "affiliatepaytype affiliatepayamount affiliateonetime subdomain overagesenabled "
       "overagesdisklimit overagesbwlimit overagesdiskprice overagesbwprice "
       "ondemandrenewalconfigurationoverride ondemandrenewalsenabled ondemandrenewalperiodmonthly "
       "ondemandrenewalperiodquarterly ondemandrenewalperiodsemiannually "
       "ondemandrenewalperiodannually ondemandrenewalperiodbiennially "
       "ondemandrenewalperiodtriennially configoptionX"),
    _e("ProductDelete", "Products and Services",
       ("billow.services.catalog.products", "billow.services.products"),
       "pid"),
    # --- Domains and registrars --------------------------------------------------------------------------
    _e("DomainValidation", "Domain",
       ("billow.services.domains", "billow.services.orders.placing"),
       "sld tld"),
    _e("PreDomainRegister", "Domain",
       ("billow.services.domains",),
       "domain"),
    _e("PreDomainTransfer", "Domain",
       ("billow.services.domains",),
       "params"),
    _e("DomainEdit", "Domain",
       ("billow.services.domains",),
       "userid domainid"),
    _e("DomainDelete", "Domain",
       ("billow.services.domains",),
       "userid domainid"),
    _e("DomainTransferCompleted", "Domain",
       ("billow.services.domains", "billow.automation.steps"),
       "domainId domain registrationPeriod expiryDate registrar"),
    _e("DomainTransferFailed", "Domain",
       ("billow.services.domains", "billow.automation.steps"),
       "domainId domain registrationPeriod expiryDate registrar"),
    _e("PreRegistrarRegisterDomain", "Domain",
       ("billow.services.domains", "billow.services.registrars"),
       "params"),
    _e("PreRegistrarRenewDomain", "Domain",
       ("billow.services.domains", "billow.services.registrars"),
       "params"),
    _e("PreRegistrarTransferDomain", "Domain",
       ("billow.services.domains", "billow.services.registrars"),
       "params"),
    _e("AfterRegistrarRegistration", "Registrar Module",
       ("billow.services.domains", "billow.services.registrars"),
       "params"),
    _e("AfterRegistrarRegistrationFailed", "Registrar Module",
       ("billow.services.domains", "billow.services.registrars"),
       "params error"),
    _e("AfterRegistrarRenewal", "Registrar Module",
       ("billow.services.domains", "billow.services.registrars"),
       "params"),
    _e("AfterRegistrarRenewalFailed", "Registrar Module",
       ("billow.services.domains", "billow.services.registrars"),
       "params error"),
    _e("AfterRegistrarTransfer", "Registrar Module",
       ("billow.services.domains", "billow.services.registrars"),
       "params results functionExists functionSuccessful"),
    _e("AfterRegistrarTransferFailed", "Registrar Module",
       ("billow.services.domains", "billow.services.registrars"),
       "params error"),
    _e("TopLevelDomainAdd", "Domain",
       ("billow.services.domains", "billow.services.catalog.products"),
       "tld supportsDnsManagement supportsEmailForwarding supportsIdProtection requiresEppCode "
       "automaticRegistrar"),
    _e("TopLevelDomainUpdate", "Domain",
       ("billow.services.domains", "billow.services.catalog.products"),
       "modifiedTlds"),
    _e("TopLevelDomainDelete", "Domain",
       ("billow.services.domains", "billow.services.catalog.products"),
       "tld"),
    # --- Support tickets ---------------------------------------------------------------------------------
    _e("TicketOpenValidation", "Ticket",
       ("billow.services.support.opening",),
       "clientId contactId name email isAdmin departmentId subject message priority relatedService "
       "customfields"),
    _e("TicketOpen", "Ticket",
       ("billow.services.support.opening",),
       "ticketid ticketmask userid deptid deptname subject message priority"),
    _e("TicketOpenAdmin", "Ticket",
       ("billow.services.support.opening",),
       "ticketid ticketmask userid deptid deptname subject message priority"),
    _e("TicketUserReply", "Ticket",
       ("billow.services.support.replies",),
       "ticketid replyid userid deptid deptname subject message priority status"),
    _e("TicketAdminReply", "Ticket",
       ("billow.services.support.replies",),
       "ticketid replyid deptid deptname subject message priority admin status"),
    _e("TicketAddNote", "Ticket",
       ("billow.services.support.replies",),
       "ticketid message adminid attachments"),
    _e("TicketClose", "Ticket",
       ("billow.services.support.auto_close", "billow.services.support.changes",
        "billow.services.support.replies"),
       "ticketid"),
    _e("TicketStatusChange", "Ticket",
       ("billow.services.support.changes", "billow.services.tickets"),
       "adminid status ticketid"),
    _e("TicketPriorityChange", "Ticket",
       ("billow.services.support.changes", "billow.services.tickets"),
       "ticketid priority"),
    _e("TicketDepartmentChange", "Ticket",
       ("billow.services.support.changes", "billow.services.tickets"),
       "ticketid deptid deptname"),
    _e("TicketSubjectChange", "Ticket",
       ("billow.services.support.changes", "billow.services.tickets"),
       "ticketid subject"),
    _e("TicketFlagged", "Ticket",
       ("billow.services.support.changes", "billow.services.tickets"),
       "ticketid adminid adminname"),
    _e("TicketMerge", "Ticket",
       ("billow.services.support.merge",),
       "mergedTicketIds masterTicketId"),
    _e("TicketDelete", "Ticket",
       ("billow.services.support.changes",),
       "ticketId adminId"),
    _e("TicketDeleteReply", "Ticket",
       ("billow.services.support.replies",),
       "ticketId replyId adminId"),
    _e("TicketPiping", "Ticket",
       ("billow.services.support.inbound_mail",),
       "to cc name email subject body attachments"),
    _e("AnnouncementAdd", "Support Tools",
       ("billow.services.announcements",),
       "announcementid date title announcement published"),
    _e("AnnouncementEdit", "Support Tools",
       ("billow.services.announcements",),
       "announcementid date title announcement published"),
    # --- The daily automation run ------------------------------------------------------------------------
    _e("PreCronJob", "Cron",
       ("billow.automation.runner",),
       ""),
    _e("AfterCronJob", "Cron",
       ("billow.automation.runner",),
       ""),
    _e("DailyCronJob", "Cron",
       ("billow.automation.runner",),
       ""),
    _e("DailyCronJobPreEmail", "Cron",
       ("billow.automation.run", "billow.automation.runner", "billow.automation"),
       ""),
    _e("PreAutomationTask", "Cron",
       ("billow.automation.runner",),
       "task"),
    _e("PostAutomationTask", "Cron",
       ("billow.automation.runner",),
       "task completed"),
    # --- E-mail and everything else ----------------------------------------------------------------------
    _e("EmailPreSend", "Everything Else",
       ("billow.services.mail.composing",),
       "messagename relid mergefields"),
    _e("PreEmailSendReduceRecipients", "Everything Else",
       ("billow.services.mail.composing",),
       "messagename relid recipients"),
    _e("EmailPreLog", "Everything Else",
       ("billow.services.mail.composing",),
       "userid date to cc bcc subject message attachments"),
    _e("LogActivity", "Everything Else",
       ("billow.services.activity",),
       "description user userid ipaddress"),
    # --- Added at integration: fraud checks, order numbers, module usernames ---------------------------
    _e("AddonActivated", "Addon",
       ("billow.services.hosting.addons",),
       "id userid serviceid addonid"),
    _e("AddonFraud", "Shopping Cart",
       ("billow.services.hosting.addons", "billow.services.orders.status_changes"),
       "id userid serviceid addonid"),
    _e("AfterFraudCheck", "Shopping Cart",
       ("billow.services.orders.fraud",),
       "orderid ordernumber invoiceid amount fraudresults isfraud frauderror clientdetails"),
    _e("FraudCheckFailed", "Shopping Cart",
       ("billow.services.orders.fraud",),
       "orderid ordernumber invoiceid amount fraudresults isfraud clientdetails"),
    _e("FraudCheckPassed", "Shopping Cart",
       ("billow.services.orders.fraud",),
       "orderid ordernumber invoiceid amount fraudresults isfraud clientdetails"),
    _e("OverrideModuleUsernameGeneration", "Module",
       ("billow.services.hosting.provisioning",),
       "params"),
    _e("OverrideOrderNumberGeneration", "Shopping Cart",
       ("billow.services.orders.placing",),
       "products domains"),
    _e("RunFraudCheck", "Shopping Cart",
       ("billow.services.orders.fraud",),
       "orderid userid"),
    # --- Currency exchange rates: the variables are the day's rates per euro, by code ---------------------
    _e("FetchCurrencyExchangeRates", "Everything Else",
       ("billow.services.catalog.exchange_rates",),
       "USD GBP"),
)

#: Every event by WHMCS hook name.
CATALOGUE: dict[str, EventSpec] = {spec.name: spec for spec in _ENTRIES}

#: Events Billow uses internally; never offered to hooks or webhooks.
INTERNAL_EVENTS: dict[str, str] = {
    "EmailRequested": "a service asked for a WHMCS e-mail template about a record; the worker sends it",
}


#: WHMCS variables Billow never passes: a plain-text password would be stored in the
#: outbox and sent to every webhook receiver. Hooks that need to act on a new password
#: use ``UserChangePassword``-style events instead.
WITHHELD_VARIABLES: frozenset[str] = frozenset({"password"})


def missing_variables(name: str, variables: dict[str, object]) -> list[str]:
    """WHMCS variables of *name* that *variables* lacks (withheld ones excepted)."""
    spec = CATALOGUE.get(name)
    if spec is None:
        return []
    return [v for v in spec.variables if v not in variables and v not in WITHHELD_VARIABLES]


def get(name: str) -> EventSpec | None:
    return CATALOGUE.get(name)


def is_known(name: str) -> bool:
    return name in CATALOGUE


def webhook_events() -> list[str]:
    """Names an endpoint may subscribe to (every catalogued event except Pre/validation hooks).

    Pre hooks run before a change that may still be refused, so an outside receiver would
    hear of operations that never happened; they stay in-process.
    """
    return sorted(name for name, spec in CATALOGUE.items() if not spec.is_pre)
