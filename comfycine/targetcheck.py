"""``targets`` and ``doctor``: is each target there, what is it, and which API does what.

A ComfyUI and Comfy Cloud's v1 side are probed by :func:`~.transport.probe.probe`; a
Comfy API v2 server (comfy-api-proxy, a deployment) by one authenticated look at an
unknown job, which tells a server that takes the credentials (404) from one that
refuses them (401). Comfy Cloud is asked both ways: its jobs go over v2, its node
catalog over v1, and a key may be taken by one and refused by the other.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .cloudcost import Rate, account_of
from .errors import CloudAccountError, ComfycineError, TargetAuthError, TargetUnreachable
from .settings import Settings
from .targetkinds import DEPLOYMENT, V2
from .targets import Target, named_targets
from .transport.probe import ProbeResult, probe

# What each kind of server serves, for the rows of `targets` (a client says it too).
COMFYUI_PARTS = {"jobs": "ComfyUI", "nodes": "ComfyUI /object_info", "events": "WebSocket"}


async def check_targets(settings: Settings, *, timeout: float = 3.0) -> list[dict[str, Any]]:
    """Every target with its kind, reachability and APIs, probed at once (≤ ``timeout``)."""
    targets = list(named_targets(settings).values())
    rate = Rate.from_settings(settings)
    checks = (check_target(t, timeout=timeout, rate=rate) for t in targets)
    return list(await asyncio.gather(*checks))


async def check_target(
    target: Target, *, timeout: float = 3.0, rate: Rate | None = None
) -> dict[str, Any]:
    """One target's row: kind (asked afresh), the probe's result, the API of each part.

    Comfy Cloud's row adds ``account`` (plan, balance, concurrency; ``known`` False when
    the cloud does not say), asked alongside and bounded by the same ``timeout``.
    """
    if target.is_cloud and not target.api_key:
        # Nothing to learn without a key, and no traffic to the cloud.
        return {
            **target.to_dict(),
            "ok": False,
            "state": "no_key",
            "detail": "COMFY_CLOUD_API_KEY is not set",
            "hint": "Set COMFY_CLOUD_API_KEY (from platform.comfy.org) to use the cloud.",
        }
    started = time.monotonic()
    try:
        target = await target.resolved(fresh=True)
    except TargetUnreachable as exc:
        # Asking what it is found it out of reach: that is the row (no second wait).
        reason = str(exc.details.get("reason") or "connect")
        result = _result(target, reason, started, exc.message, exc.hint)
        return {**target.to_dict(), **result.to_dict()}
    if target.kind in {V2, DEPLOYMENT}:
        result, parts = await probe_v2(target, timeout=timeout)
        return {**target.to_dict(), **result.to_dict(), "api": parts}
    result = await probe(
        target.url,
        timeout=timeout,
        api_key=target.api_key if target.is_cloud else None,
        auth=target.auth,
        target=target.name,
    )
    row: dict[str, Any] = {**target.to_dict(), **result.to_dict(), "api": dict(COMFYUI_PARTS)}
    if target.is_cloud:
        extra, account = await asyncio.gather(
            _cloud_v2_check(target, result, timeout),
            account_of(target, rate or Rate(), timeout=timeout),
        )
        row.update(extra, account=account.to_dict())
    return row


async def probe_v2(target: Target, *, timeout: float) -> tuple[ProbeResult, dict[str, str]]:
    """Probe a Comfy API v2 server with its credentials; and what it serves."""
    started = time.monotonic()
    client = target.make_client()
    parts = client.api_parts()
    try:
        async with asyncio.timeout(timeout):
            await client.reachable()
    except TimeoutError:
        return _result(target, "timeout", started, "no answer in time"), parts
    except TargetUnreachable as exc:
        reason = str(exc.details.get("reason") or "connect")
        return _result(target, reason, started, exc.message, exc.hint), parts
    except (CloudAccountError, TargetAuthError) as exc:
        return _result(target, "auth", started, exc.message, exc.hint, 401), parts
    except ComfycineError as exc:
        status = exc.details.get("status")
        return (
            _result(target, "http_error", started, exc.message, exc.hint, status),
            parts,
        )
    finally:
        await client.aclose()
    detail = "Comfy API v2 answers and takes the credentials"
    if target.auth is None and not target.billed:
        detail = "Comfy API v2 answers (no credentials needed)"
    return _result(target, "ok", started, detail), parts


async def _cloud_v2_check(target: Target, v1: ProbeResult, timeout: float) -> dict[str, Any]:
    """Comfy Cloud: which API each part uses, and whether v2 takes the key too."""
    from .transport.cloud import CloudClient

    client = target.make_client()
    assert isinstance(client, CloudClient)
    parts = client.api_parts()
    try:
        async with asyncio.timeout(timeout):
            await client.v2.reachable()
        v2_state = "ok"
    except TimeoutError:
        v2_state = "timeout"
    except (CloudAccountError, TargetAuthError):
        v2_state = "auth"
    except ComfycineError as exc:
        v2_state = "not_served" if exc.code == "not_comfy_api_v2" else "error"
    finally:
        await client.aclose()
    extra: dict[str, Any] = {"api": parts, "v2": v2_state}
    if v1.ok and v2_state == "auth":
        extra.update(
            ok=False,
            state="auth",
            detail="Comfy Cloud's API v2 (jobs) refused the key that its v1 API accepts",
            hint="Create a new key at platform.comfy.org, or use v1 meanwhile: "
            "COMFYCINE_CLOUD_API=v1",
        )
    elif v1.state == "auth" and v2_state == "ok":
        extra.update(
            ok=True,
            state="ok",
            detail="jobs run over API v2; v1 (node catalog) refused the key, so "
            "workflows are not checked before they are sent",
        )
    elif v2_state == "not_served" and v1.ok:
        parts["jobs"] = "v1 (this server does not serve Comfy API v2 jobs)"
    return extra


def _result(
    target: Target,
    state: str,
    started: float,
    detail: str,
    hint: str | None = None,
    status: Any = None,
) -> ProbeResult:
    return ProbeResult(
        url=target.shown_url,
        state=state,
        seconds=time.monotonic() - started,
        detail=detail,
        hint=hint or "",
        status=status if isinstance(status, int) else None,
    )
