"""Peak memory of ``comfycine generate`` while it downloads a ≥ 500 MB output.

The server is the fake ComfyUI of the test suite (``tests/fakecomfy``), in a process of
its own: its ``huge_output_bytes`` knob makes the next ``SaveVideo`` output a sparse
file of that size, served by ``/view`` with its length, like ComfyUI serves a long
render. ``comfycine generate testpattern`` runs as a fresh process; its peak resident
set is the kernel's own count, read two ways: ``ru_maxrss`` of that one child (wait4,
KiB on Linux) and ``VmHWM`` sampled from ``/proc/PID/status`` while it runs. Linux
charges a child's ``ru_maxrss`` with the parent's resident set at fork time, so this
measuring process stays small (no server, no aiohttp in it). The same
is measured for ``comfycine version`` (interpreter and CLI startup) and for a generate
with the template's own tiny output (the job machinery), for comparison.

The download's throughput is timed from the first byte on disk to the last (the output
folder is watched), and the published file's size is checked against the served size.
Target: peak RSS ≤ 100 MB.

    python bench/download_memory.py [--mib 600]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGET_MB = 100.0


@dataclass
class Run:
    """What one child process did: exit code, peak memory, download timing, stdout."""

    returncode: int = 0
    maxrss_kib: int = 0
    vmhwm_kib: int = 0
    first_byte: float | None = None  # perf_counter when output bytes first appeared
    last_byte: float | None = None  # when the output folder reached the expected size
    wall: float = 0.0
    stdout: str = ""


def folder_bytes(folder: Path) -> int:
    """Bytes under ``folder`` (a published file counts once: hard links share an inode)."""
    seen: set[int] = set()
    total = 0
    for path in folder.rglob("*"):
        try:
            stat = path.stat()
        except OSError:
            continue  # the *.part went away between listing and stat
        if path.is_file() and stat.st_ino not in seen:
            seen.add(stat.st_ino)
            total += stat.st_size
    return total


def status_kib(pid: int, key: str) -> int | None:
    """A ``VmXXX`` line of ``/proc/PID/status`` in KiB, or None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def run_child(argv: list[str], env: dict[str, str], watch: Path | None, expect: int) -> Run:
    """Run ``argv``, sampling its memory and the growth of ``watch``; reap it with wait4."""
    run = Run()
    with tempfile.TemporaryFile(mode="w+") as out:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.DEVNULL, cwd=ROOT)
        finished = threading.Event()

        def sample() -> None:
            while not finished.is_set():
                hwm = status_kib(process.pid, "VmHWM")
                if hwm is not None:
                    run.vmhwm_kib = max(run.vmhwm_kib, hwm)
                if watch is not None and watch.exists():
                    size = folder_bytes(watch)
                    now = time.perf_counter()
                    if size and run.first_byte is None:
                        run.first_byte = now
                    if size >= expect and run.last_byte is None:
                        run.last_byte = now
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        run.wall = time.perf_counter() - start
        finished.set()
        sampler.join()
        process.returncode = run.returncode = os.waitstatus_to_exitcode(status)
        run.maxrss_kib = usage.ru_maxrss
        out.seek(0)
        run.stdout = out.read()
    return run


def mb(kib: int) -> float:
    """KiB → MB (10^6 bytes), the unit of the target."""
    return kib * 1024 / 1e6


def line(label: str, run: Run) -> str:
    """One result line: both peak readings."""
    return (
        f"{label:36} peak RSS {mb(run.maxrss_kib):6.1f} MB (wait4 ru_maxrss), "
        f"VmHWM sampled {mb(run.vmhwm_kib):6.1f} MB, wall {run.wall:5.2f} s"
    )


def serve_fake() -> None:
    """The fake ComfyUI, driven over stdin: ``huge N`` sizes the next video; EOF stops it."""
    sys.path.insert(0, str(ROOT))  # tests.fakecomfy is never installed
    from tests.fakecomfy import FakeComfy

    with FakeComfy() as fake:
        print(fake.url, flush=True)
        for command in sys.stdin:
            fake.huge_output_bytes = int(command.split()[1])
            print("ok", flush=True)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=600, help="size of the big output, MiB")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake()
        return
    size = args.mib << 20
    work = Path(tempfile.mkdtemp(prefix="bench-download-"))
    cli = [sys.executable, "-m", "comfycine"]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-fake"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        env = {
            **os.environ,
            "COMFYUI_URL": server.stdout.readline().strip(),
            "COMFYCINE_DATA_DIR": str(work / "data"),
            "COMFYCINE_CACHE_DIR": str(work / "cache"),
            "NO_COLOR": "1",
        }
        generate = [*cli, "generate", "testpattern", "--json", "--set"]
        startup = run_child([*cli, "version"], env, None, 0)
        small_env = {**env, "COMFYCINE_OUTPUT_DIR": str(work / "small")}
        small = run_child([*generate, "fps=11"], small_env, None, 0)
        server.stdin.write(f"huge {size}\n")
        server.stdin.flush()
        server.stdout.readline()
        big_out = work / "big"
        big_env = {**env, "COMFYCINE_OUTPUT_DIR": str(big_out)}
        # Another fps: the same graph again would be answered from the server's cache.
        big = run_child([*generate, "fps=13"], big_env, big_out, size)
        for label, run in (("version", startup), ("generate (small)", small), ("big", big)):
            if run.returncode != 0:
                raise SystemExit(f"{label} exited {run.returncode}: {run.stdout[-2000:]}")
        outputs = json.loads(big.stdout)["data"]["outputs"]
        got = [Path(p).stat().st_size for p in outputs]
        print(f"served {size} bytes ({size / 1e6:.0f} MB); downloaded {got}")
        print("size check:", "OK" if got == [size] else "MISMATCH")
        print(line("comfycine version", startup))
        print(line("comfycine generate (tiny output)", small))
        print(line(f"comfycine generate ({size / 1e6:.0f} MB output)", big))
        if big.first_byte is not None and big.last_byte is not None:
            seconds = big.last_byte - big.first_byte
            print(
                f"download: {size / 1e6 / seconds:.0f} MB/s ({size / (1 << 20) / seconds:.0f} "
                f"MiB/s) over {seconds:.2f} s, first byte to last (10 ms sampling)"
            )
        peak = mb(max(big.maxrss_kib, big.vmhwm_kib))
        verdict = "met" if peak <= TARGET_MB else "NOT met"
        print(f"target: peak RSS ≤ {TARGET_MB:g} MB while downloading: {verdict} ({peak:.1f} MB)")
    finally:
        server.stdin.close()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
