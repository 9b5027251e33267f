"""Plugins called by services: servers, registrars and gateways, each with a small base."""
