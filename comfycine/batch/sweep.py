"""A sweep: takes of one shot — several seeds or settings of one template — run as a batch.

``generate … --takes N`` draws N seeds; ``--vary NAME=V1,V2`` (and ``--vary seed=1..8``)
lists values; several ``--vary`` make their cartesian product, at most
:data:`MAX_CELLS` cells. Each cell is one item of the batch machinery
(:class:`~.runner.BatchEngine`): pipelined, resumable and Ctrl-C-safe by the same code
as ``batch``. Every value is bound and checked against the template's types and
bounds before anything is sent.

A sweep is known by its id (``s`` + 11 hex digits), made from the template, the prompt,
the fixed values and the varied ones: running the same command again resumes it (done
cells are skipped, submitted ones followed), and the seeds ``--takes`` drew are kept in
``DATA_DIR/sweeps/ID.json`` so a resumed sweep renders the same takes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ParameterError, UsageError
from ..generation import prepare_template_job
from ..ledger import Ledger
from ..templates import Kind, Template
from ..templates.binding import normalize_name
from .plan import canonical_json, decide, item_key, key_params, set_names
from .result import BatchItem

MAX_CELLS = 64
SEED_MAX = 2**32 - 1  # the range comfycine draws seeds from (templates.binding)


@dataclass(frozen=True)
class Axis:
    """One varied parameter and its values, in order."""

    name: str
    values: tuple[str, ...]


def _range(name: str, text: str) -> list[str]:
    low, _, high = text.partition("..")
    try:
        start, end = int(low), int(high)
    except ValueError:
        raise ParameterError(
            f"--vary {name}={text}: a range is two whole numbers, like {name}=1..8.",
            details={"parameter": name},
        ) from None
    if end < start or end - start + 1 > MAX_CELLS:
        raise UsageError(
            f"--vary {name}={text}: a range runs low..high with at most {MAX_CELLS} values.",
            hint=f"e.g. --vary {name}=1..8",
            code="sweep_too_large" if end >= start else "invalid_parameter",
            details={"parameter": name},
        )
    return [str(v) for v in range(start, end + 1)]


def parse_vary(specs: Sequence[str], template: Template) -> list[Axis]:
    """``NAME=V1,V2`` / ``NAME=A..B`` (whole numbers) → axes, names checked on the template."""
    axes: list[Axis] = []
    for spec in specs:
        raw, sep, text = spec.partition("=")
        name = normalize_name(raw)
        if not sep or not name or not text.strip():
            raise UsageError(
                f"--vary {spec!r} is not NAME=V1,V2,… or NAME=LOW..HIGH.",
                hint="e.g. --vary steps=20,30 --vary seed=1..4",
                code="invalid_parameter",
            )
        param = template.parameters.get(name)
        if param is None:
            known = ", ".join(sorted(template.parameters)) or "none"
            raise ParameterError(
                f"--vary {name}: {template.name} has no parameter {name!r} (it has: {known}).",
                hint=f"See its parameters with: comfycine workflow show {template.name}",
                details={"parameter": name, "template": template.name},
            )
        if param.kind.is_media:
            raise ParameterError(
                f"--vary {name}: media inputs are not varied here; run a batch over a folder.",
                hint=f"comfycine batch FOLDER {template.name}",
                details={"parameter": name},
            )
        if any(axis.name == name for axis in axes):
            raise ParameterError(f"--vary {name} is given twice.", details={"parameter": name})
        text = text.strip()
        values = (
            _range(name, text)
            if ".." in text and param.kind is Kind.INT
            else [v.strip() for v in text.split(",") if v.strip()]
        )
        if len(set(values)) != len(values):
            raise ParameterError(
                f"--vary {name}: a value is listed twice.", details={"parameter": name}
            )
        axes.append(Axis(name, tuple(values)))
    return axes


def seed_parameter(template: Template) -> str:
    """The seed ``--takes`` draws: ``seed``, else the template's only ``*_seed``."""
    seeds = [p.name for p in template.parameters.values() if p.is_seed]
    if "seed" in seeds:
        return "seed"
    if len(seeds) == 1:
        return seeds[0]
    raise UsageError(
        f"--takes draws seeds, but {template.name} has "
        + ("no seed parameter." if not seeds else f"several ({', '.join(seeds)})."),
        hint="Vary something else instead, e.g. --vary steps=20,30"
        if not seeds
        else f"Say which: --vary {seeds[0]}=1..4",
        code="invalid_parameter",
    )


def cells(axes: Sequence[Axis]) -> list[dict[str, str]]:
    """Every combination of the axes' values (the first axis varies slowest)."""
    count = 1
    for axis in axes:
        count *= len(axis.values)
    if count > MAX_CELLS:
        sizes = " × ".join(str(len(a.values)) for a in axes)
        raise UsageError(
            f"The sweep has {count} takes ({sizes}); the most is {MAX_CELLS}.",
            hint="Vary fewer values at once, or run it in parts.",
            code="sweep_too_large",
            details={"takes": count, "max": MAX_CELLS},
        )
    names = [a.name for a in axes]
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    ]


