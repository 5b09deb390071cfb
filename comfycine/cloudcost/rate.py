"""What Comfy Cloud charges: credits per GPU second, and credits per US dollar.

Comfy prices everything in credits at a fixed 211 credits to the dollar
(docs.comfy.org/development/comfy-router/pricing, "1.00 USD = 211 credits"; the same
constant as comfy-cli's ``cloud/billing.py``). Cloud's GPU time costs 0.266 credits per
second on its RTX 6000 Pro (docs.comfy.org/tutorials/partner-nodes/pricing, table
"Cloud GPU", since Comfy-Org/docs#1387). Both are settings (``COMFYCINE_CLOUD_RATE``,
``COMFYCINE_CLOUD_CREDITS_PER_USD``) so a new price needs no release; the service bills
what it measures, these only feed estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..envnames import ENV_CLOUD_RATE
from ..settings import DEFAULT_CLOUD_CREDITS_PER_USD, DEFAULT_CLOUD_RATE, Settings

RATE_SOURCE = "docs.comfy.org/tutorials/partner-nodes/pricing (Cloud GPU)"


@dataclass(frozen=True)
class Rate:
    """Credits per GPU second and per dollar; ``source`` says where the number is from."""

    credits_per_second: float = DEFAULT_CLOUD_RATE
    credits_per_usd: float = DEFAULT_CLOUD_CREDITS_PER_USD
    source: str = RATE_SOURCE

    @classmethod
    def from_settings(cls, settings: Settings) -> Rate:
        """The configured rate; a changed one names its variable as the source."""
        changed = settings.sources.get("cloud_rate") not in (None, "default")
        return cls(
            credits_per_second=settings.cloud_rate,
            credits_per_usd=settings.cloud_credits_per_usd,
            source=ENV_CLOUD_RATE if changed else RATE_SOURCE,
        )

    def credits(self, seconds: float) -> float:
        """Credits for ``seconds`` of GPU time."""
        return seconds * self.credits_per_second

    def usd(self, credits: float) -> float:
        """Dollars for ``credits``."""
        return credits / self.credits_per_usd

    def to_dict(self) -> dict[str, Any]:
        """JSON form: per second and per minute, in credits and dollars."""
        per_minute = self.credits(60.0)
        return {
            "credits_per_second": self.credits_per_second,
            "credits_per_minute": round(per_minute, 3),
            "usd_per_minute": round(self.usd(per_minute), 4),
            "credits_per_usd": self.credits_per_usd,
            "source": self.source,
        }


def credits_text(credits: float) -> str:
    """``38 credits``, ``2,637 credits``, ``4.2 credits``: as a person reads an amount."""
    if 0 < credits < 0.05:
        return "< 0.1 credits"
    if abs(credits) < 10:
        return f"{credits:.1f} credits"
    return f"{credits:,.0f} credits"


def usd_text(usd: float) -> str:
    """``$0.18``, ``$12.50``; small amounts keep a third decimal (``$0.076``)."""
    if 0 < usd < 0.0005:
        return "< $0.001"
    if abs(usd) < 0.1:
        return f"${usd:.3f}"
    return f"${usd:,.2f}"
