"""What a cloud job (or a batch of them) will cost, from this ledger's own history.

A job's GPU time is the median render time of the latest cloud jobs of the same
template that rendered (:meth:`~comfycine.ledger.Ledger.rendered_of`), preferring those
of the same size (``width``, ``height``, ``frames``, ``steps``... as given or as the
template's defaults). The median, so one cold start or stuck run does not skew it.
Render time is the server's own measure when the ledger has it (v2 ``execution_ms``,
else the execution start and end stamps), else started → finished as seen here.

Only cloud history counts: the PC's times say nothing about another GPU, and scaling
them would pass a guess off as a measure. With no cloud run of the template yet the
estimate says so and gives the rate per GPU minute instead. A batch is the sum of its
jobs; spread over several targets it is an upper bound ("if all run on the cloud").
Nothing here raises for a missing or unreadable ledger: no estimate is not an error.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ComfycineError
from ..ledger import JobRecord, Ledger
from ..settings import Settings
from ..targets import CLOUD, Target
from ..templates import Template, load_template, template_dirs
from .rate import Rate, credits_text, usd_text

# Parameters that change how long a render takes; compared as given.
SIZE_PARAMS = (
    "width",
    "height",
    "frames",
    "length",
    "num_frames",
    "duration",
    "fps",
    "steps",
    "batch_size",
)
HISTORY = 50


def render_seconds(record: JobRecord) -> float | None:
    """GPU seconds of one finished job: the server's measure first, else ours (None)."""
    extra = record.extra
    execution = _positive(extra.get("server_execution_ms"))
    if execution is not None:
        return execution / 1000
    start, end = _positive(extra.get("server_start_ms")), _positive(extra.get("server_end_ms"))
    if start is not None and end is not None and end > start:
        return (end - start) / 1000
    if record.started_at and record.finished_at and record.finished_at > record.started_at:
        return record.finished_at - record.started_at
    return None


def _positive(value: Any) -> float | None:
    """A positive JSON number as a float, else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _norm(value: Any) -> str:
    """``1024``, ``"1024"`` and ``1024.0`` alike."""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value).strip().lower()


def size_of(params: Mapping[str, Any]) -> dict[str, str]:
    """The size parameters of a job's values, normalised for comparison."""
    return {k: _norm(params[k]) for k in SIZE_PARAMS if params.get(k) is not None}


def median_seconds(
    records: Sequence[JobRecord], params: Mapping[str, Any]
) -> tuple[float, int, bool] | None:
    """(median seconds, runs it is from, same size?) for a job with ``params``.

    None without any timed run of the template.
    """
    timed = [(size_of(r.params), s) for r in records if (s := render_seconds(r)) is not None]
    if not timed:
        return None
    wanted = size_of(params)
    same = [s for size, s in timed if all(size.get(k) == v for k, v in wanted.items())]
    if same:
        return statistics.median(same), len(same), True
    return statistics.median(s for _, s in timed), len(timed), False


