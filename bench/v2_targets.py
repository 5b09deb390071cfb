"""A ComfyUI behind comfy-api-proxy (Comfy API v2) against the same ComfyUI directly.

comfycine runs as a user runs it: ``python -m comfycine generate … --json`` in a fresh
process per job. The real CPU ComfyUI is built (once) and started; the real
``comfy-api-proxy`` (the ``test`` extra) runs in front of it; the tests' fault proxy
(passing everything) sits in front of each to count the requests a job costs. Three parts:

1. ``jobs`` — wall time of one command (process start to exit) for ``testimage`` (a
   ~50 ms job) and ``testblur`` radius 31 on a 1024 px image (~1–2 s), direct over the
   socket, on v2 with its event stream, and on v2 polling only; and the requests each
   command sent.
2. ``upload`` — a 24 MB noise PNG used by two jobs on the v2 target: the first command
   uploads it, the second only asks for its blake3 hash. Wall time of each.
3. ``hash`` — blake3 throughput on that file (what the second upload costs instead).

    python bench/v2_targets.py [--runs 7] [--parts jobs,upload,hash]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from idle_gap import start_local_server, write_png  # bench's folder is on the path
from link_faults import fault_proxy

ROOT = Path(__file__).resolve().parents[1]
COMMAND_LIMIT = 300.0


def start_v2_proxy(upstream: str, work: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """The real comfy-api-proxy in front of ``upstream`` (tests/real_proxy.py's command)."""
    sys.path.insert(0, str(ROOT))
    from tests.ports import closed_port
    from tests.real_proxy import _wait_healthy, proxy_command

    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "proxy.log"
    (work / "state").mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            proxy_command(upstream, port, work / "state"),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _wait_healthy(url, process, log)
    return url, process


def env_for(work: Path, targets: str) -> dict[str, str]:
    """A fresh, isolated comfycine environment with the named targets."""
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFY", "TELEGRAM"))}
    env.update(
        COMFYCINE_DATA_DIR=str(work / "data"),
        COMFYCINE_OUTPUT_DIR=str(work / "out"),
        COMFYCINE_EXCHANGE_DIR=str(work / "exchange"),
        COMFYCINE_CACHE_DIR=str(work / "cache"),
        COMFY_CLOUD_URL="http://127.0.0.1:9",
        COMFYCINE_TARGETS=targets,
        NO_COLOR="1",
    )
    return env


def run(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """One comfycine command: its wall time and its JSON envelope."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "comfycine", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_LIMIT,
        cwd=env["COMFYCINE_DATA_DIR"].rsplit("/", 1)[0],
    )
    wall = time.perf_counter() - started
    envelope = json.loads(done.stdout.splitlines()[-1])
    if not envelope["ok"]:
        raise RuntimeError(f"{' '.join(args)}: {envelope['error']}")
    return wall, envelope


def stats(samples: list[float]) -> str:
    """Median and spread, in ms."""
    ms = sorted(s * 1000 for s in samples)
    return f"median {statistics.median(ms):7.0f} ms  min {ms[0]:6.0f}  max {ms[-1]:6.0f}"


def part_jobs(direct: Any, v2: Any, work: Path, runs: int, plate: Path) -> None:
    """Wall time and requests per command: direct (socket), v2 (SSE), v2 (polling)."""
    cells = {
        "ComfyUI, socket": ("direct", []),
        "v2 proxy, events": ("box", []),
        "v2 proxy, polling": ("box", ["--transport", "poll"]),
    }
    jobs = {
        "testimage": ["testimage", "--set", "width=64"],
        "testblur 1024 px": ["testblur", "--image", str(plate), "--set", "radius=31"],
    }
    env = env_for(work, f"direct={direct.url},box={v2.url}")
    run(["targets"], env)  # the v2 target's kind asked once, as a first command would
    print(f"{'job':18} {'path':20} {'wall':44} requests/job")
    for job, job_args in jobs.items():
        for label, (target, extra) in cells.items():
            counter = direct if target == "direct" else v2
            walls, requests = [], []
            for i in range(runs):
                before = counter.count()
                colour = []
                if job == "testimage":  # a new colour: ComfyUI would serve a cached result
                    colour = ["--set", f"color={random.randrange(1 << 24)}"]
                wall, _ = run(["generate", *job_args, *colour, "--target", target, *extra], env)
                walls.append(wall)
                requests.append(counter.count() - before)
                if i == 0 and job != "testimage":
                    walls.pop(), requests.pop()  # the upload of the first run is part 2
            print(f"{job:18} {label:20} {stats(walls):44} {statistics.median(requests):.0f}")


def part_upload(v2: Any, work: Path, plate: Path) -> None:
    """The same big input on two v2 jobs: uploaded once, then found by its hash."""
    env = env_for(work / "upload", f"box={v2.url}")
    args = ["generate", "testblur", "--image", str(plate), "--set", "radius=1", "--target", "box"]
    first, _ = run(args, env)
    second, _ = run(args, env)
    size = plate.stat().st_size / 1e6
    print(
        f"{size:.0f} MB input, v2 target: first job {first * 1000:.0f} ms (upload), "
        f"second {second * 1000:.0f} ms (hash only)"
    )


def part_hash(plate: Path) -> None:
    """blake3 throughput on the plate, as comfycine hashes it."""
    sys.path.insert(0, str(ROOT))
    from comfycine.transport.v2 import blake3_of

    samples = []
    for _ in range(5):
        started = time.perf_counter()
        blake3_of(plate)
        samples.append(time.perf_counter() - started)
    mb = plate.stat().st_size / 1e6
    best = min(samples)
    print(f"blake3 of {mb:.0f} MB: {best * 1000:.0f} ms ({mb / best:.0f} MB/s)")


def main() -> None:
    """Start the servers, run the parts, stop everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--parts", default="jobs,upload,hash")
    args = parser.parse_args()
    parts = args.parts.split(",")
    work = Path(tempfile.mkdtemp(prefix="bench-v2-"))
    rng = random.Random(7)
    small = work / "plate-1024.png"
    write_png(small, 1024, 1024, bytes(rng.randrange(256) for _ in range(3)) * 1024, rng)
    big = work / "plate-noise.png"
    write_png(big, 2800, 2800, None, rng)
    url, server = start_local_server()
    proxy_url, proxy = start_v2_proxy(url, work / "proxy")
    direct, v2 = fault_proxy(url), fault_proxy(proxy_url)
    try:
        if "jobs" in parts:
            part_jobs(direct, v2, work / "jobs", args.runs, small)
        if "upload" in parts:
            part_upload(v2, work, big)
        if "hash" in parts:
            part_hash(big)
    finally:
        direct.stop()
        v2.stop()
        proxy.terminate()
        proxy.wait(10)
        from comfycine.localserver.process import terminate_server

        terminate_server(server)


if __name__ == "__main__":
    main()
