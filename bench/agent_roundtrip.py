"""An agent's round trips: fresh ``comfycine`` processes against a minimal client's floor.

An agent calls comfycine many times per request, each call a fresh process, so a
command's start-up is the agent's latency. For each command below this times N fresh
``comfycine`` processes (the console script beside this Python) against the same work
done by ``agent_floor.py``, a minimal hand-written client also run as a fresh process,
on the real CPU ComfyUI:

* ``status --json JOB`` and ``wait JOB --json`` on a finished job: comfycine reads its
  ledger and sends nothing, so the floor reads the same SQLite row and sends nothing;
* ``generate testimage --detach --json``: ``GET /queue`` and ``POST /prompt`` (the
  node-list snapshot is warm, as after any first job);
* ``workflow show testpattern --json``: reads the template file, sends nothing;
* ``generate testimage --json``: a trivial job end to end (socket, ``POST /prompt``,
  ``GET /history``, the download), a new colour each run so the server never answers
  from its cache;
* ``--help`` beside ``python -c pass``.

``comfycine`` runs warm (``comfycine.warm``: the first call started the warm server,
as it does for a user); ``cold`` is the same call with ``COMFYCINE_WARM=off``, run in
its own process from scratch. For the cases that send nothing the floor is given twice:
bare, and with ``import httpx`` first (what a hand-written httpx client pays anyway);
``detach`` also has an "async floor", the same requests on httpx's asyncio client as
comfycine sends them (the minimal client is synchronous: no asyncio, no anyio). Runs are
interleaved (the order of the pair alternates), and a detached job is left to finish before the
next run. Prints medians, p90 (nearest rank) and the ratio of the medians, and the
load average. Target: every ratio ≤ 1.1, ``--help`` ≤ 0.12 s.

    python bench/agent_roundtrip.py [--runs 21] [--url http://127.0.0.1:PORT]

Without --url it starts the local CPU ComfyUI (built once into the tests' cache).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

FLOOR = str(Path(__file__).with_name("agent_floor.py"))
CASES = ("status", "wait", "detach", "show", "job", "help")


def rendered_graph(template_name: str, **values: Any) -> dict[str, Any]:
    """The template rendered with ``values``: the graph both clients submit."""
    from comfycine.templates import bind_values, load_template, render_graph, template_dirs

    template = load_template(template_name, template_dirs(None))
    assignments = [f"{k}={v}" for k, v in values.items()]
    return render_graph(template, bind_values(template, assignments=assignments).values, {})


def child_env(work: Path, url: str) -> dict[str, str]:
    """The environment of every timed process: isolated dirs, no .env, bytecode cached.

    An editable checkout run with PYTHONDONTWRITEBYTECODE recompiles the package at
    every start; an installed comfycine never does, so the bytecode goes to a cache.
    """
    env = dict(os.environ)
    env.update(
        {
            "COMFYUI_URL": url,
            "COMFYCINE_OUTPUT_DIR": str(work / "out"),
            "COMFYCINE_DATA_DIR": str(work / "data"),
            "COMFYCINE_CACHE_DIR": str(work / "cache"),
            "COMFYCINE_EXCHANGE_DIR": str(work / "exchange"),
            "COMFYCINE_ENV_FILE": str(work / "no.env"),
        }
    )
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        print("PYTHONDONTWRITEBYTECODE dropped; bytecode cached under the work dir")
    return env


COLD = {"COMFYCINE_WARM": "off"}


def run(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of one fresh process, and its stdout; a failure stops the bench."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout


def drain(url: str, timeout: float = 60.0) -> None:
    """Wait until the server's queue is empty (a detached job must not run meanwhile)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, trust_env=False) as http:
        while time.monotonic() < deadline:
            queue = http.get("/queue").json()
            if not queue.get("queue_running") and not queue.get("queue_pending"):
                return
            time.sleep(0.05)
    sys.exit("the server's queue did not drain")


