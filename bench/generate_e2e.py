"""End-to-end ``generate`` of a trivial graph on the real CPU ComfyUI, against a floor.

The floor is a minimal hand-written client doing the same steps with the same
libraries: open the socket, POST the graph, wait for ``executing`` null, GET the
history, stream the one output to disk. comfycine adds template rendering, the ledger,
progress folding, safe naming and atomic publishing on top. Each run changes the
colour so the server never answers from its cache.

Two comparisons are printed: in-process (the library call vs the minimal coroutine:
what the client code costs) and as fresh processes (``comfycine generate`` vs
``python minimal.py``: what a user waits for, imports included).
Target: comfycine ≤ 1.1× the floor.

    python bench/generate_e2e.py [--runs 30] [--url http://127.0.0.1:PORT]

Without --url it builds (first time) and starts the local CPU ComfyUI on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

GRAPH_TEMPLATE = "testimage"


def trivial_graph(color: int) -> dict[str, Any]:
    """The testimage template rendered by hand (what the minimal client sends)."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 256, "height": 144, "batch_size": 1, "color": color},
            "_meta": {"title": "EmptyImage"},
        },
        "2": {
            "class_type": "ImageInvert",
            "inputs": {"image": ["1", 0]},
            "_meta": {"title": "ImageInvert"},
        },
        "3": {
            "class_type": "SaveImage",
            "inputs": {"images": ["2", 0], "filename_prefix": "bench/minimal"},
            "_meta": {"title": "SaveImage"},
        },
    }


async def minimal_generate(url: str, color: int, out_dir: Path) -> Path:
    """The floor: the fewest steps that render one graph and save its output."""
    client_id, prompt_id = uuid.uuid4().hex, str(uuid.uuid4())
    ws_url = "ws" + url.removeprefix("http") + f"/ws?clientId={client_id}"
    # verify=False: plain http needs no CA bundle (the same saving comfycine makes).
    http_client = httpx.AsyncClient(base_url=url, verify=False)
    async with http_client as http, connect(ws_url, max_size=None) as ws:
        await ws.recv()
        body = {"prompt": trivial_graph(color), "client_id": client_id, "prompt_id": prompt_id}
        (await http.post("/prompt", json=body)).raise_for_status()
        while True:
            frame = await ws.recv()
            if isinstance(frame, str):
                message = json.loads(frame)
                data = message.get("data", {})
                if (
                    message["type"] == "executing"
                    and data.get("node") is None
                    and data.get("prompt_id") == prompt_id
                ):
                    break
        history = (await http.get(f"/history/{prompt_id}")).json()[prompt_id]
        item = next(iter(history["outputs"].values()))["images"][0]
        target = out_dir / f"minimal-{prompt_id[:8]}.png"
        async with http.stream("GET", "/view", params=item) as response:
            with target.open("wb") as handle:
                async for chunk in response.aiter_bytes():
                    handle.write(chunk)
        return target


def comfycine_generate(color: int) -> None:
    """The library call ``comfycine generate testimage --set color=N`` makes."""
    from comfycine.generation import generate
    from comfycine.settings import resolve

    generate(resolve(), GRAPH_TEMPLATE, assignments=[f"color={color}"])


def median_ms(samples: list[float]) -> float:
    """Median in milliseconds."""
    return statistics.median(samples) * 1000


def run_in_process(url: str, runs: int, out_dir: Path) -> tuple[list[float], list[float]]:
    """Alternate the two clients in this process; return their wall times."""
    ours, floor = [], []
    for i in range(runs):
        start = time.perf_counter()
        asyncio.run(minimal_generate(url, 1000 + 2 * i, out_dir))
        floor.append(time.perf_counter() - start)
        start = time.perf_counter()
        comfycine_generate(1001 + 2 * i)
        ours.append(time.perf_counter() - start)
    return ours, floor


def run_as_processes(url: str, runs: int, out_dir: Path) -> tuple[list[float], list[float]]:
    """Alternate fresh processes of both clients; return their wall times."""
    script = Path(sys.executable).with_name("comfycine")
    minimal = [sys.executable, __file__, "--minimal-once", "--url", url, "--out", str(out_dir)]
    ours, floor = [], []
    for i in range(runs):
        start = time.perf_counter()
        subprocess.run([*minimal, "--color", str(50_000 + 2 * i)], check=True)
        floor.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(
            [str(script), "generate", GRAPH_TEMPLATE, "--set", f"color={50_001 + 2 * i}"],
            check=True,
            capture_output=True,
        )
        ours.append(time.perf_counter() - start)
    return ours, floor


def report(label: str, ours: list[float], floor: list[float]) -> None:
    """Print medians and the ratio."""
    ratio = statistics.median(ours) / statistics.median(floor)
    print(
        f"{label}: comfycine median {median_ms(ours):7.1f} ms, minimal client "
        f"{median_ms(floor):7.1f} ms, ratio {ratio:.2f}x (n={len(ours)})"
    )


def start_local_server() -> tuple[str, Any]:
    """Build (once) and start the CPU ComfyUI on a free port, in a temp base dir."""
    from comfycine.localserver import build_server, start_server
    from comfycine.settings import default_cache_dir

    install = build_server(default_cache_dir(os.environ), log=lambda line: print(line))
    base = Path(tempfile.mkdtemp(prefix="bench-comfyui-"))
    server = start_server(install, base_dir=base, record_state=False)
    return server.url, server


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--url")
    parser.add_argument("--minimal-once", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--color", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.minimal_once:
        asyncio.run(minimal_generate(args.url, args.color, Path(args.out)))
        return
    server = None
    url = args.url
    if url is None:
        url, server = start_local_server()
    work = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    os.environ.update(
        {
            "COMFYUI_URL": url,
            "COMFYCINE_OUTPUT_DIR": str(work / "out"),
            "COMFYCINE_DATA_DIR": str(work / "data"),
        }
    )
    (work / "minimal").mkdir()
    try:
        asyncio.run(minimal_generate(url, 1, work / "minimal"))  # warm the server
        report("in-process ", *run_in_process(url, args.runs, work / "minimal"))
        report("processes  ", *run_as_processes(url, max(5, args.runs // 3), work / "minimal"))
    finally:
        if server is not None:
            from comfycine.localserver import terminate_server

            terminate_server(server)


if __name__ == "__main__":
    main()
