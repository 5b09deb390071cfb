"""The Comfy Cloud account's balance, plan and concurrency, where the API tells them.

Comfy Cloud's OpenAPI (``openapi-cloud.yaml``) has no balance route: ``/api/user`` only
says ``active`` or ``waitlisted``. The cloud's billing routes, as comfy-cli's
``comfy cloud status`` reads them with the same ``X-API-Key``, are:

* ``GET /api/billing/status``: ``subscription_tier`` (``STANDARD``, ``CREATOR``,
  ``PRO``...), ``subscription_status``, ``is_active``, ``has_funds``, ``plan_slug``,
  ``renewal_date``;
* ``GET /api/billing/balance``: the balance in micro-dollars, first non-zero of
  ``effective_balance_micros``, ``amount_micros``, ``prepaid_balance_micros``,
  ``cloud_credit_balance_micros``;
* ``GET /api/features`` (in the spec, open-ended): ``max_concurrent_jobs``.

Each answer is optional and the whole look is bounded: anything missing, refused or
slow leaves that part ``None`` and the account "unknown", never a failed command. A
balance is withheld (not shown as 0) when nothing confirms the account (no subscription,
no funds, no balance), as comfy-cli does for accounts in the middle of a billing move.
The key is only ever sent inside the client; nothing here prints or stores it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ComfycineError
from ..sanitize import clean_text, one_line
from .rate import Rate, credits_text, usd_text

if TYPE_CHECKING:
    from ..targets import Target
    from ..transport.local import ComfyClient

STATUS_PATH = "/api/billing/status"
BALANCE_PATH = "/api/billing/balance"
FEATURES_PATH = "/api/features"
BALANCE_FIELDS = (
    "effective_balance_micros",
    "amount_micros",
    "prepaid_balance_micros",
    "cloud_credit_balance_micros",
)
_NO_SUBSCRIPTION = frozenset({"", "none", "null", "no_subscription"})
MICROS_PER_USD = 1_000_000


@dataclass(frozen=True)
class Account:
    """What the cloud said about the account; ``known`` is False when it said nothing."""

    known: bool
    tier: str | None = None
    plan: str | None = None
    status: str | None = None
    active: bool | None = None
    balance_credits: float | None = None
    balance_usd: float | None = None
    max_concurrent_jobs: int | None = None
    detail: str = ""

    def describe(self) -> str:
        """One line: ``plan CREATOR (active), balance 2,637 credits ($12.50), 3 jobs at once``."""
        if not self.known:
            return f"unknown ({self.detail})" if self.detail else "unknown"
        parts = []
        if self.tier or self.plan:
            state = f" ({self.status})" if self.status else ""
            parts.append(f"plan {self.tier or self.plan}{state}")
        if self.balance_credits is not None and self.balance_usd is not None:
            parts.append(
                f"balance {credits_text(self.balance_credits)} ({usd_text(self.balance_usd)})"
            )
        else:
            parts.append("balance unknown")
        if self.max_concurrent_jobs is not None:
            parts.append(f"{self.max_concurrent_jobs} job(s) at once")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``data.targets[].account``, the doctor's ``details.account``)."""
        return {
            "known": self.known,
            "tier": self.tier,
            "plan": self.plan,
            "status": self.status,
            "active": self.active,
            "balance_credits": self.balance_credits,
            "balance_usd": self.balance_usd,
            "max_concurrent_jobs": self.max_concurrent_jobs,
            "detail": self.detail,
            "text": self.describe(),
        }


def _number(value: Any) -> int | None:
    """An int from a JSON number or numeric string (billing sends both); never a bool."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return None
    return None


def balance_micros(body: Any) -> int | None:
    """The balance in micro-dollars: the first non-zero field, 0 if all say 0, else None.

    A zero in a preferred field must not hide credits in another (comfy-cli's rule).
    """
    if not isinstance(body, dict):
        return None
    seen = False
    for name in BALANCE_FIELDS:
        value = _number(body.get(name))
        if value is None:
            continue
        seen = True
        if value != 0:
            return value
    return 0 if seen else None


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return one_line(clean_text(value.strip()))[:40]


def read_account(status: Any, balance: Any, features: Any, rate: Rate) -> Account:
    """An :class:`Account` from the three answers (each None when not had)."""
    if not isinstance(status, dict) and balance is None and features is None:
        return Account(False, detail="the cloud does not say (no billing routes answered)")
    status = status if isinstance(status, dict) else {}
    micros = balance_micros(balance)
    subscription = str(status.get("subscription_status") or "").strip().lower()
    confirmed = (
        bool(micros) or subscription not in _NO_SUBSCRIPTION or bool(status.get("has_funds"))
    )
    credits = usd = None
    if micros is not None and confirmed:
        usd = micros / MICROS_PER_USD
        credits = round(usd * rate.credits_per_usd, 1)
        usd = round(usd, 2)
    concurrent = (
        _number(features.get("max_concurrent_jobs")) if isinstance(features, dict) else None
    )
    active = status.get("is_active")
    return Account(
        True,
        tier=_text(status.get("subscription_tier")),
        plan=_text(status.get("plan_slug")),
        status=_text(status.get("subscription_status")),
        active=active if isinstance(active, bool) else None,
        balance_credits=credits,
        balance_usd=usd,
        max_concurrent_jobs=concurrent,
        detail="" if credits is not None else "the cloud did not confirm a balance",
    )


async def fetch_account(client: ComfyClient, rate: Rate, *, timeout: float = 3.0) -> Account:
    """Ask a :class:`~comfycine.transport.cloud.CloudClient` for the account, in ≤ ``timeout``.

    Never raises for what the cloud answers or fails to: a refused key, a route that is
    not there, a timeout or a dropped link all give an unknown part.
    """

    async def get(path: str) -> Any:
        try:
            return await client.first_json([path], timeout=timeout)
        except ComfycineError:
            return None

    try:
        async with asyncio.timeout(timeout):
            status, balance, features = await asyncio.gather(
                get(STATUS_PATH), get(BALANCE_PATH), get(FEATURES_PATH)
            )
    except TimeoutError:
        return Account(False, detail=f"no answer in {timeout:g} s")
    return read_account(status, balance, features, rate)


async def account_of(target: Target, rate: Rate, *, timeout: float = 3.0) -> Account:
    """The account behind a cloud :class:`~comfycine.targets.Target` (unknown otherwise)."""
    if not target.is_cloud or not target.api_key:
        return Account(False, detail="not a keyed Comfy Cloud target")
    try:
        client = target.make_client()
    except ComfycineError as exc:
        return Account(False, detail=exc.code)
    try:
        return await fetch_account(client, rate, timeout=timeout)
    finally:
        await client.aclose()
