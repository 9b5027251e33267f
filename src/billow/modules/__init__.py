"""Plugins called by services: servers, registrars, gateways and fraud checks, each with a small base."""
