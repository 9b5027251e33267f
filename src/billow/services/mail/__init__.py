"""E-mail: editable templates, merge fields, the send queue over SMTP and the client's e-mail log."""
