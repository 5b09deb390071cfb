"""Running the CLI in-process, isolated from the user's environment and files."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from comfycine.cli.main import run
from comfycine.envnames import (
    ENV_CLAUDE_CONFIG_DIR,
    ENV_DOTENV,
    ENV_NAMES,
    target_auth_variables,
)
from comfycine.ledger import JobRecord, Ledger


@dataclass
class CliResult:
    """What one CLI invocation did."""

    exit_code: int
    stdout: str
    stderr: str

    def envelope(self) -> dict[str, Any]:
        """The single JSON document on stdout (fails if there is anything else)."""
        data: dict[str, Any] = json.loads(self.stdout)
        return data

    def __str__(self) -> str:
        return f"exit {self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


# How long a test waits for a helper thread it started to end.
JOIN_TIMEOUT = 60.0


def join(thread: threading.Thread, timeout: float = JOIN_TIMEOUT) -> None:
    """Wait for ``thread`` to end; fail the test (instead of hanging) after ``timeout``."""
    thread.join(timeout)
    assert not thread.is_alive(), f"thread {thread.name} still running after {timeout} s"


@contextlib.contextmanager
def sigint_raises() -> Iterator[None]:
    """Make SIGINT raise KeyboardInterrupt in this process for the block, then restore.

    A shell starts background jobs with SIGINT ignored, and Python then installs no
    handler of its own (nor does ``asyncio.run``): a test that sends itself SIGINT would
    see it dropped and wait forever. Must be entered from the main thread.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def invoke(*argv: str) -> CliResult:
    """Run ``comfycine ARGV`` in this process and capture stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(list(argv))
    return CliResult(code, out.getvalue(), err.getvalue())


@dataclass
class Isolation:
    """The temporary folders an isolated test writes to."""

    root: Path
    output_dir: Path
    data_dir: Path
    workflow_dir: Path


@pytest.fixture
def isolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Isolation:
    """Clear every comfycine variable; temp data, output and workflow dirs; no colour."""
    for names in ENV_NAMES.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    for name in target_auth_variables(dict(os.environ)):
        monkeypatch.delenv(name)
    monkeypatch.delenv(ENV_DOTENV, raising=False)
    monkeypatch.delenv(ENV_CLAUDE_CONFIG_DIR, raising=False)  # Claude Code's folder: HOME's
    iso = Isolation(tmp_path, tmp_path / "out", tmp_path / "data", tmp_path / "workflows")
    iso.workflow_dir.mkdir()
    monkeypatch.setenv("COMFYCINE_OUTPUT_DIR", str(iso.output_dir))
    monkeypatch.setenv("COMFYCINE_DATA_DIR", str(iso.data_dir))
    monkeypatch.setenv("COMFYCINE_WORKFLOW_DIR", str(iso.workflow_dir))
    monkeypatch.setenv("COMFYCINE_EXCHANGE_DIR", str(tmp_path / "exchange"))
    # Never the real cloud from a test: a closed loopback port unless a test sets a fake.
    monkeypatch.setenv("COMFY_CLOUD_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(tmp_path)
    return iso


def rendered_bytes(path: Path) -> bytes:
    """A file's bytes without the text chunks a PNG carries (the recipe comfycine writes
    in after the download): what must equal the server's file, byte for byte."""
    data = path.read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    kept, offset = [data[:8]], 8
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        end = offset + 12 + length
        if kind not in {b"tEXt", b"iTXt", b"zTXt"}:
            kept.append(data[offset:end])
        offset = end
    return b"".join(kept)


def outputs_under(path: Path) -> list[Path]:
    """The rendered files below ``path``: not the recipe sidecars (``<file>.json``), not
    the ``previews`` folders."""
    return [
        p for p in files_under(path) if not p.name.endswith(".json") and p.parent.name != "previews"
    ]


def files_under(path: Path) -> list[Path]:
    """Every file below ``path`` (empty if it does not exist)."""
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def ledger_rows(isolation: Isolation) -> list[Any]:
    """Every job in the isolated ledger (empty before the first write)."""
    from comfycine.ledger import Ledger

    path = isolation.data_dir / "ledger.sqlite3"
    if not path.exists():
        return []
    with Ledger.open(path) as ledger:
        return ledger.recent(1000)


def kill_midway(command: list[str], isolation: Isolation, limit: float = 60.0) -> None:
    """Run ``command`` and SIGKILL it once a job has succeeded while another is in flight."""
    import signal
    import subprocess
    import time

    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while True:
            statuses = [r.status for r in ledger_rows(isolation)]
            if "succeeded" in statuses and {"queued", "running"} & set(statuses):
                break
            assert process.poll() is None, process.communicate(timeout=60)
            assert time.monotonic() - started < limit, statuses
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)  # also when the wait above failed
        process.wait(timeout=60)


@pytest.fixture
def finished_job(isolation: Isolation) -> str:
    """A job the ledger knows as succeeded, its output on disk."""
    output = isolation.output_dir / "done.png"
    output.parent.mkdir(parents=True)
    output.write_bytes(b"png")
    record = JobRecord(
        id="0f1e2d3c-0000-4000-8000-000000000001",
        client_id="c",
        target="local",
        server_url="http://127.0.0.1:9",
        template="testimage",
        status="succeeded",
        created_at=1.0,
        finished_at=2.0,
        outputs=[str(output)],
    )
    with Ledger.open(isolation.data_dir / "ledger.sqlite3") as ledger:
        ledger.add(record)
    return record.id
