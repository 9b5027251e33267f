"""Clients (billing accounts), users (logins), contacts, validation and the client lifecycle."""
