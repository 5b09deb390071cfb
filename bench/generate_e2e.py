"""End-to-end ``generate`` of a trivial graph on the real CPU ComfyUI, against a floor.

The floor is a minimal hand-written client doing the same steps with the same
libraries: open the socket, POST the graph, wait for ``executing`` null, GET the
history, stream the one output to disk. comfycine adds template rendering, the ledger,
progress folding, safe naming and atomic publishing on top. Each run changes the
colour so the server never answers from its cache.

Two cases: ``image`` (the ``testimage`` template: three nodes, ~5 ms of server time, the
harshest ratio) and ``video`` (``testpattern``: an h264 mp4, a small but real job).
Two comparisons each: in-process (the library call vs the minimal coroutine:
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

# Each case: the shipped template, and the parameter varied per run so that the server
# never answers from its cache (ComfyUI reuses results of identical inputs).
CASES = {
    "image": ("testimage", "color", lambda i: 1000 + i),
    "video": ("testpattern", "fps", lambda i: 1.0 + (i % 119)),
}


def rendered_graph(template_name: str, name: str, value: float) -> dict[str, Any]:
    """The template rendered with one value set: exactly what both clients submit."""
    from comfycine.templates import bind_values, load_template, render_graph, template_dirs

    template = load_template(template_name, template_dirs(None))
    binding = bind_values(template, assignments=[f"{name}={value}"])
    return render_graph(template, binding.values, {})


async def minimal_generate(url: str, graph: dict[str, Any], out_dir: Path) -> Path:
    """The floor: the fewest steps that render one graph and save its output."""
    client_id, prompt_id = uuid.uuid4().hex, str(uuid.uuid4())
    ws_url = "ws" + url.removeprefix("http") + f"/ws?clientId={client_id}"
    # No CA bundle and no proxy lookup for plain http: the same savings comfycine makes.
    http_client = httpx.AsyncClient(base_url=url, verify=False, trust_env=False)
    socket = connect(ws_url, max_size=None, compression=None, proxy=None)
    async with http_client as http, socket as ws:
        await ws.recv()
        body = {"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}
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
        target = out_dir / f"minimal-{prompt_id[:8]}-{item['filename']}"
        async with http.stream("GET", "/view", params=item) as response:
            with target.open("wb") as handle:
                async for chunk in response.aiter_bytes():
                    handle.write(chunk)
        return target


def comfycine_generate(template_name: str, name: str, value: float) -> None:
    """The library call ``comfycine generate TEMPLATE --set NAME=VALUE`` makes."""
    from comfycine.generation import generate
    from comfycine.settings import resolve

    generate(resolve(), template_name, assignments=[f"{name}={value}"])


def median_ms(samples: list[float]) -> float:
    """Median in milliseconds."""
    return statistics.median(samples) * 1000


def run_in_process(
    url: str, case: str, runs: int, out_dir: Path
) -> tuple[list[float], list[float]]:
    """Alternate the two clients in this process; return their wall times."""
    template, name, value = CASES[case]
    ours, floor = [], []
    for i in range(runs):
        graph = rendered_graph(template, name, value(2 * i))
        start = time.perf_counter()
        asyncio.run(minimal_generate(url, graph, out_dir))
        floor.append(time.perf_counter() - start)
        start = time.perf_counter()
        comfycine_generate(template, name, value(2 * i + 1))
        ours.append(time.perf_counter() - start)
    return ours, floor


def run_as_processes(
    url: str, case: str, runs: int, out_dir: Path
) -> tuple[list[float], list[float]]:
    """Alternate fresh processes of both clients; return their wall times."""
    template, name, value = CASES[case]
    script = Path(sys.executable).with_name("comfycine")
    minimal = [sys.executable, __file__, "--minimal-once", "--url", url, "--out", str(out_dir)]
    ours, floor = [], []
    for i in range(runs):
        graph = json.dumps(rendered_graph(template, name, value(500 + 2 * i)))
        start = time.perf_counter()
        subprocess.run([*minimal, "--graph", graph], check=True)
        floor.append(time.perf_counter() - start)
        start = time.perf_counter()
        command = [str(script), "generate", template, "--set", f"{name}={value(501 + 2 * i)}"]
        subprocess.run(command, check=True, capture_output=True)
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
    parser.add_argument("--graph", help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.minimal_once:
        asyncio.run(minimal_generate(args.url, json.loads(args.graph), Path(args.out)))
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
        cases = list(CASES) if args.case == "all" else [args.case]
        for case in cases:
            template, name, value = CASES[case]
            warm = rendered_graph(template, name, value(10_000))
            asyncio.run(minimal_generate(url, warm, work / "minimal"))  # warm the server
            runs = args.runs if case == "image" else max(5, args.runs // 3)
            report(f"{case:5} in-process", *run_in_process(url, case, runs, work / "minimal"))
            processes = run_as_processes(url, case, max(5, runs // 3), work / "minimal")
            report(f"{case:5} processes ", *processes)
    finally:
        if server is not None:
            from comfycine.localserver import terminate_server

            terminate_server(server)


if __name__ == "__main__":
    main()
