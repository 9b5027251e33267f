"""Who may act: admins, API credentials and roles, the IP allow-list, brute-force lock-out."""
