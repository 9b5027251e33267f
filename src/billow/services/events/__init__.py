"""Delivering events out of the process: signed webhooks."""
