"""Start-up of the commands an agent calls most: only what each needs is loaded.

An agent calls ``status``, ``wait``, ``generate --detach`` and ``workflow show`` many
times per request, each call a fresh process, so a heavy module imported for nothing
is paid on every call. The import tests run one command in a fresh interpreter and
check which modules it left in ``sys.modules``; the timings live in
``bench/agent_roundtrip.py``. A run builds only the command it names (or, for a help
that lists commands, those without their parameters): what it prints must not change.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from comfycine.cli import app as cli_app
from tests.cli_support import Isolation, invoke
from tests.fakecomfy.server import FakeComfy

# Runs the CLI as the console script does, then writes the modules it imported.
RUN = """\
import json, sys
from comfycine.cli.main import run
code = run(sys.argv[2:])
with open(sys.argv[1], "w") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""

# Never on these paths: settings validation (pydantic), terminal output (rich, stderr
# is a pipe here), media, the notification senders (no channel is configured), the
# diagnosis (nothing failed), cost estimates (no cloud target).
NEVER = {
    "pydantic",
    "rich",
    "PIL",
    "av",
    "comfycine.settingsmodel",
    "comfycine.notify.notifier",
    "comfycine.notify.telegram",
    "comfycine.diagnose",
    "comfycine.cloudcost",
    "comfycine.takes",
}
# Not when nothing is sent: the ledger or a template file answers.
NO_NETWORK = {
    "asyncio",
    "httpx",
    "websockets",
    "comfycine.transport",
    "comfycine.jobs",
    "comfycine.graph",
}
# Not for a detached submission: nothing is followed or downloaded.
NO_FOLLOWING = {
    "websockets",
    "comfycine.transport.events",
    "comfycine.transport.eventstream",
    "comfycine.transport.updates",
    "comfycine.collecting",
}
# Not for the hot commands' plain lines: the fast path parses them (cli/fastpath).
NO_TYPER = {"typer", "click"}
TIMEOUT = 120


def modules_after(tmp_path: Path, *argv: str) -> set[str]:
    """Top-level packages and comfycine modules imported by ``comfycine ARGV``."""
    written = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(written), *argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        check=False,
    )
    assert written.is_file(), done.stderr
    result = json.loads(written.read_text())
    assert result["code"] == 0, done.stdout + done.stderr
    names: set[str] = set()
    for name in result["modules"]:
        names.add(name.split(".")[0])
        if name.startswith("comfycine."):
            parts = name.split(".")
            names.update(".".join(parts[:n]) for n in range(2, len(parts) + 1))
    return names


def test_status_of_a_finished_job_reads_only_the_ledger(tmp_path: Path, finished_job: str) -> None:
    """status --json JOB loads neither Typer, the transport, asyncio, pydantic nor rich."""
    found = modules_after(tmp_path, "status", "--json", finished_job)
    assert "comfycine.ledger" in found
    assert not found & (NEVER | NO_NETWORK | NO_TYPER)


def test_wait_on_a_finished_job_reads_only_the_ledger(tmp_path: Path, finished_job: str) -> None:
    """wait JOB --json on a finished job loads neither the transport nor asyncio."""
    found = modules_after(tmp_path, "wait", finished_job, "--json")
    assert "comfycine.ledger" in found
    assert not found & (NEVER | NO_NETWORK | NO_TYPER)


def test_workflow_show_reads_only_the_template(tmp_path: Path, isolation: Isolation) -> None:
    """workflow show --json loads no settings model, transport or graph validation."""
    found = modules_after(tmp_path, "workflow", "show", "testpattern", "--json")
    assert "comfycine.templates" in found
    assert not found & (NEVER | NO_NETWORK | NO_TYPER | {"comfycine.settings", "comfycine.ledger"})


def test_help_loads_no_library(tmp_path: Path, isolation: Isolation) -> None:
    """--help loads the command modules only: no settings, templates or ledger."""
    found = modules_after(tmp_path, "--help")
    library = {"comfycine.settings", "comfycine.templates", "comfycine.ledger"}
    assert not found & (NEVER | NO_NETWORK | library)


def test_detached_generate_loads_nothing_to_follow_a_job(
    tmp_path: Path, isolation: Isolation, fake_comfy: FakeComfy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """generate --detach (node list snapshot warm) loads no socket, events or downloads."""
    monkeypatch.setenv("COMFYUI_URL", fake_comfy.url)
    modules_after(tmp_path, "generate", "testimage", "--detach", "--json")  # the snapshot
    found = modules_after(tmp_path, "generate", "testimage", "--detach", "--json")
    assert {"httpx", "comfycine.jobs", "comfycine.graph"} <= found
    assert not found & (NEVER | NO_FOLLOWING | NO_TYPER)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["-h"],
        ["workflow"],
        ["workflow", "--help"],
        ["server", "-h"],
        ["resolve", "--help"],
        ["status", "--help"],
        ["generate", "--help"],
        ["workflow", "show", "--help"],
        ["workflow", "show", "testpattern", "--json"],
        ["status", "--frobnicate", "--json"],
        ["status", "a", "b"],
        ["statsu"],
        ["workflow", "shwo"],
        ["version", "--json"],
        ["take", "--help"],
    ],
)
def test_a_narrowed_build_prints_what_the_whole_app_prints(
    argv: list[str], isolation: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Output and exit code are those of the app built whole, help and errors included."""
    narrowed = invoke(*argv)
    build = cli_app.build_app
    monkeypatch.setattr(cli_app, "build_app", lambda *names, listing=False: build())
    whole = invoke(*argv)
    assert (narrowed.exit_code, narrowed.stdout, narrowed.stderr) == (
        whole.exit_code,
        whole.stdout,
        whole.stderr,
    ), f"narrowed:\n{narrowed}\nwhole:\n{whole}"
