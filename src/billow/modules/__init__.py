"""Plugins called by services: provisioning (servers), fraud checks, and later registrars and gateways."""
