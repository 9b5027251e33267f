"""The e-mail templates Billow ships, under WHMCS's standard template names.

Templates are Jinja2 (``{{ client_name }}`` where WHMCS writes ``{$client_name}``) with
WHMCS's merge-field names, so an admin who knows WHMCS's fields can edit them. They are
copied into the ``email_templates`` table the first time they are needed; from then on
the database copy is the one that is edited and used.
"""

from __future__ import annotations

from dataclasses import dataclass

SIGNATURE = "{{ signature }}"


@dataclass(frozen=True)
class DefaultTemplate:
    name: str
    type: str
    subject: str
    body: str
    attach_invoice_pdf: bool = False


def _t(name: str, type_: str, subject: str, body: str, *, pdf: bool = False) -> DefaultTemplate:
    return DefaultTemplate(name, type_, subject, body.strip(), pdf)


_INVOICE_LINES = """
Invoice #{{ invoice_num }}
Amount due: {{ invoice_total }}
Due date: {{ invoice_date_due }}

You can view and pay the invoice at {{ invoice_link }}
"""

DEFAULTS: tuple[DefaultTemplate, ...] = (
    _t("Client Signup Email", "general", "Welcome to {{ company_name }}", """
Dear {{ client_first_name }},

Thank you for signing up with {{ company_name }}. Your account is ready.

Log in at {{ whmcs_url }} with your e-mail address {{ client_email }}.
"""),
    _t("Password Reset Validation", "user", "{{ company_name }} - Password Reset Request", """
Dear {{ user_first_name }},

A request was made to reset the password of your {{ company_name }} account.
To choose a new password, follow this link: {{ pw_reset_url }}

If you did not ask for this, ignore this message; your password is unchanged.
"""),
    _t("Password Reset Confirmation", "user", "{{ company_name }} - Your password was changed", """
Dear {{ user_first_name }},

The password of your {{ company_name }} account was changed just now.
If that was not you, contact us at once.
"""),
    _t("Client Email Address Verification", "general", "Confirm your e-mail address", """
Dear {{ client_first_name }},

Please confirm your e-mail address by following this link: {{ client_email_verification_link }}
"""),
    _t("Order Confirmation", "general", "Order Confirmation", """
Dear {{ client_first_name }},

We have received your order #{{ order_number }} and will process it shortly.

{{ order_details }}

Amount: {{ invoice_total }}
"""),
    _t("Invoice Created", "invoice", "Customer Invoice", """
Dear {{ client_first_name }},

This is a notice that an invoice has been generated on {{ invoice_date_created }}.
""" + _INVOICE_LINES, pdf=True),
    _t("Invoice Payment Confirmation", "invoice", "Invoice Payment Confirmation", """
Dear {{ client_first_name }},

This is a payment receipt for invoice #{{ invoice_num }} sent on {{ invoice_date_created }}.

Amount paid: {{ invoice_amount_paid }}
Balance: {{ invoice_balance }}
Status: {{ invoice_status }}
""", pdf=True),
    _t("Invoice Payment Reminder", "invoice", "Invoice Payment Reminder", """
Dear {{ client_first_name }},

This is a billing reminder that your invoice is due on {{ invoice_date_due }}.
""" + _INVOICE_LINES, pdf=True),
    _t("First Invoice Overdue Notice", "invoice", "First Invoice Overdue Notice", """
Dear {{ client_first_name }},

This is the first billing notice that your invoice was due on {{ invoice_date_due }}.
""" + _INVOICE_LINES, pdf=True),
    _t("Second Invoice Overdue Notice", "invoice", "Second Invoice Overdue Notice", """
Dear {{ client_first_name }},

This is the second billing notice that your invoice was due on {{ invoice_date_due }}.
""" + _INVOICE_LINES, pdf=True),
    _t("Third Invoice Overdue Notice", "invoice", "Third Invoice Overdue Notice", """
Dear {{ client_first_name }},

This is the third and final billing notice that your invoice was due on {{ invoice_date_due }}.
Services may be suspended if it stays unpaid.
""" + _INVOICE_LINES, pdf=True),
    _t("Credit Card Payment Failed", "invoice", "Credit Card Payment Failed", """
Dear {{ client_first_name }},

We could not take payment for invoice #{{ invoice_num }} from your card.
""" + _INVOICE_LINES),
    _t("Credit Card Expiring Soon", "general", "Your stored card expires soon", """
Dear {{ client_first_name }},

The card ending in {{ cardlastfour }} that we keep on file for your {{ company_name }}
account expires at the end of {{ expirydate }} (MM/YY). Please add a new card at
{{ whmcs_url }} so that your renewals are not interrupted.
"""),
    _t("Invoice Refund Confirmation", "invoice", "Invoice Refund Confirmation", """
Dear {{ client_first_name }},

A refund for invoice #{{ invoice_num }} has been issued.
Refund amount: {{ invoice_refund_amount }}
""", pdf=True),
    _t("Hosting Account Welcome Email", "product", "New Account Information", """
Dear {{ client_first_name }},

Your order for {{ service_product_name }} has been set up.

Domain: {{ service_domain }}
Username: {{ service_username }}
Password: {{ service_password }}
Server: {{ service_server_hostname }}
"""),
    _t("Dedicated/VPS Server Welcome Email", "product", "New Dedicated Server Information", """
Dear {{ client_first_name }},

Your server {{ service_product_name }} is ready.
Main IP: {{ service_dedicated_ip }}
Root password: {{ service_password }}
"""),
    _t("Other Product/Service Welcome Email", "product", "New Product Information", """
Dear {{ client_first_name }},

Your order for {{ service_product_name }} is now active.
"""),
    _t("Service Suspension Notification", "product", "Service Suspension Notification", """
Dear {{ client_first_name }},

Your service {{ service_product_name }} ({{ service_domain }}) has been suspended.
Reason: {{ service_suspension_reason }}
"""),
    _t("Service Unsuspension Notification", "product", "Service Unsuspension Notification", """
Dear {{ client_first_name }},

Your service {{ service_product_name }} ({{ service_domain }}) is active again.
"""),
    _t("Cancellation Request Confirmation", "product", "Cancellation Request Confirmation", """
Dear {{ client_first_name }},

We have received your request to cancel {{ service_product_name }} ({{ service_domain }}).
"""),
    _t("Upgrade Order Confirmation", "product", "Upgrade Order Confirmation", """
Dear {{ client_first_name }},

Your upgrade of {{ service_product_name }} has been received.
"""),
    _t("Domain Registration Confirmation", "domain", "Domain Registration Confirmation", """
Dear {{ client_first_name }},

Your domain {{ domain_name }} has been registered for {{ domain_reg_period }}.
Next due date: {{ domain_next_due_date }}
"""),
    _t("Domain Transfer Initiated", "domain", "Domain Transfer Initiated", """
Dear {{ client_first_name }},

The transfer of {{ domain_name }} to us has started.
"""),
    _t("Domain Transfer Completed", "domain", "Domain Transfer Completed", """
Dear {{ client_first_name }},

The transfer of {{ domain_name }} is complete.
"""),
    _t("Domain Renewal Confirmation", "domain", "Domain Renewal Confirmation", """
Dear {{ client_first_name }},

Your domain {{ domain_name }} has been renewed for {{ domain_reg_period }}.
It now expires on {{ domain_expiry_date }}.
"""),
    _t("Upcoming Domain Renewal Notice", "domain", "Upcoming Domain Renewal Notice", """
Dear {{ client_first_name }},

Your domain {{ domain_name }} expires on {{ domain_expiry_date }}.
"""),
    _t("Expired Domain Notice", "domain", "Expired Domain Notice", """
Dear {{ client_first_name }},

Your domain {{ domain_name }} expired on {{ domain_expiry_date }}.
"""),
    _t("Support Ticket Opened", "support", "[Ticket ID: {{ ticket_id }}] {{ ticket_subject }}", """
Dear {{ client_name }},

Thank you for contacting our support team. Ticket #{{ ticket_id }} has been opened.

Subject: {{ ticket_subject }}
Priority: {{ ticket_priority }}
Status: {{ ticket_status }}

You can view the ticket at {{ ticket_link }}
"""),
    _t("Support Ticket Reply", "support", "[Ticket ID: {{ ticket_id }}] {{ ticket_subject }}", """
{{ ticket_message }}

----------------------------------------------
Ticket ID: #{{ ticket_id }}
Subject: {{ ticket_subject }}
Status: {{ ticket_status }}
Ticket URL: {{ ticket_link }}
"""),
    _t("Support Ticket Opened by Admin", "support", "[Ticket ID: {{ ticket_id }}] {{ ticket_subject }}", """
{{ ticket_message }}

Ticket ID: #{{ ticket_id }}
Ticket URL: {{ ticket_link }}
"""),
    _t("Support Ticket Auto Close Notification", "support", "[Ticket ID: {{ ticket_id }}] Closed", """
Dear {{ client_name }},

Ticket #{{ ticket_id }} ({{ ticket_subject }}) has been closed after no reply.
"""),
    _t("Support Ticket Feedback Request", "support", "[Ticket ID: {{ ticket_id }}] Feedback Request", """
Dear {{ client_name }},

Please tell us how we did on ticket #{{ ticket_id }}: {{ ticket_link }}
"""),
    _t("Affiliate Monthly Referrals Report", "affiliate", "Affiliate Monthly Referrals Report", """
Dear {{ client_first_name }},

Your affiliate referrals this month: {{ affiliate_total_visits }} visits.
"""),
    _t("Automated Password Reset", "general", "Your new password for {{ company_name }}", """
Dear {{ client_first_name }},

As requested, your password has been reset. Log in at {{ whmcs_url }}.
"""),
    _t("New Order Notification", "admin", "{{ company_name }} Order Confirmation", """
A new order was placed: #{{ order_number }} by {{ client_name }}.
"""),
    _t("Support Ticket Created", "admin", "[Ticket ID: {{ ticket_id }}] New Support Ticket Opened", """
A new ticket #{{ ticket_id }} was opened: {{ ticket_subject }}
"""),
    _t("Automatic Setup Failed", "admin", "WHMCS Automatic Setup Failed", """
Automatic setup of service #{{ service_id }} failed: {{ error_msg }}
"""),
    _t("Cron Job Activity", "admin", "WHMCS Cron Job Activity", """
The daily automation run finished.

{{ cron_summary }}
"""),
)

BY_NAME: dict[str, DefaultTemplate] = {t.name: t for t in DEFAULTS}

#: Templates sent whatever the client's ``emailoptout`` (security and account notices).
ESSENTIAL: frozenset[str] = frozenset({
    "Client Signup Email", "Password Reset Validation", "Password Reset Confirmation",
    "Client Email Address Verification", "Automated Password Reset",
})
