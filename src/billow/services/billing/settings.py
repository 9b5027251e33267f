"""The billing engine's business settings (WHMCS ``tblconfiguration`` keys) and defaults.

They are read through :func:`billow.services.settings.get_setting` (and ``setting_on``,
``setting_int``, ``setting_decimal``) so a value stored in the settings table (via
``SetConfigurationValue`` or the admin area) wins, and an installation that never set one
gets the default below. Kept apart from the foundation's defaults so each area owns the
keys it reads.
"""

from __future__ import annotations

BILLING_DEFAULTS: dict[str, str] = {
    # --- taxes (services/tax.py) ---
    "TaxEnabled": "",
    #: "Exclusive": item amounts exclude tax; "Inclusive": they include it.
    "TaxType": "Exclusive",
    #: "on": level 2 is charged on the amount plus level-1 tax.
    "TaxL2Compound": "",
    #: "on": tax is rounded on each line then summed; "": computed on the taxed total.
    "TaxPerLineItem": "",
    #: "on": EU VAT rules (VAT number validation, reverse charge, consumer rates).
    "TaxEUVATMode": "",
    #: The seller's country (ISO code); empty means ``DefaultCountry``.
    "TaxEUHomeCountry": "",
    #: "on": domestic businesses with a VAT number are still charged VAT (the EU rule).
    "TaxEUHomeCountryNoExempt": "on",
    #: "on": EU consumers pay their own country's rate (One-Stop Shop); "": seller's rate.
    "TaxEUOSS": "",
    #: "on": also ask the EU VIES service whether a VAT number is registered.
    "TaxEUVIESCheck": "",
    # --- invoice numbering ---
    #: "on": paid invoices get the next legal number (``invoicenum``).
    "SequentialInvoiceNumbering": "on",
    #: Tokens: {YEAR} {MONTH} {DAY} {NUMBER}.
    "SequentialInvoiceNumberFormat": "{NUMBER}",
    #: The first number given when a numbering period starts.
    "SequentialInvoiceNumberValue": "1",
    #: "never", "monthly" or "yearly": when {NUMBER} starts again.
    "TaxAutoResetNumbering": "never",
    # --- invoice generation ---
    "CreateInvoiceDaysBefore": "14",
    "ContinuousInvoiceGeneration": "",
    #: "on": generated invoices do not take the client's credit automatically.
    "NoAutoApplyCredit": "",
    # --- seller details shown on PDF invoices ---
    "InvoicePayTo": "",
    "TaxVATNumber": "",
}

