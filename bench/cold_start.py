"""Cold start of the CLI: ``comfycine --help`` and ``comfycine workflow list``.

Runs each command N times as a fresh process (the console script next to this Python,
not a shell shim) and prints the median and spread, beside the floor of a bare
interpreter and of ``import typer``: each in place (``COMFYCINE_WARM=off``, everything
imported by the process) and warm (handed to the warm server, which the warm-up call
starts; ``workflow list`` and root ``--help`` are warm commands). Target: median
≤ 0.12 s for both commands (``--help`` builds its command list without their
parameters; ``agent_roundtrip.py`` has the commands an agent calls most, against a
minimal client).

    python bench/cold_start.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

IN_PLACE = {**os.environ, "COMFYCINE_WARM": "off"}
WARM = {**os.environ, "COMFYCINE_WARM": "on"}


def time_command(argv: list[str], runs: int, env: dict[str, str] = IN_PLACE) -> list[float]:
    """Wall-clock seconds of ``runs`` fresh executions (one warm-up first)."""
    subprocess.run(argv, capture_output=True, check=False, env=env)
    if env is WARM:
        time.sleep(5)  # the warm-up started the warm server: let it import
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, env=env)
        samples.append(time.perf_counter() - start)
    return samples


def report(label: str, samples: list[float]) -> None:
    """Print median, min and max in milliseconds."""
    median = statistics.median(samples) * 1000
    print(
        f"{label:34} median {median:7.1f} ms   min {min(samples) * 1000:7.1f}   "
        f"max {max(samples) * 1000:7.1f}   (n={len(samples)})"
    )


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("comfycine")
    cli = [str(script)] if script.exists() else [shutil.which("comfycine") or "comfycine"]
    python = sys.executable
    report("python -c pass (floor)", time_command([python, "-c", "pass"], args.runs))
    report("python -c 'import typer'", time_command([python, "-c", "import typer"], args.runs))
    for label, env in (("in place", IN_PLACE), ("warm", WARM)):
        report(f"comfycine --help ({label})", time_command([*cli, "--help"], args.runs, env))
        report(
            f"comfycine workflow list ({label})",
            time_command([*cli, "workflow", "list"], args.runs, env),
        )
        report(
            f"comfycine workflow list --json ({label})",
            time_command([*cli, "workflow", "list", "--json"], args.runs, env),
        )
    from comfycine.warm import socket_path, stop_server

    warm_socket = socket_path(os.environ)
    if warm_socket is not None:
        stop_server(warm_socket)


if __name__ == "__main__":
    main()
