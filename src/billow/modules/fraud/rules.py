"""``rules``: the built-in fraud check: blocked countries, e-mail domains, IP velocity."""

from __future__ import annotations

from billow.modules.fraud.base import FraudModule, FraudResult, FraudSubject
from billow.modules.servers.base import ConfigField


def _items(text: str) -> set[str]:
    return {p.strip().lower() for p in text.replace("\n", ",").split(",") if p.strip()}


class RulesModule(FraudModule):
    name = "rules"
    display_name = "Rule-based checks"
    settings = (
        ConfigField("blocked_countries", description="Comma-separated ISO country codes"),
        ConfigField("blocked_email_domains", description="Comma-separated e-mail domains"),
        ConfigField(
            "max_orders_per_ip",
            default="3",
            description="Orders allowed from one IP address within the window (0: no limit)",
        ),
        ConfigField("velocity_hours", default="24", description="The IP velocity window in hours"),
    )

    def check(self, subject: FraudSubject) -> FraudResult:
        reasons = []
        countries = _items(self.config.get("blocked_countries", ""))
        if subject.country and subject.country.lower() in countries:
            reasons.append(f"Country {subject.country.upper()} is blocked")
        domains = _items(self.config.get("blocked_email_domains", ""))
        domain = subject.email.rpartition("@")[2].lower()
        if domain and domain in domains:
            reasons.append(f"E-mail domain {domain} is blocked")
        try:
            limit = int(self.config.get("max_orders_per_ip", "3") or 0)
        except ValueError:
            limit = 3
        if limit and subject.ip and subject.orders_from_ip > limit:
            reasons.append(f"{subject.orders_from_ip} orders from IP {subject.ip} (limit {limit})")
        details = {
            "country": subject.country,
            "email_domain": domain,
            "orders_from_ip": subject.orders_from_ip,
        }
        return FraudResult("Fail" if reasons else "Pass", reasons, details)
