"""What stamping a take's recipe and making its previews add to a job, against its render.

Once a job's outputs are downloaded, :class:`comfycine.jobs.JobRunner` writes the recipe
into each (``takes.stamp``: PNG chunks, or a remux for a video; a sidecar ``.json`` as
``COMFYCINE_SIDECARS`` says, on by default) and makes its previews (``takes.previews``: a
thumbnail, or a poster and a contact sheet), both when ``FollowOptions.recipes``. The
library's ``generate`` runs in this process on the real CPU ComfyUI, with two model-free
templates written into the bench's own workflow folder: ``bench-still`` (``EmptyImage →
ImageAddNoise → ImageBlur → SaveImage``, 1024² by default, as an SDXL still) and
``bench-take`` (the shipped ``testpattern`` with grain over every frame: flat bars would
flatter the remux and the sheet's decoding; ``SaveVideo``: h264 with libx264's defaults).

Per kind, ``--runs`` jobs with recipes + previews on and as many off, alternating (on/off,
then off/on), after an uncounted warm-up (it pays the imports of av and PIL, which a
fresh ``comfycine generate`` process pays every time: measured apart, in a child). Each
job has a fresh seed: the server renders it (only the bars' ``EmptyImage`` come from its
cache). Per job: render = the server's ``execution_success − execution_start`` (ledger);
job = wall time of ``generate`` (validation, submission, following, download, stamping,
previews); stamp + previews = time inside ``takes.stamp.stamp_output`` and
``jobs._previews``, wrapped in this process (the job awaits both, in a worker thread).
Cross-check: median of job − render on, minus the same off (the render's spread left out).

    python bench/take_overhead.py [--runs 5] [--video 768x432] [--seconds 5] [--url URL]

Without --url it builds (the first time: minutes) and starts the local CPU ComfyUI on a
free 127.0.0.1 port, its base dir in the bench's temporary folder. Every wait is bounded:
the server's start (120 s), each job (``JOB_LIMIT``), each child process.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

JOB_LIMIT = 600.0  # generate(timeout=...): a job that takes longer fails the bench
CHILD_LIMIT = 60.0
FPS = 24
BARS = 7  # testpattern's colour bars: the clip is BARS × bar_frames frames long
STILL, TAKE = "bench-still", "bench-take"
PARTS = ("embed", "sidecar", "decode", "jpeg")  # inside stamping and previews
# Film grain over the video's frames, noise over the still before its blur: enough texture
# that x264 and PNG have real work (~2 Mbit/s at 768×432, as a generated take of that
# size has at libx264's default CRF 23), not a field of pure noise (8 Mbit/s at 0.06).
GRAIN = 0.04
STILL_NOISE = 0.5


# ------------------------------------------------------------------ templates


def node(class_type: str, **inputs: Any) -> dict[str, Any]:
    """One node of an API graph."""
    return {"class_type": class_type, "inputs": inputs}


def still_template() -> tuple[dict[str, Any], dict[str, Any]]:
    """``bench-still``: a textured PNG, graph and meta."""
    dims = {"width": "PARAM_INT_WIDTH", "height": "PARAM_INT_HEIGHT"}
    graph = {
        "1": node("EmptyImage", **dims, batch_size=1, color=3368601),
        "2": node("ImageAddNoise", image=["1", 0], seed="PARAM_INT_SEED", strength=STILL_NOISE),
        "3": node("ImageBlur", image=["2", 0], blur_radius=2, sigma=1.0),
        "4": node("SaveImage", images=["3", 0], filename_prefix="comfycine/bench-still"),
    }
    meta = {
        "description": "A textured still (noise, softened); needs no model (bench only).",
        "defaults": {"width": 1024, "height": 1024},
        "bounds": {"width": {"min": 16, "max": 4096}, "height": {"min": 16, "max": 4096}},
    }
    return graph, meta


def take_template() -> tuple[dict[str, Any], dict[str, Any]]:
    """``bench-take``: the shipped ``testpattern`` with grain over every frame."""
    from comfycine.templates.discovery import shipped_dir

    graph: dict[str, Any] = json.loads((shipped_dir() / "testpattern.json").read_text())
    meta: dict[str, Any] = json.loads((shipped_dir() / "testpattern.meta.json").read_text())
    video = next(k for k, node in graph.items() if node["class_type"] == "CreateVideo")
    save = next(k for k, node in graph.items() if node["class_type"] == "SaveVideo")
    frames = graph[video]["inputs"]["images"]
    graph["90"] = node("ImageAddNoise", image=frames, seed="PARAM_INT_SEED", strength=GRAIN)
    graph[video]["inputs"]["images"] = ["90", 0]
    graph[save]["inputs"]["filename_prefix"] = "video/comfycine/bench-take"
    meta["description"] = "Colour bars with grain as an h264 mp4; needs no model (bench only)."
    return graph, meta


def write_templates(workflows: Path) -> None:
    """Write both templates (graph + meta) into ``workflows``."""
    workflows.mkdir(parents=True, exist_ok=True)
    for name, (graph, meta) in ((STILL, still_template()), (TAKE, take_template())):
        (workflows / f"{name}.json").write_text(json.dumps(graph, indent=2))
        (workflows / f"{name}.meta.json").write_text(json.dumps(meta, indent=2))


# ------------------------------------------------------------------ instrumentation


class Spent:
    """Seconds spent inside wrapped library functions, by label, since the last reset."""

    def __init__(self) -> None:
        self.seconds: collections.defaultdict[str, float] = collections.defaultdict(float)

    def wrap(self, module: Any, name: str, label: str) -> None:
        """Replace ``module.name`` by a timed call of the original (for this process)."""
        original: Callable[..., Any] = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started

        setattr(module, name, timed)

    def reset(self) -> None:
        """Forget what was counted."""
        self.seconds.clear()


def instrument() -> Spent:
    """Time stamping (and its parts) and previews wherever the job runner calls them."""
    from comfycine import jobs
    from comfycine.takes import canvas, previews, stamp

    spent = Spent()
    # The callers find these as module attributes at each call (jobs._stamp imports
    # stamp_output when called, previews calls canvas.save_atomic): wrapping the module
    # attributes reaches every call.
    spent.wrap(stamp, "stamp_output", "stamp")
    spent.wrap(jobs, "_previews", "previews")
    spent.wrap(stamp, "embed", "embed")  # the recipe into the file (a remux for a video)
    spent.wrap(stamp, "write_sidecar", "sidecar")
    spent.wrap(previews, "_compose_sheet", "decode")  # a video: decode frames, draw the sheet
    spent.wrap(previews, "load_still", "decode")  # an image: decode, scale
    spent.wrap(canvas, "save_atomic", "jpeg")  # encode a preview, write it, fsync
    return spent


@contextlib.contextmanager
def recipes(on: bool) -> Iterator[None]:
    """Jobs run in here stamp and make previews (``on``) or not (the job runner's switch)."""
    from comfycine.jobs import FollowOptions

    original = FollowOptions.__dict__["from_settings"]  # the classmethod object itself
    if not on:

        def without(cls: type[FollowOptions], settings: Any) -> FollowOptions:
            options: FollowOptions = original.__func__(cls, settings)
            return dataclasses.replace(options, recipes=False)

        FollowOptions.from_settings = classmethod(without)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        FollowOptions.from_settings = original  # type: ignore[method-assign]


# ------------------------------------------------------------------ running


@dataclasses.dataclass
class Sample:
    """One counted job."""

    kind: str
    on: bool
    render: float
    wall: float
    stamp: float
    previews: float
    parts: dict[str, float]  # seconds in each of PARTS
    output: Path


class Bench:
    """Runs jobs through the library's ``generate`` and collects :class:`Sample`."""

    def __init__(self, video: tuple[int, int], bar_frames: int, still: int) -> None:
        from comfycine.settings import resolve

        self.settings = resolve()
        self.spent = instrument()
        self.seed = 1000
        clip = [f"width={video[0]}", f"height={video[1]}", f"bar_frames={bar_frames}"]
        self.values = {
            "image": (STILL, [f"width={still}", f"height={still}"]),
            "video": (TAKE, [*clip, f"fps={float(FPS)}"]),
        }

    def job(self, kind: str, on: bool) -> Sample:
        """Run one job of ``kind`` with recipes + previews ``on`` or off."""
        from comfycine.generation import generate
        from comfycine.ledger import Ledger

        template, values = self.values[kind]
        self.seed += 1
        self.spent.reset()
        started = time.perf_counter()
        with recipes(on):
            values = [*values, f"seed={self.seed}"]
            result = generate(self.settings, template, assignments=values, timeout=JOB_LIMIT)
        wall = time.perf_counter() - started
        with Ledger.open(self.settings.ledger_path) as ledger:
            record = ledger.get(result.job)
        assert record is not None and result.status == "succeeded", result
        render = (record.extra["server_end_ms"] - record.extra["server_start_ms"]) / 1000
        if on and not result.previews:
            raise SystemExit(f"{kind}: recipes on, but the job made no previews")
        spent = self.spent.seconds
        parts = {name: spent[name] for name in PARTS}
        output = Path(result.outputs[0])
        return Sample(kind, on, render, wall, spent["stamp"], spent["previews"], parts, output)


def import_cost(runs: int = 3) -> float:
    """Median seconds a fresh process spends importing what stamping and previews need."""
    code = (
        # What a `generate` process has loaded anyway, then what stamping and previews add.
        "import time, comfycine.generation, comfycine.settings\n"
        "t = time.perf_counter()\n"
        "import av, PIL.Image, comfycine.takes.stamp, comfycine.takes.reviewing, "
        "comfycine.takes.previews\n"
        "print(time.perf_counter() - t)\n"
    )
    command = [sys.executable, "-c", code]
    samples = [
        float(subprocess.run(command, capture_output=True, check=True, timeout=CHILD_LIMIT).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples)


# ------------------------------------------------------------------ reporting


def p90(values: list[float]) -> float:
    """The 90th percentile (nearest rank): the largest of 5 samples, the 9th of 10."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 9 // 10) - 1)]


def cell(values: list[float], scale: float = 1000, unit: str = "") -> str:
    """``median / p90`` (ms by default)."""
    if scale == 1000:
        return f"{statistics.median(values) * scale:.0f} / {p90(values) * scale:.0f}{unit}"
    return f"{statistics.median(values) * scale:.1f} / {p90(values) * scale:.1f}{unit}"


def clip_facts(path: Path) -> str:
    """Size, length and bitrate of an output, as the table's caption says them."""
    size = path.stat().st_size
    if path.suffix.lower() != ".mp4":
        from PIL import Image

        with Image.open(path) as image:
            return f"{image.width}×{image.height} PNG, {size / 1e6:.1f} MB"
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = stream.frames
        seconds = (container.duration or 0) / av.time_base
        codec = stream.codec_context.name
        return (
            f"{stream.width}×{stream.height} {codec}, {frames} frames, {seconds:.1f} s at "
            f"{FPS} fps, {size / 1e6:.1f} MB ({size * 8 / 1e6 / max(seconds, 1e-9):.1f} Mbit/s)"
        )


def median_ms(values: list[float]) -> float:
    """Median in milliseconds."""
    return statistics.median(values) * 1000


def report(samples: list[Sample], imports: float) -> None:
    """Print the markdown table and where the time goes."""
    print()
    print(
        "| take | recipes + previews | render on server | job (wall) | job − render "
        "| stamp + previews | of the job | of the render |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind in ("image", "video"):
        on = [s for s in samples if s.kind == kind and s.on]
        off = [s for s in samples if s.kind == kind and not s.on]
        if not on or not off:
            continue
        added = [s.stamp + s.previews for s in on]
        rows = {"on": on, "off": off}
        for mode, runs in rows.items():
            label = f"{kind}: {clip_facts(on[0].output)}" if mode == "on" else kind
            timed = "| — | — | — |"
            if mode == "on":
                share = [a / s.wall for a, s in zip(added, on, strict=True)]
                ratio = [a / s.render for a, s in zip(added, on, strict=True)]
                timed = f"| {cell(added)} | {cell(share, 100, ' %')} | {cell(ratio, 100, ' %')} |"
            print(
                f"| {label} | {mode} | {cell([s.render for s in runs])} "
                f"| {cell([s.wall for s in runs])} | {cell([s.wall - s.render for s in runs])} "
                + timed
            )
        difference = [
            median_ms([s.render for s in on]) - median_ms([s.render for s in off]),
            median_ms([s.wall for s in on]) - median_ms([s.wall for s in off]),
            median_ms([s.wall - s.render for s in on])
            - median_ms([s.wall - s.render for s in off]),
        ]
        cells = " | ".join(f"{d:+.0f}" for d in difference)
        print(f"| {kind} | on − off, medians | {cells} | | | |")
    print()
    print("Where the time goes (recipes on; ms, median / p90):")
    for kind in ("image", "video"):
        on = [s for s in samples if s.kind == kind and s.on]
        if on:
            parts = {name: cell([s.parts[name] for s in on]) for name in PARTS}
            print(
                f"- {kind}: stamp {cell([s.stamp for s in on])} (recipe into the file "
                f"{parts['embed']}, sidecar {parts['sidecar']}); previews "
                f"{cell([s.previews for s in on])} (decode and draw {parts['decode']}, "
                f"JPEG write {parts['jpeg']})"
            )
    print(f"- a fresh process also imports av, PIL and the takes modules: {imports * 1000:.0f} ms")


# ------------------------------------------------------------------ main


def start_local_server(base: Path) -> tuple[str, Any]:
    """Build (once) and start the CPU ComfyUI on a free port, its base dir in ``base``."""
    from comfycine.localserver import build_server, start_server

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ is not installed
    from tests.real_server import real_cache_dir

    install = build_server(real_cache_dir(), log=print)
    server = start_server(install, base_dir=base, record_state=False, timeout=120)
    return server.url, server


def size(text: str) -> tuple[int, int]:
    """``WxH`` → (W, H), both multiples of 16 (testpattern's bounds)."""
    width, _, height = text.partition("x")
    return int(width), int(height)


def main() -> None:
    """Start the server, run the jobs, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="counted jobs per kind and mode")
    parser.add_argument("--video", type=size, default=(768, 432), help="clip size WxH")
    parser.add_argument("--seconds", type=float, default=5.0, help="clip length at 24 fps")
    parser.add_argument("--still", type=int, default=1024, help="the still's side, px")
    parser.add_argument("--url", help="a running ComfyUI instead of starting one")
    parser.add_argument("--keep", type=Path, help="work here and keep it (outputs, ledger)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="comfycine-bench-take-"))
    work.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        url = args.url
        if url is None:
            url, server = start_local_server(work / "server")
        write_templates(work / "workflows")
        os.environ.update(
            {
                "COMFYUI_URL": url,
                "COMFYCINE_WORKFLOW_DIR": str(work / "workflows"),
                "COMFYCINE_OUTPUT_DIR": str(work / "out"),
                "COMFYCINE_DATA_DIR": str(work / "data"),
                "COMFYCINE_CACHE_DIR": str(work / "cache"),
            }
        )
        bar_frames = max(1, round(args.seconds * FPS / BARS))
        bench = Bench(args.video, bar_frames, args.still)
        started = time.perf_counter()
        samples: list[Sample] = []
        for kind in ("image", "video"):
            warm = bench.job(kind, True)
            print(f"warm-up {kind}: render {warm.render:.2f} s, job {warm.wall:.2f} s")
            for run in range(args.runs):
                for on in (True, False) if run % 2 == 0 else (False, True):
                    sample = bench.job(kind, on)
                    samples.append(sample)
                    print(
                        f"{kind} {'on ' if on else 'off'} render {sample.render:6.2f} s  job "
                        f"{sample.wall:6.2f} s  stamp {sample.stamp * 1000:5.0f} ms  previews "
                        f"{sample.previews * 1000:5.0f} ms",
                        flush=True,
                    )
        print(f"jobs ran in {time.perf_counter() - started:.0f} s")
        report(samples, import_cost())
    finally:
        if server is not None:
            from comfycine.localserver import terminate_server

            terminate_server(server)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
