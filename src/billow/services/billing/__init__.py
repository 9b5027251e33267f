"""Invoices, numbering, generation, tax, payments, credit, refunds, billable items and overages."""
