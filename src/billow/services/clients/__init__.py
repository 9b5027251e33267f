"""Clients (billing accounts), users (logins), contacts, validation and the client lifecycle.

Public face (``from billow.services.clients import accounts``):

- ``accounts``: add, update, find and list clients, the default currency, groups, notes;
- ``custom_fields``: custom field definitions, checking and storing values (clients and
  products);
- ``users``: logins (WHMCS 8 users) and their access to clients;
- ``contacts``: a client's contacts;
- ``validation``: contact-data rules shared by clients, contacts and users;
- ``lifecycle``: closing and deleting clients, account statistics.

This ``__init__`` imports nothing; callers import the modules.
"""
