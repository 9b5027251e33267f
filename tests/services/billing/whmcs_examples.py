"""WHMCS's example responses for the billing actions (from the shared API reference).

Tests compare Billow's answers with these: same keys, same nesting, same JSON types.
"""

from __future__ import annotations

from typing import Any

EXAMPLES: dict[str, dict[str, Any]] = {"AddBillableItem": {"billableid": 1, "status": "success"},
 "AddCredit": {"newbalance": "123.45", "result": "success"},
 "AddInvoicePayment": {"result": "success"},
 "AddTransaction": {"result": "success"},
 "ApplyCredit": {"amount": "10.00", "invoiceid": "1", "invoicepaid": "false", "result": "success"},
 "CreateInvoice": {"invoiceid": "1", "result": "success", "status": "Unpaid"},
 "GenInvoices": {"numcreated": "3", "result": "success"},
 "GetCredits": {"clientid": "1",
                "credits": {"credit": [{"amount": "10.00",
                                        "date": "2016-01-01",
                                        "description": "This is a sample credit record",
                                        "id": "1",
                                        "relid": "0"},
                                       {"amount": "-10.00",
                                        "date": "2016-01-01",
                                        "description": "Credit Applied to Invoice #1",
                                        "id": "2",
                                        "relid": "0"}]},
                "result": "success",
                "totalresults": "2"},
 "GetInvoice": {"balance": "15.95",
                "ccgateway": False,
                "credit": "0.00",
                "date": "2016-01-01",
                "datepaid": "0000-00-00 00:00:00",
                "duedate": "2020-12-30",
                "invoiceid": 1,
                "invoicenum": "",
                "items": {"item": [{"amount": "15.95",
                                    "description": "Sample Monthly Product (01/01/2016 - "
                                                   "31/01/2016)",
                                    "id": 1,
                                    "relid": 1,
                                    "taxed": 0,
                                    "type": "Hosting"}]},
                "lastcaptureattempt": "0000-00-00 00:00:00",
                "notes": "",
                "paymentmethod": "paypalcheckout",
                "result": "success",
                "status": "Unpaid",
                "subtotal": "15.95",
                "tax": "0.00",
                "tax2": "0.00",
                "taxrate": "0.000",
                "taxrate2": "0.000",
                "total": "15.95",
                "transactions": "",
                "userid": 2361},
 "GetInvoices": {"invoices": {"invoice": [{"companyname": "",
                                           "created_at": "2016-01-08 14:06:34",
                                           "credit": "0.00",
                                           "currencycode": "USD",
                                           "currencyprefix": "$",
                                           "currencysuffix": " USD",
                                           "date": "2016-01-01",
                                           "date_cancelled": "0000-00-00 00:00:00",
                                           "date_refunded": "0000-00-00 00:00:00",
                                           "datepaid": "0000-00-00 00:00:00",
                                           "duedate": "2016-01-08",
                                           "firstname": "Test",
                                           "id": 1,
                                           "invoicenum": "",
                                           "last_capture_attempt": "0000-00-00 00:00:00",
                                           "lastname": "Client",
                                           "notes": "",
                                           "paymentmethod": "paypalcheckout",
                                           "paymethodid": None,
                                           "status": "Unpaid",
                                           "subtotal": "15.95",
                                           "tax": "0.00",
                                           "tax2": "0.00",
                                           "taxrate": "0.000",
                                           "taxrate2": "0.000",
                                           "total": "15.95",
                                           "updated_at": "2016-01-08 14:07:17",
                                           "userid": 1}]},
                 "numreturned": 1,
                 "result": "success",
                 "startnumber": 0,
                 "totalresults": 1},
 "GetPaymentMethods": {"paymentmethods": {"paymentmethod": [{"displayname": "PayPal",
                                                             "module": "paypal"},
                                                            {"displayname": "Credit Card",
                                                             "module": "authorize"}]},
                       "result": "success",
                       "totalresults": 2},
 "GetTransactions": {"numreturned": 1,
                     "result": "success",
                     "startnumber": 0,
                     "totalresults": 1,
                     "transactions": {"transaction": [{"amountin": "45.90",
                                                       "amountout": "0.00",
                                                       "currency": "0",
                                                       "date": "2016-01-01 06:41:11",
                                                       "description": "Invoice Payment",
                                                       "fees": "0.00",
                                                       "gateway": "paypal",
                                                       "id": "10",
                                                       "invoiceid": "59",
                                                       "rate": "1.00000",
                                                       "refundid": "0",
                                                       "transid": "1479732071aad259f3513ec",
                                                       "userid": "1"}]}},
 "UpdateInvoice": {"invoiceid": "1", "result": "success"},
 "UpdateTransaction": {"result": "success"}}


def assert_shape(actual: Any, example: Any, path: str = "$") -> None:
    """Fail unless *actual* has *example*'s keys, nesting and JSON scalar types."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        assert set(actual) >= set(example), f"{path}: missing {sorted(set(example) - set(actual))}"
        for key, value in example.items():
            assert_shape(actual[key], value, f"{path}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        if example and actual:
            assert_shape(actual[0], example[0], f"{path}[0]")
    elif example is None:
        assert actual is None or isinstance(actual, int), f"{path}: expected null, got {actual!r}"
    else:
        assert type(actual) is type(example), f"{path}: {type(actual).__name__} != {type(example).__name__}"
