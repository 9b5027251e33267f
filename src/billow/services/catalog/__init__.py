"""Products, prices and billing cycles, configurable options, addons, promotions,
currencies and their rates.
"""
