"""Billing: invoices and what makes, changes and settles them.

Public face (``from billow.services.billing import invoices``):

- ``invoices``: create an invoice, totals (``recalculate``), balance, the one path to Paid
  (``settle``, which runs the ``PAID_STEPS`` extension point), status changes, credit on
  invoices (``apply_credit``);
- ``invoice_edits``: UpdateInvoice (dates, status, items, notes, applied credit);
- ``invoice_queries``: GetInvoices' filtered, sorted pages;
- ``numbering``: legal sequential invoice numbers;
- ``generation``: invoice generation (GenInvoices and the daily run) and its
  ``DUE_SOURCES`` extension point; ``invoice_batch`` writes a page of invoices set-based;
- ``invoice_timing``: when a recurring item is due for invoicing;
- ``contract``: the shapes other areas bill with (``InvoiceLine``, ``DueItem``,
  ``DateAdvance``);
- ``payments``: payments, refunds, chargebacks, transactions; ``credit``: account credit and
  its log;
- ``hosted_payments``: an invoice paid online (the gateway's hosted payment);
  ``gateway_callbacks``: a gateway's signed callback verified and recorded (the route
  ``POST /gateways/{name}/callback``) and the gateway log;
- ``tax``: which rates apply and how much tax lines bear;
- ``billable_items``: one-off and recurring charges; ``overages``: disk and bandwidth
  overage billing;
- ``late_fees``, ``reminders``, ``card_payments``: the rules the daily run applies to
  unpaid invoices (fees, notices, automatic captures, card expiry notices);
  ``card_payments.capture_now`` is CapturePayment;
- ``pay_methods``: stored pay methods (gateway tokens, encrypted bank accounts; never a
  card number); ``gateway_settings``: gateway activation and settings (stored encrypted,
  shown masked); ``gateway_log``: the Gateway Log (``record`` masks secrets and card data);
- ``invoice_pdf``: the PDF of an invoice; ``client_steps``: billing's part of closing,
  deleting and summarising a client (registered by :mod:`billow.bootstrap`);
- ``settings``: the billing settings' defaults.

This ``__init__`` imports nothing; callers import the modules.
"""
