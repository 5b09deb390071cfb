"""``comfycine fix``: install what a workflow lacks on the PC, through ComfyUI-Manager.

1. Validate the workflow (a template, a file, or a job of the ledger) against the live
   server: its missing models and node classes.
2. Plan: where each comes from (:mod:`.plan`), sizes where known.
3. Consent: ``yes``, or ``ask`` (a person at a terminal) says yes; else exit 9.
4. Queue every item on Manager, start it, follow each item to its end (bounded).
5. Node packs installed → restart ComfyUI through Manager, wait until it answers again.
6. Validate again: what is still missing, if anything.

Where Manager is absent, refuses, or cannot install (its security level, a PC on the
network without ``network_mode = personal_cloud``), the steps to do by hand on the PC
come back instead (:mod:`.manual`). Nothing is installed without consent.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import ComfycineError, ConsentRequired, TargetUnreachable
from ..graph.catalog_source import load_catalog
from ..preflight import LoadedWorkflow, ValidationReport, check
from ..settings import Settings
from ..targets import Target
from ..transport.auth import OriginBoundAuth
from ..urls import bare_url
from .client import ItemResult, ManagerClient, ManagerError, ManagerInfo
from .manual import Machine, manual_steps
from .plan import (
    FixPlan,
    ModelInstall,
    ModelSource,
    PackInstall,
    PackSource,
    needs_of,
    resolve_models,
    resolve_packs,
    template_packs,
)

POLL_SECONDS = 1.0
SIZE_TIMEOUT = 5.0
# Manager's refusal by security level or network mode comes back as this one word.
_REFUSED = "failed"
_NETWORK_STEPS = [
    "ComfyUI-Manager refused to install: on a PC reached over the network it installs only"
    " when its config allows it. On the PC, in ComfyUI's user folder, edit"
    " __manager/config.ini (ComfyUI-Manager 3.x: default/ComfyUI-Manager/config.ini) and set"
    " network_mode = personal_cloud and security_level = normal under [default]; restart"
    " ComfyUI; run comfycine fix again.",
]

_SECURITY_STEPS = [
    "ComfyUI-Manager's security level forbids installing. On the PC, in ComfyUI's user"
    " folder, edit __manager/config.ini (3.x: default/ComfyUI-Manager/config.ini), set"
    " security_level = normal under [default], restart ComfyUI, run comfycine fix again;"
    " or install by hand:",
]

Ask = Callable[[FixPlan], bool]
Progress = Callable[[str], None]


@dataclass
class FixResult:
    """What ``fix`` found, did, and left to do."""

    workflow: str
    plan: FixPlan
    dry_run: bool = False
    manager: str | None = None
    installed: list[dict[str, Any]] = field(default_factory=list)
    restarted: bool = False
    remaining: list[dict[str, Any]] = field(default_factory=list)
    manual_steps: list[str] = field(default_factory=list)

    @property
    def fixed(self) -> bool:
        """Nothing is missing any more (after a real run)."""
        return not self.dry_run and not self.remaining

    def to_dict(self) -> dict[str, Any]:
        """``data`` of the envelope."""
        return {
            "workflow": self.workflow,
            "dry_run": self.dry_run,
            "manager": self.manager,
            **self.plan.to_dict(),
            "installed": self.installed,
            "restarted": self.restarted,
            "remaining": self.remaining,
            "manual_steps": self.manual_steps,
            "fixed": self.fixed,
        }


@dataclass(frozen=True)
class FixOptions:
    """How ``fix`` runs: consent, and its bounds in seconds."""

    yes: bool = False
    dry_run: bool = False
    ask: Ask | None = None
    timeout: float = 7200.0  # downloads of 14-28 GB checkpoints on the PC's line
    restart_timeout: float = 300.0


def manager_http(target: Target) -> httpx.AsyncClient:
    """An HTTP client for Manager's routes on ``target`` (its credentials, bound to it)."""
    base = bare_url(target.url)
    auth = OriginBoundAuth(target.auth, base) if target.auth is not None else None
    return httpx.AsyncClient(
        base_url=base,
        timeout=httpx.Timeout(30.0, connect=5.0),
        auth=auth,
        headers={"User-Agent": "comfycine"},
        trust_env=False,
    )


