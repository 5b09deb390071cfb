"""``status SWEEP`` and ``wait SWEEP``: a sweep (or a batch) as one thing.

A sweep's takes are jobs of the ledger sharing its id (``batch_id``); a take run twice
(a lost job, a retry) counts by its newest job. ``wait`` follows each unfinished take in
turn through the one-job code path, so a take already home costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import JobFailed, StillRunning, UsageError, recordable
from .jobcontrol import _wait, job_view
from .ledger import JobRecord, Ledger, needs_collection

if TYPE_CHECKING:
    from .jobs import Observer
    from .settings import Settings


def is_sweep_ref(ref: str | None) -> bool:
    """Whether ``ref`` is written like a sweep id (``s`` + hex; job ids are all hex)."""
    text = (ref or "").strip()
    return len(text) >= 5 and text[0] == "s" and all(c in "0123456789abcdef" for c in text[1:])


def takes_of(ledger: Ledger, ref: str) -> list[JobRecord]:
    """The newest job of each take of sweep ``ref`` (id or prefix), in order; [] if none."""
    newest: dict[str, JobRecord] = {}
    for record in ledger.by_batch(ref):
        newest[record.item_key or record.id] = record
    return list(newest.values())


def cell_take(ledger: Ledger, ref: str) -> JobRecord | None:
    """The take a sweep cell names, or None when ``ref`` is not written like one.

    ``SWEEP:N`` is the N-th take (from 1, in ``status SWEEP``'s order); ``SWEEP:NAME=V``
    (several joined by ``,``) the take with those values, as the grid labels it. Raises
    UsageError ``bad_take_reference`` for a cell that is not there or not unique.
    """
    sweep, sep, cell = ref.strip().partition(":")
    if not sep or not is_sweep_ref(sweep):
        return None
    records = takes_of(ledger, sweep)
    if not records:
        raise UsageError(
            f"No sweep {sweep} in the ledger.",
            code="unknown_sweep",
            hint="List recent jobs and their sweeps with: comfycine status",
        )
    if cell.strip().isdigit():
        number = int(cell)
        if 1 <= number <= len(records):
            return records[number - 1]
        found: list[JobRecord] = []
    else:
        wanted = dict(part.strip().partition("=")[::2] for part in cell.split(","))
        found = [r for r in records if all(_same(r.params.get(k), v) for k, v in wanted.items())]
        if len(found) == 1:
            return found[0]
    cells = ", ".join(f"{n}: {_cell_label(r)}" for n, r in enumerate(records, start=1))
    why = "several takes match" if len(found) > 1 else "no take matches"
    raise UsageError(
        f"{ref}: {why}; the takes of {sweep} are {cells}.",
        code="bad_take_reference",
        hint=f"Name one as {sweep}:N or {sweep}:NAME=VALUE (see: comfycine status {sweep})",
        details={"reference": ref, "takes": len(records)},
    )


def _same(value: Any, text: str) -> bool:
    """Whether a recorded value is the one written (``3`` is ``3.0`` for a number)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(text) == float(value)
        except ValueError:
            return False
    return str(value) == text.strip()


def _cell_label(record: JobRecord) -> str:
    cell = record.extra.get("cell")
    if isinstance(cell, dict) and cell:
        return ", ".join(f"{k}={v}" for k, v in cell.items())
    return ", ".join(f"{k}={v}" for k, v in record.seeds.items()) or record.id[:8]


def sweep_status(settings: Settings, ref: str) -> dict[str, Any] | None:
    """``{"sweep", "template", "counts", "jobs"}`` for a sweep id, None when it is none."""
    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        records = takes_of(ledger, ref)
    if not records:
        return None
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return {
        "sweep": records[0].batch_id,
        "template": records[0].template,
        "counts": counts,
        "jobs": [job_view(r) for r in records],
    }


def _home(record: JobRecord) -> bool:
    return record.status == "succeeded" and bool(record.outputs) and not needs_collection(record)


async def _wait_all(
    settings: Settings, records: list[JobRecord], timeout: float | None, observer: Observer | None
) -> dict[str, Any]:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    jobs: list[dict[str, Any]] = []
    failed: list[str] = []
    for record in records:
        if _home(record):
            jobs.append(job_view(record))
            continue
        left = None if deadline is None else max(0.0, deadline - loop.time())
        try:
            result = await _wait(settings, record.id, left, observer)
        except StillRunning:
            raise
        except JobFailed as exc:
            failed.append(record.id)
            jobs.append({**job_view(record), "error": recordable(exc)})
            continue
        jobs.append(result.to_dict())
    return {"sweep": records[0].batch_id, "jobs": jobs, "failed": failed}


def wait_sweep(
    settings: Settings,
    ref: str,
    *,
    timeout: float | None = None,
    observer: Observer | None = None,
) -> dict[str, Any] | None:
    """Follow every unfinished take of sweep ``ref``; None when ``ref`` names no sweep.

    A take that fails is reported and the others still followed; then
    :class:`JobFailed` (``sweep_failed_takes``, exit 5) lists the failed ones. The
    timeout bounds the whole wait (exit 6, the takes go on).
    """
    with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
        records = takes_of(ledger, ref)
    if not records:
        return None
    import asyncio

    data = asyncio.run(_wait_all(settings, records, timeout, observer))
    if data["failed"]:
        failed = data["failed"]
        raise JobFailed(
            f"{len(failed)} of {len(records)} takes of sweep {data['sweep']} failed: "
            + ", ".join(j[:8] for j in failed[:5]),
            code="sweep_failed_takes",
            hint=f"See why with: comfycine debug {failed[0][:8]}",
            details=data,
        )
    return data
