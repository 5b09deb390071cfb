"""The server's idle gap between consecutive jobs: sequential ``generate`` vs ``batch``.

The gap is read from the server's own history: for the jobs of one run, sorted by
``execution_start``, each gap is the next job's ``execution_start`` minus the previous
job's ``execution_success`` (both ms timestamps ComfyUI writes into
``status.messages``). It is the time the GPU would sit idle between two renders.
ComfyUI's own floor, with the next prompt already queued, is about 1 ms.

Four cells, each with fresh distinct input images (so the server never answers from its
cache) and one warm-up job before the measured window:

- sequential, loopback: comfycine's one-job path (``generation.generate`` on the
  ``testblur`` template: upload, submit, wait, download) called once per image;
- pipelined, loopback: ``python -m comfycine batch DIR testblur --concurrency N --json``
  as a subprocess;
- both again through ``bench/netproxy.py`` (a Tailscale-like link: 20 ms round trip,
  100 Mbit/s per direction), where a sequential loop pays every round trip and every
  transfer inside the gap and a pipelined one should not.

Target: median gap ≤ 5 ms for the pipelined runs. A client with N jobs in flight keeps
the queue fed only if a job lasts longer than its own round of the client's work divided
by N (upload, submit, wait, fetch the history, download: several round trips through the
proxy); the default ``testblur`` job takes ~12 ms on CPU, shorter than one round trip,
so ``--radius 31`` (~0.3 s jobs) shows the case of real renders.

    python bench/idle_gap.py [--jobs 30] [--concurrency 3] [--big-mb 2] [--radius 31]
                             [--url URL]

Without --url it starts the local CPU ComfyUI (built in the cache) on a free port.
Jobs are attributed to a run by time window, so nothing else may use the server.
``--big-mb`` makes noise images of that size (incompressible PNGs) to show transfer time.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

TEMPLATE = "testblur"
TARGET_MS = 5.0
NETPROXY = Path(__file__).with_name("netproxy.py")


def write_png(path: Path, width: int, height: int, row: bytes | None, rng: random.Random) -> None:
    """An RGB PNG: every row ``row`` (a flat colour), or random noise when ``row`` is None."""
    raw = bytearray()
    for _ in range(height):
        raw += b"\x00" + (row if row is not None else rng.randbytes(width * 3))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(bytes(raw), 1)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def make_images(folder: Path, count: int, seed: int, big_mb: float) -> list[Path]:
    """``count`` distinct images: flat random colours 256–512 px, or noise of ``big_mb``."""
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        path = folder / f"in-{seed}-{i:03d}.png"
        if big_mb:
            side = int((big_mb * 1e6 / 3) ** 0.5)
            write_png(path, side, side, None, rng)
        else:
            width, height = rng.randrange(256, 513, 8), rng.randrange(256, 513, 8)
            write_png(path, width, height, rng.randbytes(3) * width, rng)
        paths.append(path)
    return paths


def run_window(url: str, since_ms: int, until_ms: int) -> list[tuple[int, int]]:
    """(start, success) ms of every job the server started inside the window, in order."""
    history = httpx.get(f"{url}/history", timeout=30, trust_env=False).json()
    spans = []
    for entry in history.values():
        stamps: dict[str, int] = {}
        for kind, data in entry.get("status", {}).get("messages", []):
            if kind in ("execution_start", "execution_success"):
                stamps[kind] = int(data["timestamp"])
        start, end = stamps.get("execution_start"), stamps.get("execution_success")
        if start is not None and end is not None and since_ms <= start <= until_ms:
            spans.append((start, end))
    return sorted(spans)


def gaps_of(spans: list[tuple[int, int]]) -> list[float]:
    """Next start minus previous success, ms."""
    return [float(nxt[0] - prev[1]) for prev, nxt in itertools.pairwise(spans)]


def cell_env(url: str, work: Path) -> dict[str, str]:
    """The environment of one run: its own data, output and cache dirs, the URL to use."""
    return {
        **os.environ,
        "COMFYUI_URL": url,
        "COMFYCINE_DATA_DIR": str(work / "data"),
        "COMFYCINE_OUTPUT_DIR": str(work / "out"),
        "COMFYCINE_CACHE_DIR": str(work / "cache"),
    }


def run_sequential(url: str, images: list[Path], work: Path, values: list[str]) -> None:
    """comfycine's one-job path, one image at a time, in this process."""
    from comfycine.generation import generate
    from comfycine.settings import resolve

    settings = resolve(env=cell_env(url, work), read_dotenv_file=False)
    for path in images:
        generate(settings, TEMPLATE, assignments=values, overrides={"input": str(path)})


def batch_command(folder: Path, concurrency: int, values: list[str]) -> list[str]:
    """The pipelined run: ``comfycine batch`` as a fresh process."""
    sets = [arg for value in values for arg in ("--set", value)]
    return [
        sys.executable,
        "-m",
        "comfycine",
        "batch",
        str(folder),
        TEMPLATE,
        "--concurrency",
        str(concurrency),
        *sets,
        "--json",
    ]


