"""``batch`` as a library call: a folder of inputs through one template, resumably.

Flow: resolve the targets and the template's media placeholder → list the folder →
plan every item against the ledger (:mod:`.plan`) → unless ``dry_run``, run the items
(:mod:`.runner`) → notify. Usage problems (an empty folder, a template without a media
input, a bad ``--set``) raise before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..cloudcost import estimate_batch
from ..errors import CloudAccountError, ParameterError, TargetUnreachable, UsageError
from ..generation import split_target_prefix
from ..journal import Journal
from ..ledger import Ledger
from ..settings import Settings
from ..targets import Target, resolve_target
from ..templates import Parameter, Template, load_template, template_dirs
from .inputs import discover_inputs, media_parameter
from .plan import batch_id, plan_items, set_names
from .result import BatchResult
from .runner import BatchEngine, EventHook
from .sweep import (
    MAX_CELLS,
    SEED_MAX,
    Axis,
    cells,
    drawn_seeds,
    parse_vary,
    plan_sweep,
    seed_parameter,
    sweep_grid_of,
    sweep_id,
    take_pictures,
)

NotifyHook = Callable[[str, dict[str, Any]], Awaitable[None]]

DEFAULT_CONCURRENCY = 2  # one job running, one queued behind it
CLOUD_CONCURRENCY = 1  # Comfy Cloud's smallest plans run one job at a time
MAX_CONCURRENCY = 16


def resolve_targets(
    settings: Settings, names: Sequence[str] | None, prefixed: str | None = None
) -> list[Target]:
    """The targets a batch spreads over, in order, without repeats (default: local).

    Naming ``cloud`` here is the consent to spend cloud credits on the batch.
    """
    wanted = [n.strip().lower() for n in names or () if n.strip()]
    if prefixed is not None:
        if wanted and wanted != [prefixed]:
            raise UsageError(
                f"The prompt asks for @{prefixed} but the targets are {', '.join(wanted)}.",
                hint="Drop one of the two.",
                code="conflicting_target",
            )
        wanted = [prefixed]
    chosen: list[Target] = []
    for name in wanted or ["local"]:
        target = resolve_target(settings, name)
        if target.name not in {t.name for t in chosen}:
            chosen.append(target)
    return chosen


def parse_concurrency(text: str | int | None, targets: Sequence[Target]) -> dict[str, int]:
    """Jobs in flight per target: ``3`` (every non-cloud target) or ``local=3,cloud=2``.

    Defaults: 2 per ComfyUI server, 1 on Comfy Cloud.
    """
    per = {t.name: CLOUD_CONCURRENCY if t.is_cloud else DEFAULT_CONCURRENCY for t in targets}
    if text is None:
        return per
    for part in str(text).split(","):
        name, sep, value = part.strip().rpartition("=")
        name = name.strip().lower()
        if sep and name not in per:
            raise UsageError(
                f"--concurrency names {name!r}, which is not a target of this batch "
                f"({', '.join(per)}).",
                hint="Give N, or NAME=N for each target, e.g. --concurrency local=3,cloud=1",
            )
        try:
            count = int(value)
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_CONCURRENCY:
            raise UsageError(
                f"--concurrency takes a whole number from 1 to {MAX_CONCURRENCY}, got {value!r}.",
                hint="e.g. --concurrency 2, or --concurrency local=3,cloud=1",
            )
        for target in targets:
            if (sep and target.name == name) or (not sep and not target.is_cloud):
                per[target.name] = count
    return per


def _check_assignments(assignments: Sequence[str], param: Parameter, template: Template) -> None:
    if param.name in set_names(assignments):
        raise ParameterError(
            f"--set {param.name}=… conflicts with the batch: each file of the folder goes "
            f"into '{param.name}'.",
            hint=f"Drop --set {param.name}=…; to feed another input, use --input-param.",
            details={"template": template.name},
        )


async def run_batch(
    settings: Settings,
    folder: Path | str,
    template_name: str,
    *,
    prompt: str | None = None,
    assignments: Sequence[str] = (),
    input_param: str | None = None,
    targets: Sequence[str] | None = None,
    concurrency: str | int | None = None,
    retry_failed: bool = False,
    dry_run: bool = False,
    validate: bool = True,
    on_event: EventHook | None = None,
    notify: NotifyHook | None = None,
    allow_spend: bool = False,
) -> BatchResult:
    """Render every file of ``folder`` through a template; skip what is already done.

    Returns the result (failed items included: see ``BatchResult.failure``). Raises
    UsageError (exit 2) for an empty folder, a template without a media input or with
    no file it can take; TargetUnreachable / CloudAccountError when no target can work
    (the partial result in ``details``); Interrupted on Ctrl-C, after leaving the ledger
    consistent. ``notify(text, data)`` is awaited at the end (not after Ctrl-C); its own
    failures are ignored. A template with partner (paid API) nodes is refused before
    any item is sent (ConsentRequired, exit 9) unless ``allow_spend``.
    """
    prompt, prefixed = split_target_prefix(prompt, None)
    chosen = resolve_targets(settings, targets, prefixed)
    per_target = parse_concurrency(concurrency, chosen)
    template = load_template(template_name, template_dirs(settings.workflow_dir))
    param = media_parameter(template, input_param)
    _check_assignments(assignments, param, template)
    root = Path(os.path.expanduser(str(folder))).absolute()
    files = discover_inputs(root, param, template.name)
    batch = batch_id(root, template.name, prompt, assignments)
    lock = contextlib.nullcontext() if dry_run else batch_lock(settings, batch)
    with lock:
        async with Journal(settings.ledger_path, secrets=settings.secret_values) as journal:
            items = await plan_items(
                files,
                template,
                param,
                journal.ledger,
                prompt=prompt,
                assignments=assignments,
                batch=batch,
                retry_failed=retry_failed,
            )
            names = [t.name for t in chosen]
            result = BatchResult(batch, template.name, root, items, names, dry_run=dry_run)
            quote_cloud(settings, chosen, result, journal.ledger, on_event)
            if all(item.status == "skipped" for item in items):
                raise UsageError(
                    f"None of the {len(items)} file(s) in {root} can go into {template.name}: "
                    + "; ".join(f"{i.name}: {i.reason}" for i in items[:3]),
                    hint=f"See what {template.name} takes with: comfycine workflow show "
                    f"{template.name}",
                    code="no_usable_inputs",
                    details=result.to_dict(),
                )
            if dry_run or all(item.plan == "skip" for item in items):
                return result  # nothing to send: no server needs to be up
            engine = BatchEngine(
                settings, journal, template, result, on_event, allow_spend=allow_spend
            )
            try:
                await engine.run(chosen, per_target, validate)
            except (TargetUnreachable, CloudAccountError) as exc:
                exc.details.update(result.to_dict())
                await _notify(notify, f"{result.summary()}; stopped: {exc.message}", exc.details)
                raise
        await _notify(notify, result.summary(), result.to_dict())
        return result


async def run_sweep(
    settings: Settings,
    template_name: str,
    *,
    prompt: str | None = None,
    assignments: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    vary: Sequence[str] = (),
    takes: int = 0,
    targets: Sequence[str] | None = None,
    concurrency: str | int | None = None,
    validate: bool = True,
    detach: bool = False,
    new: bool = False,
    on_event: EventHook | None = None,
    notify: NotifyHook | None = None,
    allow_spend: bool = False,
) -> BatchResult:
    """Render the takes of one shot (``--takes N``, ``--vary NAME=…``) as one sweep.

    Every value is bound before anything is sent (one ParameterError listing each value
    that does not fit). Running the same sweep again resumes it; ``new`` starts another
    (fresh seeds for ``--takes``). ``detach`` submits every take and follows none.
    Partner (paid API) nodes are refused before any take is sent unless ``allow_spend``.
    """
    prompt, prefixed = split_target_prefix(prompt, None)
    chosen = resolve_targets(settings, targets, prefixed)
    per_target = parse_concurrency(concurrency, chosen)
    template = load_template(template_name, template_dirs(settings.workflow_dir))
    axes = parse_vary(vary, template)
    if takes:
        if not 1 <= takes <= MAX_CELLS:
            raise UsageError(
                f"--takes takes a whole number from 1 to {MAX_CELLS}, got {takes}.",
                hint="e.g. --takes 4",
                code="sweep_too_large" if takes > MAX_CELLS else "invalid_parameter",
            )
        seed = seed_parameter(template)
        given = set_names(assignments) | set(overrides or {})
        if seed in given or any(a.name == seed for a in axes):
            raise UsageError(
                f"--takes draws {seed}, which --set or --vary gives too.",
                hint=f"Drop one: --takes {takes}, or --vary {seed}=…",
                code="invalid_parameter",
            )
    fixed = [*assignments, *(f"@{k}={v}" for k, v in sorted((overrides or {}).items()))]
    sweep = sweep_id(template.name, prompt, fixed, vary, takes)
    if new:
        sweep = sweep_id(template.name, prompt, fixed, [*vary, os.urandom(8).hex()], takes)
    if takes:
        bounds = template.parameters[seed]
        low = int(bounds.minimum) if bounds.minimum is not None else 0
        high = int(bounds.maximum) if bounds.maximum is not None else SEED_MAX
        seeds = drawn_seeds(
            settings.data_dir, sweep, takes, fresh=new, low=max(low, 0), high=min(high, SEED_MAX)
        )
        axes.append(Axis(seed, tuple(str(s) for s in seeds)))
    grid = cells(axes)
    with batch_lock(settings, sweep):
        async with Journal(settings.ledger_path, secrets=settings.secret_values) as journal:
            items = plan_sweep(
                template,
                grid,
                journal.ledger,
                prompt=prompt,
                assignments=assignments,
                overrides=overrides,
                sweep=sweep,
                output_dir=settings.output_dir,
            )
            names = [t.name for t in chosen]
            result = BatchResult(sweep, template.name, settings.output_dir, items, names)
            quote_cloud(settings, chosen, result, journal.ledger, on_event)
            if all(item.plan == "skip" for item in items):
                return result
            engine = BatchEngine(
                settings,
                journal,
                template,
                result,
                on_event,
                detach=detach,
                allow_spend=allow_spend,
            )
            try:
                await engine.run(chosen, per_target, validate)
            except (TargetUnreachable, CloudAccountError) as exc:
                exc.details.update(result.to_dict())
                raise
            if not detach:
                out = settings.output_dir / "previews" / f"sweep-{sweep}.grid.jpg"
                pictures = take_pictures(result.items, journal.ledger)
                picture = await asyncio.to_thread(sweep_grid_of, result.items, axes, pictures, out)
                result.grid = str(picture) if picture is not None else None
        await _notify(notify, result.summary().replace("batch", "sweep", 1), result.to_dict())
        return result


def quote_cloud(
    settings: Settings,
    targets: Sequence[Target],
    result: BatchResult,
    ledger: Ledger,
    on_event: EventHook | None,
) -> None:
    """With the cloud among the targets: what the items to send would cost there.

    Set as ``result.estimate`` (``data.estimate``) and told as a ``batch_notice``
    before anything is sent; naming the cloud is the consent, this is the information.
    """
    jobs = [
        item.prepared.params
        for item in result.items
        if item.plan in ("run", "retry") and item.prepared is not None
    ]
    result.estimate = estimate_batch(settings, targets, result.template, jobs, ledger)
    if result.estimate is not None and on_event is not None:
        message = str(result.estimate["text"])
        on_event("batch_notice", {"batch": result.batch, "message": message})


@contextlib.contextmanager
def batch_lock(settings: Settings, batch: str) -> Iterator[None]:
    """Hold the batch's lock file while it plans and runs.

    Two runs of one batch at once (an overlapping cron run) would both plan the same
    items and render them twice. The lock is the operating system's (``flock``), so a
    run killed with SIGKILL releases it at once.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock; comfycine runs on the Mac side
        yield
        return
    path = settings.data_dir / "batches" / f"{batch}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"Batch {batch} is already running in another comfycine process.",
                hint="Let it finish (see: comfycine status), or stop it with Ctrl-C first.",
                code="batch_running",
                details={"batch": batch},
            ) from None
        yield


async def _notify(notify: NotifyHook | None, text: str, data: dict[str, Any]) -> None:
    if notify is None:
        return
    # A notification that cannot be sent must not turn a finished batch into a failure.
    with contextlib.suppress(Exception):
        await notify(text, data)


def batch(
    settings: Settings, folder: Path | str, template_name: str, **options: Any
) -> BatchResult:
    """:func:`run_batch` in a fresh event loop (the CLI's entry point)."""
    return asyncio.run(run_batch(settings, folder, template_name, **options))


def sweep(settings: Settings, template_name: str, **options: Any) -> BatchResult:
    """:func:`run_sweep` in a fresh event loop (``generate --takes/--vary``)."""
    return asyncio.run(run_sweep(settings, template_name, **options))
