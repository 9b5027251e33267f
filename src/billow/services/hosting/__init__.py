"""Clients' services and addons after the order: editing, upgrades, the paid step,
provisioning and the module queue.
"""