def run_pipelined(url: str, folder: Path, work: Path, concurrency: int, values: list[str]) -> None:
    """``comfycine batch`` over the folder; fails loudly if it does."""
    done = subprocess.run(
        batch_command(folder, concurrency, values),
        env=cell_env(url, work),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"batch exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr}")


def batch_available() -> bool:
    """Whether this comfycine has the ``batch`` command yet."""
    probe = [sys.executable, "-m", "comfycine", "batch", "--help"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def start_proxy(url: str, rtt_ms: float, mbit: float) -> tuple[str, subprocess.Popen[str]]:
    """``bench/netproxy.py`` in its own process (not competing for this one's GIL)."""
    parts = urlsplit(url)
    command = [sys.executable, str(NETPROXY), "--upstream", f"{parts.hostname}:{parts.port}"]
    command += ["--rtt-ms", str(rtt_ms), "--mbit", str(mbit)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    return "http://" + line.split()[-1], process


def report(label: str, spans: list[tuple[int, int]], expected: int, wall: float) -> None:
    """Median, p90 and max of the gaps; whether the target is met."""
    gaps = gaps_of(spans)
    if len(gaps) < 2:
        print(f"{label}: not enough jobs in the window ({len(spans)})")
        return
    median = statistics.median(gaps)
    p90 = statistics.quantiles(gaps, n=10)[-1]
    busy = statistics.median(end - start for start, end in spans)
    verdict = "met" if median <= TARGET_MS else "NOT met"
    missing = "" if len(spans) == expected else f" (expected {expected} jobs!)"
    print(
        f"{label:22} gap median {median:7.1f} ms  p90 {p90:7.1f}  max {max(gaps):7.1f}  "
        f"n={len(gaps)}{missing}  | job {busy:.0f} ms, wall {wall:5.1f} s  "
        f"| target ≤ {TARGET_MS:g} ms {verdict}"
    )


def start_local_server() -> tuple[str, Any]:
    """Build (once) and start the CPU ComfyUI on a free port, in a temp base dir."""
    from comfycine.localserver import build_server, start_server
    from comfycine.settings import default_cache_dir

    install = build_server(default_cache_dir(os.environ), log=print)
    base = Path(tempfile.mkdtemp(prefix="bench-comfyui-"))
    server = start_server(install, base_dir=base, record_state=False)
    return server.url, server


def measure(args: argparse.Namespace, url: str, root: Path) -> None:
    """Run the four cells and print one line each."""
    modes = args.modes.split(",")
    values = [f"radius={args.radius}"] if args.radius else []
    if "pipelined" in modes and not batch_available():
        modes.remove("pipelined")
        print("pipelined: `comfycine batch` is not available yet; run later:")
        print("  " + " ".join(batch_command(Path("DIR"), args.concurrency, values)))
    links = {"loopback": url}
    proxy = None
    if not args.no_proxy:
        links["proxy"], proxy = start_proxy(url, args.rtt_ms, args.mbit)
    try:
        seed = 0
        for link, link_url in links.items():
            for mode in modes:
                seed += 1
                work = root / f"{link}-{mode}"
                images = make_images(work / "in", args.jobs, seed, args.big_mb)
                warm = make_images(work / "warm", 1, 1000 + seed, args.big_mb)
                run_sequential(link_url, warm, work / "warmup", values)
                since = int(time.time() * 1000)
                start = time.perf_counter()
                if mode == "sequential":
                    run_sequential(link_url, images, work, values)
                else:
                    run_pipelined(link_url, work / "in", work, args.concurrency, values)
                wall = time.perf_counter() - start
                spans = run_window(url, since, int(time.time() * 1000))
                report(f"{mode} {link}", spans, args.jobs, wall)
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait()


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=30, help="measured jobs per cell")
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--big-mb", type=float, default=0.0, help="noise images of this size")
    parser.add_argument("--radius", type=int, help="blur radius (1-31): longer server jobs")
    parser.add_argument("--url", help="use a running ComfyUI instead of starting one")
    parser.add_argument("--modes", default="sequential,pipelined")
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--mbit", type=float, default=100.0)
    parser.add_argument("--no-proxy", action="store_true", help="loopback cells only")
    args = parser.parse_args()
    server = None
    url = args.url
    if url is None:
        url, server = start_local_server()
    size = f"noise {args.big_mb:g} MB" if args.big_mb else "flat 256-512 px"
    radius = args.radius or "default"
    print(f"{args.jobs} jobs per cell, {TEMPLATE} radius {radius}, images {size}, server {url}")
    root = Path(tempfile.mkdtemp(prefix="bench-idle-gap-"))
    try:
        measure(args, url.rstrip("/"), root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if server is not None:
            from comfycine.localserver import terminate_server

            terminate_server(server)
            shutil.rmtree(server.base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
