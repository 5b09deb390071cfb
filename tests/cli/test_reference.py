"""docs/cli.md is the CLI's own --help, regenerated: it cannot drift."""

from __future__ import annotations

from pathlib import Path

from comfycine.cli.reference import render_cli_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_up_to_date() -> None:
    """The committed docs/cli.md equals a fresh rendering (else: python scripts/gen-cli-docs.py)."""
    assert DOC.read_text(encoding="utf-8") == render_cli_reference(), (
        "docs/cli.md is out of date: run python scripts/gen-cli-docs.py"
    )


def test_reference_covers_every_command() -> None:
    """Each command of DESIGN.md's surface has a section."""
    text = render_cli_reference()
    for command in (
        "generate",
        "wait",
        "status",
        "cancel",
        "debug",
        "doctor",
        "batch",
        "notify",
        "workflow validate",
        "install-commands",
        "mobile tg-export",
        "server up",
    ):
        assert f"## comfycine {command}\n" in text, command
