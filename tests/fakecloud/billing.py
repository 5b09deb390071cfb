"""The fake cloud's account routes: billing status and balance, and feature flags.

Not in ``openapi-cloud.yaml``: the shapes are the ones comfy-cli's ``comfy cloud status``
reads (``comfy_cli/cloud/command.py``, its tests' "modeled on real cloud responses"
payloads): ``GET /api/billing/status`` → ``{is_active, has_funds, subscription_status,
subscription_tier, plan_slug, billing_rail, renewal_date, cancel_at}``;
``GET /api/billing/balance`` → micro-dollar fields (``effective_balance_micros``, ...);
``GET /api/features`` (in the spec, open-ended) → ``{max_concurrent_jobs, ...}``.
Behind the same ``X-API-Key`` check as every other ``/api/*`` route.

Knobs on ``FakeCloud``: ``billing_status``, ``billing_balance``, ``features`` (a dict
answered as JSON; None answers 404, a route this deployment lacks) and
``billing_delay`` (seconds every answer waits: a slow billing service).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

ACTIVE_CREATOR: dict[str, Any] = {
    "is_active": True,
    "has_funds": True,
    "subscription_status": "active",
    "subscription_tier": "CREATOR",
    "plan_slug": "creator-monthly",
    "billing_rail": "stripe",
    "renewal_date": "2026-09-19",
    "cancel_at": None,
}
# $12.50: 2637.5 credits at 211 per dollar.
BALANCE: dict[str, Any] = {"effective_balance_micros": 12_500_000}
FEATURES: dict[str, Any] = {"max_concurrent_jobs": 3, "supports_preview_metadata": True}


def add_billing_routes(app: web.Application, knobs: Any) -> None:
    """Register the account routes, answering from ``knobs`` (the ``FakeCloud``)."""

    def answer(name: str) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            delay = float(getattr(knobs, "billing_delay", 0.0))
            if delay:
                await asyncio.sleep(delay)
            body = getattr(knobs, name)
            if body is None:
                return web.json_response({"code": "not_found", "message": "Not Found"}, status=404)
            return web.json_response(body)

        return handler

    app.router.add_route("GET", "/api/billing/status", answer("billing_status"))
    app.router.add_route("GET", "/api/billing/balance", answer("billing_balance"))
    app.router.add_route("GET", "/api/features", answer("features"))
