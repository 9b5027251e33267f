"""Products, prices and billing cycles, configurable options, addons, promotions,
currencies and their rates.

Public face (``from billow.services.catalog import products``):

- ``products``: product groups and products, stock;
- ``price_rows``: set and read price rows (per thing, currency and cycle);
- ``pricing``: what things cost (quotes for orders, renewals, upgrades);
- ``cycles``: billing cycles and due-date arithmetic;
- ``config_options``: configurable options and resolving an order's choices;
- ``addons``: catalog addons;
- ``product_fields``: custom fields of products;
- ``promotions``: promo codes;
- ``exchange_rates``, ``ecb_feed``, ``price_conversion``: currencies, their rates (from the
  ECB feed) and prices converted from the default currency.

This ``__init__`` imports nothing; callers import the modules.
"""
