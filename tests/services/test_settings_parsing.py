"""On/off settings are read one way, through settings.setting_on, with their defaults."""

from __future__ import annotations

import pytest

from billow.services.settings import get_setting, set_setting, setting_on


@pytest.mark.parametrize(("key", "default"), [("AutoUnsuspend", True), ("EnablePDFInvoices", True),
                                              ("TaxEnabled", False), ("NoAutoApplyCredit", False)])
def test_defaults_of_on_off_settings(uow, key, default):
    assert setting_on(uow, key) is default


@pytest.mark.parametrize(("stored", "on"), [("on", True), ("1", True), ("Yes", True), (" true ", True),
                                             ("", False), ("off", False), ("0", False), ("no", False)])
def test_stored_values_read_alike_for_every_key(uow, stored, on):
    for key in ("AutoUnsuspend", "EnablePDFInvoices", "TaxEnabled"):
        set_setting(uow, key, stored)
        assert get_setting(uow, key) == stored
        assert setting_on(uow, key) is on, key
