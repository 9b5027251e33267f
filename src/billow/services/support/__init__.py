"""Support: departments, tickets and replies, attachments, inbound mail, auto-close, the blocklist."""
