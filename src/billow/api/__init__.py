"""The WHMCS wire layer: ``POST /includes/api.php``."""
