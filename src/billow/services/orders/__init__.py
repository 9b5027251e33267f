"""Orders: placing, accepting, cancelling, fraud checks.

Other layers (the API, the CLI, the automation tasks, hosting's upgrades) may import:

* :mod:`.requests`: what an order asks for (``OrderRequest``, ``OrderItem``, ``AddonOrder``)
  and what placing it gives back.
* :mod:`.placing`: ``AddOrder``, the order invoice and the payment method check.
* :mod:`.status_changes`: accepting, back to pending, cancelling, fraud, deleting orders
  (and their services), and cancelling orders left unpaid.
* :mod:`.queries`: ``GetOrders``, ``GetOrderStatuses`` and the payment columns they show.
* :mod:`.fraud`: fraud checks through the active fraud module.

Private (orders' own): :mod:`._renewals` (the invoice line of a renewal in an order).

This ``__init__`` imports nothing: import the module you need.
"""
