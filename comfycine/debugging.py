"""``debug``: explain a failed job (from the ledger and its server) or a pasted error.

The rules in :mod:`comfycine.diagnose` are pure; this module gathers what they need:
the job's record, the server's own history of it, the template's sidecar,
ComfyUI-Manager's lists on the server, and the Tailscale state when the PC is out of
reach. Every network step is bounded and optional: ``debug`` still answers offline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .diagnose import Diagnosis, Fix, JobContext, diagnose, error_from_text
from .diagnose.context import add_known_facts, context_from_record
from .diagnose.lookup import fill_from_server
from .diagnose.place import is_cloud_url
from .diagnose.rules import missing_classes, missing_model_files
from .errors import ComfycineError, RecordedError
from .jobcontrol import job_view
from .ledger import JobRecord, Ledger
from .outcomes import failure_from_payload, node_titles
from .settings import Settings
from .targets import (
    CLOUD,
    Target,
    auth_for,
    client_for,
    credentialed_url,
    named_targets,
    resolve_target,
)
from .transport.probe import is_tailscale_host, probe
from .urls import bare_url, origin

# A job that ended badly: what "debug last" looks for first.
BAD_STATUSES = frozenset({"failed", "lost", "interrupted"})
TAILSCALE_TIMEOUT = 2.0


@dataclass
class DebugResult:
    """A diagnosis, and the job it is about when there is one."""

    diagnosis: Diagnosis
    job: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """``data`` of the JSON envelope."""
        return {"diagnosis": self.diagnosis.to_dict(), "job": self.job, "error": self.error}


def debug(
    settings: Settings,
    ref: str | None = None,
    *,
    error_text: str | None = None,
    target: str | None = None,
) -> DebugResult:
    """Diagnose job ``ref`` (``last``: the latest that failed) or a pasted ``error_text``."""
    if error_text is not None:
        return asyncio.run(_debug_text(settings, error_text, target))
    return asyncio.run(_debug_job(settings, ref or "last"))


def _find(settings: Settings, ref: str) -> JobRecord:
    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        if ref == "last":
            bad = ledger.recent(1, status=BAD_STATUSES)
            if bad:
                return bad[0]
        return ledger.find(ref)


async def _debug_job(settings: Settings, ref: str) -> DebugResult:
    record = _find(settings, ref)
    ctx = context_from_record(record, settings.workflow_dir)
    view = job_view(record)
    if record.status == "succeeded":
        return DebugResult(Diagnosis("ok", f"Job {record.id[:8]} succeeded: nothing to fix."), view)
    if not record.is_terminal:
        follow = Fix("Follow it:", f"comfycine wait {record.id[:8]}")
        cause = f"Job {record.id[:8]} has not ended ({record.status})."
        return DebugResult(Diagnosis("still_running", cause, [follow]), view)
    error: ComfycineError = RecordedError(record.error or {}, job=record.id, status=record.status)
    error = await _with_server_history(settings, record, error)
    await _enrich(settings, ctx, error, record.server_url, record.target)
    return DebugResult(diagnose(error, ctx), view, _error_view(error))


async def _with_server_history(
    settings: Settings, record: JobRecord, error: ComfycineError
) -> ComfycineError:
    """The server's own execution_error when the ledger kept less (e.g. a lost socket)."""
    if error.details.get("exception_message") or error.code not in {"node_exception", "failed"}:
        return error
    try:
        async with client_for(settings, record.target, record.server_url) as client:
            history = await client.history(record.id)
    except ComfycineError:
        return error
    payload = history.last_message("execution_error") if history else None
    if not payload:
        return error
    found = failure_from_payload(payload, node_titles(record.graph))
    found.details["job"] = record.id
    return found


async def _debug_text(settings: Settings, text: str, target: str | None) -> DebugResult:
    error = error_from_text(text)
    chosen, known = _pasted_target(settings, error, target)
    ctx = JobContext(target=chosen.name, server_url=bare_url(chosen.url), target_known=known)
    add_known_facts(ctx, settings.workflow_dir)
    # Only the configured target is ever contacted, never a URL found in pasted text.
    await _enrich(settings, ctx, error, chosen.url, chosen.name)
    return DebugResult(diagnose(error, ctx), None, _error_view(error))


def _pasted_target(
    settings: Settings, error: ComfycineError, name: str | None
) -> tuple[Target, bool]:
    """The target a pasted error came from, and whether anything said so.

    ``--target`` first; else the configured target whose URL the text names (Comfy
    Cloud for any Comfy URL); else the default target, not known to be the one.
    """
    if name is not None:
        return resolve_target(settings, name), True
    url = str(error.details.get("url") or "")
    where = origin(url) if url else None
    targets = named_targets(settings)
    if where is not None:
        for candidate in targets.values():
            if origin(candidate.url) == where:
                return candidate, True
    if is_cloud_url(url):
        return targets[CLOUD], True
    return resolve_target(settings, None), False


async def _enrich(
    settings: Settings, ctx: JobContext, error: ComfycineError, url: str, target: str
) -> None:
    """Ask the server's Manager about missing packs/models; Tailscale about a lost PC."""
    url = credentialed_url(settings, target, url)
    classes = missing_classes(error)
    files = [name for name, _ in missing_model_files(error)]
    if (classes or files) and target != "cloud":
        try:
            async with client_for(settings, target, url) as client:
                await fill_from_server(
                    ctx, client, settings.cache_dir, classes=classes, files=files
                )
        except ComfycineError:
            pass  # the server is gone: the template's facts and plain advice remain
    if error.code == "target_unreachable":
        problem = await tailscale_problem(url, settings.tailscale_cli)
        if problem is not None:
            ctx.tailscale_problem, ctx.tailscale_fix = problem
        elif url:
            now = await probe(url, timeout=3.0, auth=auth_for(settings, target, url), target=target)
            if now.ok:
                error.details["reachable_now"] = True


async def tailscale_problem(url: str, cli: str | None = None) -> tuple[str, str] | None:
    """(what is wrong, the fix) with the tailnet for ``url``'s host; None when fine or n/a."""
    from .doctor.network import judge_tailscale
    from .tailscale import tailscale_status

    host = urlsplit(url).hostname or ""
    if not host or not is_tailscale_host(host):
        return None
    check = judge_tailscale(host, await tailscale_status(TAILSCALE_TIMEOUT, cli=cli))
    return (check.value, check.fix) if check.status == "fail" else None


def _error_view(error: ComfycineError) -> dict[str, Any]:
    view = error.to_dict()
    view["details"] = {k: v for k, v in view["details"].items() if k != "diagnosis"}
    return view


def free_memory(
    settings: Settings, target: str | None = None, *, unload_models: bool = True
) -> dict[str, Any]:
    """Ask the target's ComfyUI to release GPU memory (``POST /free``)."""
    chosen = resolve_target(settings, target)

    async def run() -> None:
        async with chosen.client() as client:
            await client.free_memory(unload_models=unload_models)

    asyncio.run(run())
    return {"target": chosen.name, "url": chosen.shown_url, "unload_models": unload_models}
