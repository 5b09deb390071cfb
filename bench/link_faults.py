"""Following a job over a blinking link, socket vs polling, on the real CPU ComfyUI.

comfycine runs as a user runs it: ``python -m comfycine generate … --json --transport
ws|poll``, a fresh process per job with its own data and output folders. The bench
watches the server directly (never through a proxy) to see a job start and end, so
nothing else may use the server meanwhile. All times are wall clock: server and client
share the machine. Three parts:

1. ``latency`` — from the job's end on the server (``execution_success`` in its
   history) to its file on disk (the output's mtime: its last byte written) and to the
   command's return. Jobs: ``testimage`` (~50 ms: polling sees it at its first look)
   and ``testblur`` radius 31 on flat images of 384–1664 px (jobs of ~0.3–8 s, so they
   end at varied points of polling's growing interval). On loopback and through
   ``bench/netproxy.py`` (20 ms round trip, 100 Mbit/s per direction).
2. ``rate`` — requests reaching the server while one long job runs (``testblur`` on a
   7168 px image: over a minute on 2 CPU cores), counted by the tests' fault proxy
   (``tests/faultproxy.py``, passing everything) between the job's start and its end.
3. ``outage`` — a ~0.5 s ``testblur`` job (512 px) through the fault proxy; once the server runs
   it the link is blackholed (``blackhole(connect="timeout")``: open connections go
   silent, new ones are never accepted) for N s, the job ends on the server meanwhile,
   then the link returns. Measured: file on disk − link back, command return − link back.

    python bench/link_faults.py [--quick] [--runs 10] [--outages 5,30,120]
                                [--parts latency,rate,outage] [--url URL]

``--quick``: 3 runs, a 3072 px long job (~30 s), outages of 5 and 30 s.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from idle_gap import start_local_server, start_proxy, write_png  # bench's folder is on the path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("ws", "poll")
BLUR_SIDES = (384, 640, 896, 1152, 1408, 1664)  # jobs of ~0.3 to ~8 s
OUTAGE_SIDE = 512
WATCH_EVERY = 0.05  # how often the bench looks at the server itself
RAMP = 15.0  # polling's interval reaches its ceiling within this many seconds of a job
COMMAND_LIMIT = 300.0  # a job command that takes longer than this (+ outage) is killed
_colours = itertools.count(1)


def fault_proxy(upstream: str) -> Any:
    """The tests' fault proxy (``tests/faultproxy.py``), started in front of ``upstream``."""
    sys.path.insert(0, str(ROOT))  # tests/ is not installed; the checkout is the root
    from tests.faultproxy import FaultProxy

    return FaultProxy(upstream).start()


@dataclass(frozen=True)
class Job:
    """What one ``generate`` renders: a template, its values, an input image."""

    template: str
    sets: tuple[str, ...] = ()
    image: Path | None = None


@dataclass
class Result:
    """One finished command, and the server's times of its job."""

    code: int
    job: str
    outputs: list[Path]
    returned: float
    stderr: str
    server_start: float = 0.0
    server_end: float = 0.0
    error: str = ""

    @property
    def on_disk(self) -> float:
        """When the last output's last byte was written (its mtime)."""
        return max((p.stat().st_mtime_ns / 1e9 for p in self.outputs), default=float("nan"))


@dataclass
class Cell:
    """The samples of one table row."""

    label: str
    disk: list[float] = field(default_factory=list)
    back: list[float] = field(default_factory=list)
    jobs: list[float] = field(default_factory=list)  # server time of each job
    notes: list[str] = field(default_factory=list)


def image_job(folder: Path, side: int) -> Job:
    """``testblur`` radius 31 on a fresh flat image (a new colour: no cache hit)."""
    colour = next(_colours)
    path = folder / f"flat-{side}-{colour}.png"
    folder.mkdir(parents=True, exist_ok=True)
    rgb = bytes([colour % 251, (colour * 7) % 253, (colour * 13) % 255])
    write_png(path, side, side, rgb * side, random.Random(0))
    return Job("testblur", ("radius=31",), path)


