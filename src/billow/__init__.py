"""Billow: billing and automation for hosting providers, speaking the WHMCS API."""

__version__ = "0.1.0"
#: The WHMCS version whose wire contract Billow answers as (``WhmcsDetails``, XML header).
WHMCS_COMPAT_VERSION = "8.13.1"