def sweep_id(
    template: str, prompt: str | None, assignments: Sequence[str], vary: Sequence[str], takes: int
) -> str:
    """The same command gives the same id (so it resumes); anything different, another."""
    text = canonical_json(
        {
            "template": template,
            "prompt": prompt,
            "set": sorted(assignments),
            "vary": list(vary),
            "takes": takes,
        }
    )
    return "s" + hashlib.sha256(text.encode()).hexdigest()[:11]


def drawn_seeds(
    data_dir: Path,
    sweep: str,
    count: int,
    *,
    fresh: bool = False,
    low: int = 0,
    high: int = SEED_MAX,
) -> list[int]:
    """The seeds of ``--takes``: drawn once per sweep (within the seed's bounds) and kept,
    so a resume renders the same takes."""
    path = data_dir / "sweeps" / f"{sweep}.json"
    if not fresh:
        try:
            kept = json.loads(path.read_text(encoding="utf-8")).get("seeds")
        except (OSError, ValueError, AttributeError):
            kept = None
        if isinstance(kept, list) and len(kept) == count and all(isinstance(s, int) for s in kept):
            return kept
    rng = random.SystemRandom()
    seeds: list[int] = []
    while len(seeds) < min(count, high - low + 1):
        seed = rng.randint(low, high)
        if seed not in seeds:
            seeds.append(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{sweep}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"sweep": sweep, "seeds": seeds}, handle)
    os.replace(tmp, path)
    return seeds


def label(cell: dict[str, str]) -> str:
    """``seed=12, steps=30``: a take's name in summaries."""
    return ", ".join(f"{k}={v}" for k, v in cell.items())


def plan_sweep(
    template: Template,
    grid: Sequence[dict[str, str]],
    ledger: Ledger,
    *,
    prompt: str | None,
    assignments: Sequence[str],
    sweep: str,
    output_dir: Path,
    overrides: Mapping[str, str] | None = None,
) -> list[BatchItem]:
    """One item per cell, each bound (every problem of every cell raised at once) and decided.

    A cell done earlier (same template and values) is skipped, one submitted earlier is
    followed: a killed sweep run again renders no take twice.
    """
    items: list[BatchItem] = []
    problems: list[dict[str, Any]] = []
    for cell in grid:
        values = [*assignments, *(f"{k}={v}" for k, v in cell.items())]
        try:
            job = prepare_template_job(
                template,
                prompt=prompt,
                assignments=values,
                overrides=overrides,
                validate=False,
            )
        except ParameterError as exc:
            found = exc.details.get("problems") or [{"message": exc.message}]
            problems.extend({**p, "take": label(cell)} for p in found)
            continue
        explicit = set_names(values)
        params = key_params(job, template, "", explicit, {})
        item = BatchItem(output_dir / label(cell), label=label(cell), cell=dict(cell))
        item.key = item_key("sweep", template.name, params)
        job.batch_id, job.item_key = sweep, item.key
        job.extra["cell"] = dict(cell)  # how the grid labels it: take pick SWEEP:seed=3
        item.prepared = job
        decide(item, ledger.by_item_key(item.key), retry_failed=False)
        items.append(item)
    if problems:
        first = problems[0]
        raise ParameterError(
            f"{len(problems)} value(s) of the sweep do not fit {template.name}: "
            f"{first.get('take')}: {first.get('message')}",
            hint=f"See the bounds with: comfycine workflow show {template.name}",
            details={"problems": problems},
        )
    return items


def take_pictures(items: Sequence[BatchItem], ledger: Ledger) -> dict[str, Path]:
    """Each take's poster or thumbnail (job → picture), from its ledger record."""
    pictures: dict[str, Path] = {}
    for item in items:
        record = ledger.get(item.job) if item.job else None
        if record is None or not item.outputs:
            continue
        made = (record.extra.get("previews") or {}).get(item.outputs[0]) or {}
        picture = made.get("poster") or made.get("thumbnail")
        if picture:
            pictures[record.id] = Path(picture)
    return pictures


def sweep_grid_of(
    items: Sequence[BatchItem], axes: Sequence[Axis], pictures: Mapping[str, Path], out: Path
) -> Path | None:
    """One labelled grid of the takes' pictures (:func:`take_pictures`); None without any.

    Rows are the first axes' values, columns the last axis's; a one-axis sweep is one
    row. A take without a picture is an empty cell. Never raises: the takes are
    rendered, the grid is only a way to look at them.
    """
    from ..errors import ComfycineError

    if not axes or not pictures:
        return None
    last = axes[-1].name
    rows: list[str] = []
    grid_cells: list[Any] = []
    try:
        from ..takes.previews import GridCell, sweep_grid

        for item in items:
            if item.cell is None:
                continue
            row = ", ".join(f"{k}={v}" for k, v in item.cell.items() if k != last) or "takes"
            if row not in rows:
                rows.append(row)
            picture = pictures.get(item.job or "")
            grid_cells.append(GridCell(row, item.cell[last], picture, item.status))
        columns = list(axes[-1].values)
        return sweep_grid(grid_cells, out, rows=rows, columns=columns, column_title=last)
    except (ComfycineError, OSError, ValueError, ImportError):
        return None