async def fix(
    settings: Settings,
    ref: str,
    *,
    target: Target,
    options: FixOptions,
    progress: Progress | None = None,
    http: httpx.AsyncClient | None = None,
) -> FixResult:
    """Plan, and with consent install, what ``ref`` lacks on ``target`` (see module)."""
    say = progress or (lambda _text: None)
    loaded, report = await _validate(settings, ref, target)
    models, classes, other = needs_of(report.problems, loaded.graph, loaded.declared_models)
    result = FixResult(loaded.label, FixPlan(other_problems=other), dry_run=options.dry_run)
    if not models and not classes:
        result.remaining = [p.to_dict() for p in report.problems]
        return result
    owned = http is None
    http = http or manager_http(target)
    try:
        manager = ManagerClient(http)
        info = await _detect(manager, say)
        result.manager = info.version if info is not None else None
        result.plan = await _plan(loaded, models, classes, other, manager, info)
        await _sizes(result.plan, http)
        machine = await _machine(http)
        result.manual_steps = manual_steps(result.plan, machine)
        if options.dry_run or result.plan.empty or info is None:
            result.remaining = [p.to_dict() for p in report.problems]
            return result
        _consent(result, options)
        await _install(manager, info, result, options, say)
        result.manual_steps = _left_steps(result, machine)
    finally:
        if owned:
            await http.aclose()
    _, after = await _validate(settings, ref, target)
    result.remaining = [p.to_dict() for p in after.problems]
    return result


async def _validate(
    settings: Settings, ref: str, target: Target
) -> tuple[LoadedWorkflow, ValidationReport]:
    """The workflow and its problems against the live server (a job: its graph)."""
    from ..workbench import load_workflow

    async with target.client() as client:
        catalog = await load_catalog(client, settings.cache_dir)
    try:
        loaded = load_workflow(ref, settings, catalog, server_url=target.url, allow_ui=True)
    except ComfycineError as exc:
        if exc.code != "unknown_template":
            raise
        loaded = _job_workflow(settings, ref, exc)
    return loaded, check(loaded, catalog)


def _job_workflow(settings: Settings, ref: str, missing: ComfycineError) -> LoadedWorkflow:
    """A ledger job's graph (with its template's sidecar when it still loads)."""
    from ..ledger import Ledger
    from ..templates import load_template, template_dirs

    if not settings.ledger_path.is_file():
        raise missing
    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        try:
            record = ledger.find(ref)
        except ComfycineError:
            raise missing from None
    template = None
    if record.template:
        try:
            template = load_template(record.template, template_dirs(settings.workflow_dir))
        except ComfycineError:
            template = None
    return LoadedWorkflow(record.template or record.id[:8], record.graph, "job", None, template)


async def _detect(manager: ManagerClient, say: Progress) -> ManagerInfo | None:
    try:
        info = await manager.detect()
    except httpx.HTTPError as exc:
        raise TargetUnreachable(
            f"The server did not answer ComfyUI-Manager's routes: {exc}."
        ) from None
    say(
        f"ComfyUI-Manager {info.version} on the server."
        if info is not None
        else "The server has no ComfyUI-Manager: the steps to do by hand follow."
    )
    return info


