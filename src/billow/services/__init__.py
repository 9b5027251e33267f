"""Business rules, one module per area. No HTTP, no WHMCS wire quirks, no commits."""
