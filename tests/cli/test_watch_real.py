"""`comfycine watch` against the real CPU ComfyUI: a slowly written file, a killed watcher."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.ledger import JobRecord, Ledger
from tests.cli.test_generate_real import write_template
from tests.cli_support import Isolation, invoke, join
from tests.real_server import RealComfyUI
from tests.watch.support import TICK, png_bytes

pytestmark = pytest.mark.real

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUICK = ("--poll", str(TICK), "--polls", "3")
DEADLINE = 60.0


def ledger_rows(isolation: Isolation) -> list[JobRecord]:
    """Every job in the isolated ledger (none if it does not exist yet)."""
    path = isolation.data_dir / "ledger.sqlite3"
    if not path.exists():
        return []
    with Ledger.open(path) as ledger:
        return ledger.recent(100)


def slow_blur(prefix: str, blurs: int = 24) -> dict[str, Any]:
    """LoadImage → scale to 768² → a chain of blurs (seconds of CPU) → SaveImage(prefix)."""
    graph: dict[str, Any] = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "PARAM_IMAGE_INPUT"}},
        "2": {
            "class_type": "ImageScale",
            "inputs": {
                "image": ["1", 0],
                "upscale_method": "nearest-exact",
                "width": 768,
                "height": 768,
                "crop": "disabled",
            },
        },
    }
    previous = "2"
    for index in range(3, blurs + 3):
        graph[str(index)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [previous, 0], "blur_radius": 9, "sigma": 2.0},
        }
        previous = str(index)
    graph["999"] = {
        "class_type": "SaveImage",
        "inputs": {"images": [previous, 0], "filename_prefix": prefix},
    }
    return graph


def test_slowly_written_png_is_rendered_once_complete(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """A PNG written in chunks while the watcher runs: one job, created after the last write."""
    exchange = isolation.root / "exchange"
    content = png_bytes(128, 128)
    path = exchange / "input" / "testblur" / "plate.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(content[:64])
    last_write: list[float] = []

    def write_rest() -> None:
        step = len(content) // 8 + 1
        with path.open("ab") as handle:
            for start in range(64, len(content), step):
                time.sleep(TICK)
                handle.write(content[start : start + step])
                handle.flush()
        last_write.append(time.time())

    writer = threading.Thread(target=write_rest)
    writer.start()
    result = invoke("watch", "--once", "--json", *QUICK)
    join(writer)
    assert result.exit_code == 0, result
    rows = ledger_rows(isolation)
    assert len(rows) == 1, rows
    (row,) = rows
    assert row.status == "succeeded" and row.source_path == str(path)
    assert row.created_at is not None and row.created_at > last_write[0]
    uploaded = real.base_dir / "input" / row.graph["1"]["inputs"]["image"]
    assert uploaded.read_bytes() == content
    output = exchange / "output" / "plate.testblur.png"
    assert output.read_bytes().startswith(PNG_MAGIC)


def wait_for(check: Any, what: str) -> Any:
    """Poll ``check()`` until it returns something truthy (or fail after DEADLINE)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(TICK)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_watcher_resumes_and_renders_each_input_once(
    real: RealComfyUI, isolation: Isolation
) -> None:
    """SIGKILL mid-job, then watch --once: the job is followed again, nothing runs twice."""
    prefix = f"watchrestart-{uuid.uuid4().hex[:8]}"
    write_template(isolation.workflow_dir, "slowblur", slow_blur(prefix))
    exchange = isolation.root / "exchange"
    for name in ("a.png", "b.png"):
        target = exchange / "input" / "slowblur" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png_bytes(64, 64))
    process = subprocess.Popen(
        [sys.executable, "-m", "comfycine", "watch", "--json", *QUICK],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
        cwd=isolation.root,
    )
    try:
        running = wait_for(
            lambda: [r for r in ledger_rows(isolation) if r.status in ("queued", "running")],
            "a job submitted by the first watcher",
        )
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert len(running) == 1 and not running[0].is_terminal

    result = invoke("watch", "--once", "--json", *QUICK)
    assert result.exit_code == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    resumed = [e for e in lines if e.get("event") == "item_resumed"]
    assert [e["job"] for e in resumed] == [running[0].id]
    rows = ledger_rows(isolation)
    assert sorted(Path(r.source_path or "").name for r in rows) == ["a.png", "b.png"]
    assert all(r.status == "succeeded" for r in rows), rows
    history = httpx.get(f"{real.url}/history", timeout=10).json()
    ours = [
        entry
        for entry in history.values()
        if any(
            node.get("inputs", {}).get("filename_prefix") == prefix
            for node in entry["prompt"][2].values()
        )
    ]
    assert len(ours) == 2
    outputs = sorted(p.name for p in (exchange / "output").iterdir())
    assert outputs == ["a.slowblur.png", "b.slowblur.png"]
    assert sorted(p.name for p in (exchange / "input" / ".done" / "slowblur").iterdir()) == [
        "a.png",
        "b.png",
    ]
