"""Who may act: admins, API credentials and roles, the IP allow-list, brute-force lock-out.

Public face (``from billow.services.access import credentials``):

- ``admins``: create, find, enable and disable administrators;
- ``api_roles``: API roles (whitelists of actions);
- ``credentials``: create, list and revoke API credentials;
- ``ip_allow_list``: the API's allowed networks;
- ``api_authentication``: what the API dispatcher runs on every call (lock-out, IP check,
  credential or legacy login check, role check, last-used mark).

This ``__init__`` imports nothing; callers import the modules.
"""
