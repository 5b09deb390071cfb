"""The command surface: help, version, python -m, and --json everywhere."""

from __future__ import annotations

import subprocess
import sys

import typer

from comfycine import __version__
from comfycine.cli.app import build_app
from tests.cli_support import Isolation, invoke


def all_commands() -> list[tuple[str, typer.models.CommandInfo | None]]:
    """Every leaf command as (path, click command)."""
    group = typer.main.get_command(build_app())
    found = []

    def walk(prefix: str, command: object) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append((prefix, command))

    walk("", group)
    return found  # type: ignore[return-value]


def test_every_command_takes_json() -> None:
    """Every command accepts --json (the contract the slash commands rely on)."""
    for path, command in all_commands():
        options = {opt for param in command.params for opt in param.opts}  # type: ignore[union-attr]
        assert "--json" in options, path


def test_help_lists_the_commands(isolation: Isolation) -> None:
    """--help exits 0 and names the main commands."""
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("generate", "wait", "status", "cancel", "workflow", "server"):
        assert name in result.stdout


def test_version_json(isolation: Isolation) -> None:
    """version --json gives the package version in the envelope."""
    assert invoke("version", "--json").envelope()["data"] == {"version": __version__}


def test_python_dash_m(isolation: Isolation) -> None:
    """python -m comfycine runs the same program."""
    done = subprocess.run(
        [sys.executable, "-m", "comfycine", "version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == __version__


def test_unknown_option_is_usage_error(isolation: Isolation) -> None:
    """A bad flag is exit 2 with the envelope and a hint to the command's help."""
    result = invoke("status", "--frobnicate", "--json")
    assert result.exit_code == 2
    error = result.envelope()["error"]
    assert error["code"] == "usage_error" and "status --help" in error["hint"]


def test_workflow_list_shows_shipped_templates(isolation: Isolation) -> None:
    """workflow list --json includes the model-free templates with their parameters."""
    templates = {
        t["name"]: t for t in invoke("workflow", "list", "--json").envelope()["data"]["templates"]
    }
    assert {"testpattern", "testimage", "testblur"} <= set(templates)
    assert "input" in templates["testblur"]["parameters"]


def test_workflow_show(isolation: Isolation) -> None:
    """workflow show lists typed parameters with defaults and bounds."""
    data = invoke("workflow", "show", "testpattern", "--json").envelope()["data"]
    width = next(p for p in data["parameters"] if p["name"] == "width")
    assert width["kind"] == "int" and width["default"] == 256
    assert any(n["class_type"] == "SaveVideo" for n in data["nodes"])


def test_workflow_list_reports_broken_templates(isolation: Isolation) -> None:
    """A broken template in the user's folder is listed with its reason, not fatal."""
    (isolation.workflow_dir / "half.json").write_text("{")
    result = invoke("workflow", "list")
    assert result.exit_code == 0, result
    line = next(line for line in result.stdout.splitlines() if line.startswith("half"))
    assert "cannot be used" in line and "testpattern" in result.stdout
