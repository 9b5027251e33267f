"""Hosting: clients' services and addons after the order, and the provisioning modules.

Other layers (the API, the CLI, the automation tasks, the composition root) may import:

* :mod:`.services`: reading and editing services (``GetClientsProducts``, ``UpdateClientProduct``).
* :mod:`.addons`: reading and editing client addons (``GetClientsAddons``, ``UpdateClientAddon``).
* :mod:`.cancellations`: cancellation requests, recorded and carried out.
* :mod:`.upgrades`: upgrade quotes (the proration rule), upgrade orders, applying them.
* :mod:`.config_options`: a service's chosen configurable options.
* :mod:`.provisioning`: module actions on a service (``ModuleCreate``, ``ModuleSuspend``...).
* :mod:`.addon_provisioning`: module actions on client addons (WHMCS's addon automation).
* :mod:`.module_params`: a module's ``$params`` and a service's panel credentials.
* :mod:`.module_queue`: failed module calls, listed and retried.
* :mod:`.panel_reads`: single sign-on, server connection tests, usage statistics.
* :mod:`.servers`, :mod:`.module_settings`: servers, server groups, module settings.
* :mod:`.overdue`: non-payment suspension, unsuspension and termination (rules and steps).
* :mod:`.status_changes`: automated status changes with or without a module, fixed terms,
  addons of ended services.
* :mod:`.invoicing`, :mod:`.paid`, :mod:`.client_steps`: what hosting plugs into billing
  (due items, the paid step) and the client lifecycle; registered in :mod:`billow.bootstrap`.

Private (hosting's own): :mod:`._exchange` (the one module call path, the module log and
queue records) and :mod:`._module_calls` (module calls deferred until after a commit).

This ``__init__`` imports nothing: import the module you need.
"""
