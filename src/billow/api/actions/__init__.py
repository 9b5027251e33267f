"""Action handlers, one module per area; each exports ``ACTIONS`` for the action table."""
