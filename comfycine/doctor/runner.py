"""The ladder: rungs in order, independent ones at once, dependent ones skipped on failure.

Tailscale, the DNS → TCP chain and the cloud check start together, so a PC that is off
costs one TCP timeout (3 s) rather than the sum of every rung's. When Tailscale itself
is broken, the rungs below it are skipped: their failures would only repeat it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from ..errors import UsageError
from ..settings import Settings, resolve
from ..targetkinds import DEPLOYMENT, V2
from ..targets import Target, resolve_target
from .checks import OK, Check, DoctorReport, skipped
from .claude import check_claude
from .network import (
    check_dns,
    check_gpu,
    check_http,
    check_job,
    check_tailscale,
    check_tcp,
    check_websocket,
)
from .setup import (
    check_cloud,
    check_config,
    check_notify,
    check_security,
    check_templates,
    config_failure,
)
from .warm import check_warm

DEFAULT_TIMEOUT = 3.0  # TCP, HTTP and WebSocket each; the PC-off case stays under 5 s
TAILSCALE_TIMEOUT = 2.0
JOB_TIMEOUT = 120.0  # the deep test job: a tiny image, but a cold server loads nodes first
LADDER = (
    "config",
    "tailscale",
    "dns",
    "tcp",
    "http",
    "websocket",
    "gpu",
    "job",
    "templates",
    "cloud",
    "notify",
    "security",
    "claude",
    "warm",
)
_SERVER_RUNGS = ("http", "websocket", "gpu", "job", "templates")


def host_port(url: str) -> tuple[str, int]:
    """The host and port of a URL (the scheme's default port when none is given)."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _skip_all(names: tuple[str, ...], why: str) -> dict[str, Check]:
    return {name: skipped(name, why) for name in names}


async def _reach(url: str, host: str, port: int, timeout: float) -> dict[str, Any]:
    """DNS then TCP, sharing one ``timeout``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    dns, addresses = await check_dns(host, port, min(timeout, TAILSCALE_TIMEOUT))
    if not addresses:
        return {"dns": dns, "tcp": skipped("tcp", "dns failed"), "addresses": []}
    remaining = max(timeout - (loop.time() - started), 0.5)
    tcp = await check_tcp(url, addresses, port, remaining)
    return {"dns": dns, "tcp": tcp, "addresses": addresses}


async def _server_rungs(
    settings: Settings, target: Target, *, deep: bool, timeout: float, job_timeout: float
) -> dict[str, Check]:
    """http, then websocket, gpu and templates at once, then the deep job."""
    target = await target.resolved()
    http, _ = await check_http(target, timeout)
    if http.status != OK:
        return {"http": http, **_skip_all(_SERVER_RUNGS[1:], "http failed")}
    if target.kind in {V2, DEPLOYMENT}:
        # Comfy API v2 has no socket, system view or node catalog: a job is the test.
        job = skipped("job", "not run (add --deep)")
        if deep:
            job = await check_job(settings, target, job_timeout)
        return {
            "http": http,
            "websocket": skipped(
                "websocket", "Comfy API v2: each job streams its events over HTTP"
            ),
            "gpu": skipped("gpu", "Comfy API v2 has no system view"),
            "job": job,
            "templates": skipped(
                "templates", "Comfy API v2 has no node catalog: templates are checked on submit"
            ),
        }
    async with target.client() as client:
        websocket, gpu, templates = await asyncio.gather(
            check_websocket(client, timeout), check_gpu(client), check_templates(settings, client)
        )
    if not deep:
        job = skipped("job", "not run (add --deep)")
    elif websocket.status != OK:
        job = skipped("job", "websocket failed")
    else:
        job = await check_job(settings, target, job_timeout)
    return {"http": http, "websocket": websocket, "gpu": gpu, "job": job, "templates": templates}


async def run_ladder(
    settings: Settings,
    *,
    target: str | None = None,
    deep: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    job_timeout: float = JOB_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> DoctorReport:
    """Run every rung against ``target`` (default ``local``) and return them in order.

    Never raises for a problem it diagnoses: an unknown target is the ``config`` rung
    failing (exit 2) with everything else skipped.
    """
    try:
        chosen = resolve_target(settings, target)
    except UsageError as exc:
        checks = {"config": config_failure(exc), **_skip_all(LADDER[1:], "config failed")}
        return DoctorReport(target or "local", "", [checks[n] for n in LADDER], deep)
    checks = {"config": check_config(settings, chosen, os.environ if env is None else env)}
    host, port = host_port(chosen.url)
    cloud = asyncio.create_task(check_cloud(settings, timeout))
    tailscale = asyncio.create_task(
        check_tailscale(host, cli=settings.tailscale_cli, timeout=min(timeout, TAILSCALE_TIMEOUT))
    )
    reach = asyncio.create_task(_reach(chosen.url, host, port, timeout))
    try:
        checks["tailscale"] = await tailscale
        addresses: list[str] = []
        if checks["tailscale"].failed:
            reach.cancel()
            why = f"tailscale failed ({checks['tailscale'].value})"
            checks.update(_skip_all(("dns", "tcp", *_SERVER_RUNGS), why))
        else:
            reached = await reach
            checks.update(dns=reached["dns"], tcp=reached["tcp"])
            addresses = reached["addresses"]
            if reached["tcp"].status == OK:
                checks.update(
                    await _server_rungs(
                        settings, chosen, deep=deep, timeout=timeout, job_timeout=job_timeout
                    )
                )
            else:
                checks.update(_skip_all(_SERVER_RUNGS, f"{'tcp' if addresses else 'dns'} failed"))
        checks["cloud"] = await cloud
    finally:
        for task in (cloud, tailscale, reach):
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
    checks["notify"] = check_notify(settings)
    checks["security"] = check_security(chosen, host, addresses)
    checks["claude"] = check_claude()
    checks["warm"] = check_warm()
    return DoctorReport(chosen.name, chosen.shown_url, [checks[n] for n in LADDER], deep)


def run_doctor(
    flags: Mapping[str, Any] | None = None,
    *,
    target: str | None = None,
    deep: bool = False,
) -> DoctorReport:
    """``comfycine doctor``: resolve the settings (``flags`` as for :func:`resolve`) and
    run the ladder. Settings that cannot be used are the failing ``config`` rung; a
    ``.env`` that cannot be read fails it too, and the other rungs still run on the
    environment's values."""
    try:
        settings = resolve(flags)
    except UsageError as exc:
        unreadable: UsageError | None = exc
        try:
            if exc.code != "invalid_dotenv":
                raise
            settings = resolve(flags, read_dotenv_file=False)
        except UsageError:
            checks = [config_failure(exc), *(skipped(n, "config failed") for n in LADDER[1:])]
            return DoctorReport(target or "local", "", checks, deep)
    else:
        unreadable = None
    report = asyncio.run(run_ladder(settings, target=target, deep=deep))
    if unreadable is None:
        return report
    checks = [config_failure(unreadable) if c.name == "config" else c for c in report.checks]
    return replace(report, checks=checks)