def instant_job() -> Job:
    """``testimage`` in a fresh colour."""
    return Job("testimage", (f"color={100_000 + next(_colours)}",))


def command(job: Job, mode: str) -> list[str]:
    """The user's command line for ``job``."""
    line = [sys.executable, "-m", "comfycine", "generate", job.template, "--json"]
    line += ["--transport", mode, *itertools.chain(*(("--set", s) for s in job.sets))]
    return line + (["--image", str(job.image)] if job.image else [])


def env_for(url: str, work: Path, cache: Path) -> dict[str, str]:
    """A run's environment: its URL, data and output folders; the shared catalog cache."""
    return {
        **os.environ,
        "COMFYUI_URL": url,
        "COMFYCINE_DATA_DIR": str(work / "data"),
        "COMFYCINE_OUTPUT_DIR": str(work / "out"),
        "COMFYCINE_CACHE_DIR": str(cache),
    }


def launch(job: Job, mode: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start the command; stdout and stderr are read when it ends."""
    return subprocess.Popen(
        command(job, mode), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def collect(process: subprocess.Popen[str], server: str, limit: float) -> Result:
    """Wait for the command (killed after ``limit`` s); read its envelope and job times."""
    try:
        out, err = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    returned = time.time()
    try:
        envelope = json.loads(out)
    except ValueError:
        envelope = {"data": None, "error": {"code": f"no envelope, exit {process.returncode}"}}
    data, error = envelope.get("data") or {}, envelope.get("error") or {}
    result = Result(
        code=process.returncode,
        job=str(data.get("job") or (error.get("details") or {}).get("job") or ""),
        outputs=[Path(p) for p in data.get("outputs") or ()],
        returned=returned,
        stderr=err,
        error=str(error.get("code") or ""),
    )
    if result.job:
        result.server_start, result.server_end = server_span(server, result.job)
    return result


def server_span(server: str, job: str) -> tuple[float, float]:
    """The job's ``execution_start`` and ``execution_success`` in s (0 when missing)."""
    entry = httpx.get(f"{server}/history/{job}", timeout=10, trust_env=False).json().get(job)
    stamps = {kind: data.get("timestamp", 0) for kind, data in entry["status"]["messages"]}
    return stamps.get("execution_start", 0) / 1000, stamps.get("execution_success", 0) / 1000


def wait_running(server: str, process: subprocess.Popen[str], limit: float = 60.0) -> str:
    """The id of the job the server runs, as soon as it runs it."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        running = httpx.get(f"{server}/queue", timeout=10, trust_env=False).json()
        if running.get("queue_running"):
            return str(running["queue_running"][0][1])
        time.sleep(WATCH_EVERY)
    raise SystemExit(f"no job started on the server (command exit {process.poll()})")


def finished(server: str, job: str) -> bool:
    """Whether the server's history has ``job`` (it ended)."""
    history = httpx.get(f"{server}/history/{job}", timeout=10, trust_env=False).json()
    return job in history


def route(method: str, path: str) -> str:
    """``GET /history/…`` for ``GET /history/ID``: requests grouped by route."""
    return f"{method} {path.rsplit('/', 1)[0] + '/…' if path.count('/') > 1 else path}"


def check(result: Result, cell: Cell) -> bool:
    """Whether the run succeeded with its file on disk; notes the failure in the cell."""
    if result.code == 0 and result.outputs and all(p.is_file() for p in result.outputs):
        return True
    cell.notes.append(f"exit {result.code} {result.error}".strip())
    return False


def quantiles(samples: list[float]) -> tuple[float, float, float]:
    """Median, p90 and max (p90 by the inclusive method: fine for a few samples)."""
    if len(samples) == 1:
        return samples[0], samples[0], samples[0]
    p90 = statistics.quantiles(samples, n=10, method="inclusive")[-1]
    return statistics.median(samples), p90, max(samples)


def row(cell: Cell) -> str:
    """One table row: on disk and returned, median / p90 / max in seconds."""
    if not cell.disk:
        return f"{cell.label:42} no successful run {'; '.join(cell.notes)}"
    disk, back = quantiles(cell.disk), quantiles(cell.back)
    notes = f"  ({'; '.join(cell.notes)})" if cell.notes else ""
    return (
        f"{cell.label:42} {len(cell.disk):3}  "
        f"{disk[0]:6.2f} {disk[1]:6.2f} {disk[2]:6.2f}   "
        f"{back[0]:6.2f} {back[1]:6.2f} {back[2]:6.2f}   "
        f"{min(cell.jobs):5.2f}–{max(cell.jobs):5.2f}{notes}"
    )


def header(first: str) -> str:
    """The heading of a table of :func:`row` lines."""
    columns = "on disk: med   p90    max   returned: med   p90    max   job s"
    return f"{first:42} {'n':>3}  {columns}"


def part_latency(server: str, runs: int, work: Path, rtt_ms: float) -> None:
    """Part 1: job end on the server → file on disk, socket vs polling, two links."""
    print(f"\n1. Job end on the server → file on disk / command returned (s), {runs} runs")
    print(header("link / job / mode"))
    proxy_url, proxy = start_proxy(server, rtt_ms, 100.0)
    try:
        for link, url in (("loopback", server), (f"{rtt_ms:g} ms proxy", proxy_url)):
            env = env_for(url, work / link, work / "cache")
            for mode in MODES:  # warm-up: imports cached, catalog fetched through this link
                collect(launch(instant_job(), mode, env), server, COMMAND_LIMIT)
            for kind in ("testimage", "testblur 384-1664 px"):
                cells = {mode: Cell(f"{link} / {kind} / {mode}") for mode in MODES}
                for i in range(runs):
                    for mode in MODES:  # alternate, so machine noise hits both alike
                        side = BLUR_SIDES[i % len(BLUR_SIDES)]
                        job = instant_job() if kind == "testimage" else image_job(work, side)
                        result = collect(launch(job, mode, env), server, COMMAND_LIMIT)
                        if check(result, cells[mode]):
                            cells[mode].disk.append(result.on_disk - result.server_end)
                            cells[mode].back.append(result.returned - result.server_end)
                            cells[mode].jobs.append(result.server_end - result.server_start)
                for cell in cells.values():
                    print(row(cell), flush=True)
    finally:
        proxy.terminate()
        proxy.wait()


def part_rate(server: str, side: int, work: Path) -> None:
    """Part 2: requests per minute reaching the server while a long job runs."""
    print(f"\n2. Requests while one long job runs (testblur radius 31, {side} px), fault proxy")
    proxy = fault_proxy(server)
    try:
        env = env_for(proxy.url, work / "rate", work / "cache")
        for mode in MODES:
            process = launch(image_job(work / "rate-in", side), mode, env)
            job = wait_running(server, process, limit=120.0)
            begun, before = time.time(), len(proxy.requests)
            steady: tuple[float, int] | None = None
            ended = None
            while ended is None and time.time() < begun + 2 * COMMAND_LIMIT:
                time.sleep(0.25)
                if steady is None and time.time() >= begun + RAMP:
                    steady = (time.time(), len(proxy.requests))
                ended = time.time() if finished(server, job) else None
            after = proxy.requests
            result = collect(process, server, COMMAND_LIMIT)
            if ended is None or result.code != 0:
                print(f"{mode:5} failed: exit {result.code} {result.error}")
                continue
            steady = steady or (ended, len(after))  # a job shorter than RAMP: no steady rate
            during = after[before:]
            routes = collections.Counter(route(method, path) for method, path in during)
            by_route = ", ".join(f"{name} {n}" for name, n in sorted(routes.items()))
            overall = len(during) / (ended - begun) * 60
            later = (len(after) - steady[1]) / max(ended - steady[0], 1e-9) * 60
            end_to_disk = result.on_disk - result.server_end
            print(
                f"{mode:5} job {result.server_end - result.server_start:5.1f} s: "
                f"{len(during):3} requests, {overall:5.1f}/min; {later:5.1f}/min after the "
                f"first {RAMP:g} s ({by_route}); end → disk {end_to_disk:.2f} s",
                flush=True,
            )
    finally:
        proxy.stop()


def part_outage(
    server: str, outages: list[int], runs: int, work: Path, *, verbose: bool = False
) -> None:
    """Part 3: the delay an outage adds once the link is back, socket vs polling."""
    print("\n3. Outage mid-job (blackhole, connect timeouts): time after the link is back (s)")
    print(header("outage / mode"))
    proxy = fault_proxy(server)
    try:
        env = env_for(proxy.url, work / "outage", work / "cache")
        collect(launch(instant_job(), "ws", env), server, COMMAND_LIMIT)  # warm-up
        for seconds in outages:
            cells = {mode: Cell(f"{seconds:3} s / {mode}") for mode in MODES}
            for _ in range(runs if seconds <= 30 else 1):
                for mode in MODES:
                    process = launch(image_job(work / "outage-in", OUTAGE_SIDE), mode, env)
                    wait_running(server, process)
                    proxy.blackhole(connect="timeout")
                    down = time.time()
                    time.sleep(max(0.0, down + seconds - time.time()))
                    proxy.restore()
                    back, seen = time.time(), len(proxy.requests)
                    result = collect(process, server, COMMAND_LIMIT + seconds)
                    if verbose:
                        trace(mode, seconds, result, back, proxy.requests[seen:])
                    if not down < result.server_end < back:
                        cells[mode].notes.append("job did not end inside the outage")
                    if check(result, cells[mode]):
                        cells[mode].disk.append(result.on_disk - back)
                        cells[mode].back.append(result.returned - back)
                        cells[mode].jobs.append(result.server_end - result.server_start)
                    waits = result.stderr.count("is out of reach")
                    cells[mode].notes.append(f"{waits} outage lines")
            for cell in cells.values():
                print(row(cell), flush=True)
    finally:
        proxy.stop()


def trace(mode: str, seconds: int, result: Result, back: float, after: list[Any]) -> None:
    """One outage run in detail: times, the requests after the link came back, stderr."""
    print(
        f"  [{mode} {seconds} s] job end {result.server_end - back:+.2f} s from link back, "
        f"disk {result.on_disk - back:+.2f}, return {result.returned - back:+.2f}, "
        f"exit {result.code}; requests after back: {[route(*r) for r in after]}"
    )
    for line in result.stderr.splitlines():
        print(f"    | {line}")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, help="runs per latency cell (default 10)")
    parser.add_argument("--outages", help="outage lengths in s (default 5,30,120)")
    parser.add_argument("--outage-runs", type=int, default=2, help="per outage of ≤ 30 s")
    parser.add_argument("--long-side", type=int, help="long job's image side (default 7168)")
    parser.add_argument("--parts", default="latency,rate,outage")
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter waits")
    parser.add_argument("--url", help="use a running ComfyUI instead of starting one")
    parser.add_argument("--verbose", action="store_true", help="each outage run in detail")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 10)
    outages = [int(s) for s in (args.outages or ("5,30" if args.quick else "5,30,120")).split(",")]
    side = args.long_side or (3072 if args.quick else 7168)
    server_process = None
    url = args.url
    if url is None:
        url, server_process = start_local_server()
    url = url.rstrip("/")
    print(f"server {url}; comfycine as fresh processes; {os.cpu_count()} CPUs")
    work = Path(tempfile.mkdtemp(prefix="bench-link-faults-"))
    try:
        parts = args.parts.split(",")
        if "latency" in parts:
            part_latency(url, runs, work, args.rtt_ms)
        if "rate" in parts:
            part_rate(url, side, work)
        if "outage" in parts:
            part_outage(url, outages, args.outage_runs, work, verbose=args.verbose)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if server_process is not None:
            from comfycine.localserver import terminate_server

            terminate_server(server_process)
            shutil.rmtree(server_process.base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