def p90(samples: list[float]) -> float:
    """The 90th percentile, nearest rank."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


class Bench:
    """The prepared server state and the argv of both clients for each case."""

    def __init__(self, url: str, work: Path) -> None:
        self.url, self.work = url, work
        self.env = child_env(work, url)
        script = Path(sys.executable).with_name("comfycine")
        self.cli = [str(script)] if script.exists() else [sys.executable, "-m", "comfycine"]
        self.floor = [sys.executable, FLOOR]
        self.floor_dir = str(work / "floor")
        (work / "floor").mkdir(parents=True)
        detach_graph = work / "detach.json"
        detach_graph.write_text(json.dumps(rendered_graph("testimage")))
        self.detach_graph = str(detach_graph)
        from comfycine.templates import load_template, template_dirs

        self.pattern = str(load_template("testpattern", template_dirs(None)).path)
        self.colour = 1000
        # A finished job for status and wait; a first detached job warms the snapshot.
        _, out = run([*self.cli, "generate", "testimage", "--json"], self.env)
        self.job = json.loads(out)["data"]["job"]
        run([*self.cli, "generate", "testimage", "--detach", "--json"], self.env)
        drain(url)
        self.ledger = str(work / "data" / "ledger.sqlite3")

    def next_colour(self) -> int:
        """A colour not rendered yet: the server must not answer from its cache."""
        self.colour += 1
        return self.colour

    def colour_set(self) -> list[str]:
        """``--set color=N`` with a new colour."""
        return ["--set", f"color={self.next_colour()}"]

    def job_graph(self) -> str:
        """A file holding the graph with a new colour, for the floor's job."""
        colour = self.next_colour()
        path = self.work / "floor" / f"graph-{colour}.json"
        path.write_text(json.dumps(rendered_graph("testimage", color=colour)))
        return str(path)

    def commands(self, case: str) -> dict[str, Callable[[], list[str]]]:
        """Label → a function giving the argv for the next run."""
        cli, floor, ledger, job = self.cli, self.floor, self.ledger, self.job
        if case == "status":
            return {
                "comfycine": lambda: [*cli, "status", "--json", job],
                "cold": lambda: [*cli, "status", "--json", job],
                "floor": lambda: [*floor, "ledger", ledger, job],
                "httpx floor": lambda: [*floor, "--httpx", "ledger", ledger, job],
            }
        if case == "wait":
            return {
                "comfycine": lambda: [*cli, "wait", job, "--json"],
                "cold": lambda: [*cli, "wait", job, "--json"],
                "floor": lambda: [*floor, "ledger", ledger, job],
                "httpx floor": lambda: [*floor, "--httpx", "ledger", ledger, job],
            }
        if case == "detach":
            return {
                "comfycine": lambda: [*cli, "generate", "testimage", "--detach", "--json"],
                "cold": lambda: [*cli, "generate", "testimage", "--detach", "--json"],
                "floor": lambda: [*floor, "detach", self.url, self.detach_graph],
                "async floor": lambda: [*floor, "detach-async", self.url, self.detach_graph],
            }
        if case == "show":
            return {
                "comfycine": lambda: [*cli, "workflow", "show", "testpattern", "--json"],
                "cold": lambda: [*cli, "workflow", "show", "testpattern", "--json"],
                "floor": lambda: [*floor, "show", self.pattern],
                "httpx floor": lambda: [*floor, "--httpx", "show", self.pattern],
            }
        if case == "job":
            return {
                "comfycine": lambda: [*cli, "generate", "testimage", "--json", *self.colour_set()],
                "cold": lambda: [*cli, "generate", "testimage", "--json", *self.colour_set()],
                "floor": lambda: [*floor, "job", self.url, self.job_graph(), self.floor_dir],
            }
        return {
            "comfycine": lambda: [*cli, "--help"],
            "python -c pass": lambda: [sys.executable, "-c", "pass"],
        }


def measure(bench: Bench, cases: list[str], runs: int) -> dict[str, dict[str, list[float]]]:
    """Interleaved runs: every case each round, the order within a case alternating."""
    samples: dict[str, dict[str, list[float]]] = {c: {} for c in cases}
    cold_env = {**bench.env, **COLD}
    for case in cases:  # one untimed warm-up of each
        for label, argv in bench.commands(case).items():
            run(argv(), cold_env if label == "cold" else bench.env)
        if case in ("detach", "job"):
            drain(bench.url)
    for round_ in range(runs):
        for case in cases:
            labels = list(bench.commands(case).items())
            for label, argv in labels if round_ % 2 == 0 else labels[::-1]:
                elapsed, _ = run(argv(), cold_env if label == "cold" else bench.env)
                samples[case].setdefault(label, []).append(elapsed)
                if case in ("detach", "job"):
                    drain(bench.url)
    return samples


def report(samples: dict[str, dict[str, list[float]]]) -> None:
    """One row per case and client: median, p90, ratio of medians to comfycine's."""
    print(f"\n{'case':8} {'client':15} {'median ms':>10} {'p90 ms':>8} {'comfycine ÷ it':>15}")
    for case, by_label in samples.items():
        ours = statistics.median(by_label["comfycine"])
        for label, values in by_label.items():
            median = statistics.median(values)
            ratio = "" if label == "comfycine" else f"{ours / median:.2f}x"
            ms = f"{median * 1000:10.1f} {p90(values) * 1000:8.1f}"
            print(f"{case:8} {label:15} {ms} {ratio:>15}")


def start_local_server(base: Path) -> tuple[str, Any]:
    """Build (once) and start the CPU ComfyUI on a free port, its base dir in ``base``."""
    from comfycine.localserver import build_server, start_server

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ is not installed
    from tests.real_server import real_cache_dir

    install = build_server(real_cache_dir(), log=print)
    server = start_server(install, base_dir=base, record_state=False, timeout=120)
    return server.url, server


def main() -> None:
    """Start the server, prepare a finished job, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--url", help="a running ComfyUI instead of starting one")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    server = None
    url = args.url
    if url is None:
        url, server = start_local_server(work / "comfyui")
    try:
        bench = Bench(url, work)
        before = os.getloadavg()
        samples = measure(bench, cases, args.runs)
        after = os.getloadavg()
        print(f"load average before {before[0]:.2f}, after {after[0]:.2f} "
              f"(1 min; {os.cpu_count()} cores); {args.runs} runs per client")  # fmt: skip
        report(samples)
    finally:
        from comfycine.warm import socket_path, stop_server

        warm_socket = socket_path(os.environ)  # the children's: they share TMPDIR
        if warm_socket is not None:
            stop_server(warm_socket)
        if server is not None:
            from comfycine.localserver import terminate_server

            terminate_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