def estimate_jobs(
    ledger: Ledger,
    template: str,
    jobs: Sequence[Mapping[str, Any]],
    rate: Rate,
    *,
    up_to: bool = False,
) -> dict[str, Any]:
    """The estimate for ``jobs`` (each its parameter values) of ``template`` on the cloud.

    ``up_to``: the jobs may also go to other targets, so this is the most they can cost.
    """
    history = ledger.rendered_of(template, target=CLOUD, limit=HISTORY)
    found = [median_seconds(history, params) for params in jobs]
    base: dict[str, Any] = {
        "target": CLOUD,
        "template": template,
        "jobs": len(jobs),
        "up_to": up_to,
        "rate": rate.to_dict(),
    }
    known = [f for f in found if f is not None]
    if not known or len(known) != len(jobs):
        per_minute = rate.credits(60.0)
        text = (
            f"Comfy Cloud estimate: no cloud run of {template} in the ledger yet; the cloud "
            f"bills {credits_text(per_minute)} ({usd_text(rate.usd(per_minute))}) per GPU "
            "minute" + (f", for each of {len(jobs)} jobs." if len(jobs) > 1 else ".")
        )
        nothing = {"seconds": None, "seconds_per_job": None, "credits": None, "usd": None}
        return {
            **base,
            "basis": "no_history",
            "runs": 0,
            "same_size": None,
            **nothing,
            "text": text,
        }
    seconds = sum(f[0] for f in known)
    credits = rate.credits(seconds)
    same = {f[2] for f in known}
    runs = max(f[1] for f in known)
    estimate = {
        **base,
        "basis": "history",
        "runs": runs,
        "same_size": same.pop() if len(same) == 1 else None,
        "seconds": round(seconds, 1),
        "seconds_per_job": round(seconds / len(jobs), 1),
        "credits": round(credits, 2),
        "usd": round(rate.usd(credits), 4),
    }
    return {**estimate, "text": _history_text(estimate, rate)}


def _history_text(estimate: Mapping[str, Any], rate: Rate) -> str:
    jobs, credits = int(estimate["jobs"]), float(estimate["credits"])
    amount = f"{credits_text(credits)} ({usd_text(rate.usd(credits))})"
    amount = amount if amount.startswith("<") else f"≈ {amount}"
    if estimate["up_to"]:
        amount = f"up to {amount} if all {jobs} jobs run there"
    elif jobs > 1:
        amount += f" for {jobs} jobs"
    each = " each" if jobs > 1 else ""
    size = {True: " at this size", False: " at other sizes", None: " (some at other sizes)"}
    runs = int(estimate["runs"])
    return (
        f"Comfy Cloud estimate: {amount}, {duration_text(float(estimate['seconds_per_job']))} "
        f"of GPU{each}: the median of {runs} cloud run{'s' if runs != 1 else ''} of "
        f"{estimate['template']}{size[estimate['same_size']]} "
        f"({rate.credits_per_second:g} credits per GPU second)."
    )


def duration_text(seconds: float) -> str:
    """``0.4 s``, ``45 s``, ``2.4 min``, ``1.5 h``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def given_values(
    template: Template, assignments: Sequence[str], overrides: Mapping[str, str] | None
) -> dict[str, Any]:
    """The size values a job of ``template`` will run with: defaults, then what is given."""
    values: dict[str, Any] = {
        name: param.default
        for name, param in template.parameters.items()
        if name in SIZE_PARAMS and param.default is not None
    }
    given = [a.partition("=") for a in assignments]
    given += [(k, "=", v) for k, v in (overrides or {}).items() if not k.startswith("@")]
    for name, sep, value in given:
        key = name.strip().lower().replace("-", "_")
        if sep and key in SIZE_PARAMS:
            values[key] = value.strip()
    return values


def estimate_template_job(
    settings: Settings,
    template_name: str,
    *,
    assignments: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The estimate for one job of a template on the cloud (``generate``); None if unknown."""
    try:
        template = load_template(template_name, template_dirs(settings.workflow_dir))
        values = given_values(template, assignments, overrides)
        with Ledger.open(settings.ledger_path, secrets=settings.secret_values) as ledger:
            return estimate_jobs(ledger, template.name, [values], Rate.from_settings(settings))
    except (ComfycineError, OSError):
        return None


def estimate_batch(
    settings: Settings,
    targets: Sequence[Target],
    template: str,
    jobs: Sequence[Mapping[str, Any]],
    ledger: Ledger,
) -> dict[str, Any] | None:
    """The estimate for the jobs a batch or sweep will send; None when no target is the cloud."""
    if not jobs or not any(t.is_cloud for t in targets):
        return None
    try:
        rate = Rate.from_settings(settings)
        return estimate_jobs(ledger, template, jobs, rate, up_to=len(targets) > 1)
    except (ComfycineError, OSError):
        return None