async def _plan(
    loaded: LoadedWorkflow,
    models: list[Any],
    classes: dict[str, list[str]],
    other: list[Any],
    manager: ManagerClient,
    info: ManagerInfo | None,
) -> FixPlan:
    """Look every need up: the template, the workflow file, then Manager's lists."""
    from ..graph.modelrefs import model_refs

    sources = [ModelSource("template", loaded.declared_models)]
    if loaded.path is not None and loaded.path.suffix == ".json" and loaded.path.is_file():
        try:
            data = json.loads(loaded.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        refs = model_refs(data) if data is not None else []
        sources.append(
            ModelSource(
                "workflow",
                [
                    {"name": r.name, "url": r.url, "folder": r.directory}
                    for r in refs
                    if r.url is not None
                ],
            )
        )
    packs = [template_packs(loaded.custom_nodes)]
    core: set[str] = set()
    if info is not None:
        try:
            sources.append(ModelSource("manager", await manager.model_list(info)))
            mapped = await manager.mappings(info)
        except (ManagerError, httpx.HTTPError):
            mapped = {}
        core = {cls for cls in classes if mapped.get(cls, {}).get("core")}
        packs.append(PackSource("manager", {k: v for k, v in mapped.items() if not v.get("core")}))
    plan = resolve_models(models, sources)
    plan.other_problems = list(other)
    resolve_packs({c: n for c, n in classes.items() if c not in core}, packs, plan)
    for cls in sorted(core):
        plan.unresolved.append(
            {
                "kind": "node",
                "name": cls,
                "nodes": classes[cls],
                "reason": "a core ComfyUI node the PC's ComfyUI is too old to have: update"
                " ComfyUI on the PC",
            }
        )
    return plan


async def _sizes(plan: FixPlan, http: httpx.AsyncClient) -> None:
    """Fill the sizes Manager did not give, by asking each URL (HEAD, bounded)."""

    async def size_of(item: ModelInstall) -> ModelInstall:
        if item.size is not None:
            return item
        try:
            async with httpx.AsyncClient(
                follow_redirects=True, timeout=SIZE_TIMEOUT, trust_env=True
            ) as web:
                answer = await web.head(item.url)
        except httpx.HTTPError:
            return item
        # Hugging Face answers the redirect with the file's size in X-Linked-Size.
        text = answer.headers.get("x-linked-size") or answer.headers.get("content-length")
        size = int(text) if text and text.isdigit() and answer.status_code < 400 else None
        return ModelInstall(item.name, item.folder, item.url, item.source, size, item.listing)

    del http  # sizes come from the model hosts, never with the server's credentials
    plan.models = list(await asyncio.gather(*(size_of(m) for m in plan.models)))


async def _machine(http: httpx.AsyncClient) -> Machine:
    try:
        answer = await http.get("/system_stats")
        stats = answer.json() if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        stats = None
    return Machine.from_system_stats(stats if isinstance(stats, dict) else None)


def _consent(result: FixResult, options: FixOptions) -> None:
    """Go on only with a yes: the flag, or a person at a terminal."""
    if options.yes or (options.ask is not None and options.ask(result.plan)):
        return
    count = len(result.plan.models) + len(result.plan.packs)
    asked = options.ask is not None
    raise ConsentRequired(
        f"Nothing installed: {count} item(s) for {result.workflow} need your yes"
        + (" (you said no)." if asked else "."),
        code="install_not_allowed",
        hint=f"See them with: comfycine fix {result.workflow} --dry-run; install them with:"
        f" comfycine fix {result.workflow} --yes",
        details=result.to_dict(),
    )


async def _install(
    manager: ManagerClient,
    info: ManagerInfo,
    result: FixResult,
    options: FixOptions,
    say: Progress,
) -> None:
    """Queue, start and follow every item; restart when packs were installed."""
    run = uuid.uuid4().hex[:12]
    client_id = f"comfycine-{run}"
    every: list[ModelInstall | PackInstall] = [*result.plan.models, *result.plan.packs]
    items = [(f"{client_id}-{n}", item) for n, item in enumerate(every, start=1)]
    try:
        for ui_id, item in items:
            if isinstance(item, ModelInstall):
                await manager.queue_model(info, item, client_id, ui_id)
            else:
                await manager.queue_pack(info, item, client_id, ui_id)
        await manager.start(info)
    except ManagerError as exc:
        say(exc.message)
        result.installed = [_outcome(i, ItemResult(False, exc.message)) for _, i in items]
        return
    say(f"Queued {len(items)} item(s) on ComfyUI-Manager; following them.")
    outcomes = await _follow(manager, info, items, client_id, options.timeout, say)
    result.installed = [_outcome(item, outcomes.get(ui_id)) for ui_id, item in items]
    packs_done = [
        item
        for ui_id, item in items
        if isinstance(item, PackInstall) and (outcomes.get(ui_id) is None or outcomes[ui_id].ok)
    ]
    if packs_done:
        say("Restarting ComfyUI through Manager (new node packs load at start).")
        await _restart(manager, info, options.restart_timeout, say)
        result.restarted = True


def _outcome(item: ModelInstall | PackInstall, ended: ItemResult | None) -> dict[str, Any]:
    kind = "model" if isinstance(item, ModelInstall) else "pack"
    name = item.name if isinstance(item, ModelInstall) else item.title
    if ended is None:
        return {"kind": kind, "name": name, "ok": None, "message": "result not reported"}
    return {"kind": kind, "name": name, "ok": ended.ok, "message": ended.message}


async def _follow(
    manager: ManagerClient,
    info: ManagerInfo,
    items: list[tuple[str, ModelInstall | PackInstall]],
    client_id: str,
    timeout: float,
    say: Progress,
) -> dict[str, ItemResult]:
    """Each item's end (per-item results on 4.2+; the queue draining before)."""
    ended: dict[str, ItemResult] = {}
    deadline = time.monotonic() + timeout
    restarted_worker = False
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        if info.has_history:
            for ui_id, item in items:
                if ui_id in ended:
                    continue
                outcome = await manager.result(info, ui_id)
                if outcome is not None:
                    ended[ui_id] = outcome
                    mark = "✓" if outcome.ok else "✗"
                    why = f": {outcome.message}" if outcome.message else ""
                    say(f"{mark} {_label(item)}{why}")
            if len(ended) == len(items):
                return ended
        state = await manager.state(info, client_id)
        if not state.processing and state.total == 0 and not info.has_history:
            return ended  # the queue drained; the re-validation tells what landed
        if not state.processing and state.pending and not restarted_worker:
            await manager.start(info)  # the worker stopped with items left: once more
            restarted_worker = True
    raise _still_installing(timeout)


def _label(item: ModelInstall | PackInstall) -> str:
    if isinstance(item, ModelInstall):
        return f"model {item.name} → models/{item.folder}/"
    return f"node pack {item.title}"


def _still_installing(timeout: float) -> ComfycineError:
    from ..errors import StillRunning

    return StillRunning(
        f"ComfyUI-Manager is still installing after {timeout:.0f} s; it goes on on the PC.",
        code="fix_still_running",
        hint="Check later with: comfycine workflow validate NAME (run fix again once it is"
        " done if something is still missing)",
    )


async def _restart(
    manager: ManagerClient, info: ManagerInfo, timeout: float, say: Progress
) -> None:
    """Manager's reboot, then wait (bounded) until the server answers again."""
    began = time.monotonic()
    await manager.reboot(info)
    await asyncio.sleep(1.0)  # the process replaces itself; do not catch the old one
    while time.monotonic() - began < timeout:
        try:
            answer = await manager.http.get("/system_stats", timeout=3.0)
            if answer.status_code == 200:
                say(f"ComfyUI is back after {time.monotonic() - began:.0f} s.")
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(POLL_SECONDS)
    raise TargetUnreachable(
        f"ComfyUI did not come back within {timeout:.0f} s after Manager restarted it.",
        code="restart_timeout",
        hint="Look at the PC: a node pack may have stopped ComfyUI from starting. Then:"
        " comfycine doctor",
    )


def _left_steps(result: FixResult, machine: Machine) -> list[str]:
    """The manual steps for what Manager did not install (refusals explained)."""
    failed = [i for i in result.installed if i["ok"] is False]
    if not failed:
        return []
    names = {i["name"] for i in failed}
    left = FixPlan(
        models=[m for m in result.plan.models if m.name in names],
        packs=[p for p in result.plan.packs if p.title in names],
        unresolved=result.plan.unresolved,
    )
    steps = manual_steps(left, machine)
    if any(i["message"] == _REFUSED for i in failed):
        steps = _NETWORK_STEPS + steps
    elif any("security level" in str(i["message"]) for i in failed):
        steps = _SECURITY_STEPS + steps
    return steps
