"""Delivering events out of the process: signed webhooks.

Public face (``from billow.services.events import webhook_endpoints``):

- ``webhook_endpoints``: add, list, update and delete endpoints, their delivery counts;
- ``webhook_fan_out``: one delivery per interested endpoint for an outbox event (worker);
- ``webhook_delivery``: claim, send and record deliveries (worker);
- ``webhook_inspection``: list deliveries and attempts, retry one, the oldest pending;
- ``ssrf_guard``: URL validation and the guarded HTTP client deliveries go through.

Private to the package: ``_webhook_signing`` (secrets and Standard Webhooks signatures).
This ``__init__`` imports nothing; callers import the modules.
"""
