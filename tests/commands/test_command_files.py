"""The Claude Code slash commands in commands/: frontmatter, rules, and CLI lines that parse."""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from comfycine.cli.app import build_app

COMMANDS = Path(__file__).resolve().parents[2] / "commands"
EXPECTED = {
    "comfy-generate.md",
    "comfy-workflow.md",
    "comfy-debug.md",
    "comfy-batch.md",
    "comfy-doctor.md",
    "comfy-status.md",
    "comfy-conform.md",
}
# What the filmmaker might type after each slash command, to stand in for $ARGUMENTS.
SAMPLE_ARGUMENTS = {
    "comfy-generate.md": "@cloud wan22-t2v a rainy street at night --set frames=81",
    "comfy-workflow.md": "a night street shot",
    "comfy-debug.md": "last",
    "comfy-batch.md": "plates/scene12 upscale-video --set scale=2",
    "comfy-doctor.md": "--deep",
    "comfy-status.md": "last",
    "comfy-conform.md": "cut.fcpxml upscale-video --marker VFX --deliver prores",
}
# Words the files use as stand-ins for values the agent fills in.
PLACEHOLDERS = {
    "JOB": "0123abcd",
    "NAME": "wan22-t2v",
    "FILE.json": "flow.json",
    "TEMPLATE": "upscale-video",
    "SWEEP": "5ee9c0de",
    "SWEEP:N": "5ee9c0de:2",
    "TIMELINE": "cut.fcpxml",
}
FILES = sorted(COMMANDS.glob("*.md"))


def frontmatter(text: str) -> dict[str, str]:
    """The ``key: value`` lines between the two leading ``---``."""
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "no frontmatter"
    fields = {}
    for line in match.group(1).splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip().strip('"')
    return fields


def cli_lines(text: str) -> list[str]:
    """Every ``comfycine …`` command line: in code blocks, ``!`…``` injections and inline code."""
    lines = [
        line.strip()
        for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", text, re.DOTALL)
        for line in block.splitlines()
        if line.strip().startswith("comfycine ")
    ]
    lines += re.findall(r"`!?`?(comfycine [^`]+)`", text)
    return lines


def to_argv(line: str, sample: str) -> list[str]:
    """The argv the line stands for, cut at shell redirections, placeholders filled."""
    words = shlex.split(line.replace("$ARGUMENTS", sample))[1:]
    for stop in ("<<", "|", ">", "&&", ";"):
        words = [
            w for w in words[: next((i for i, w in enumerate(words) if w.startswith(stop)), None)]
        ]
    return [PLACEHOLDERS.get(word, word) for word in words]


@functools.cache
def cli() -> Any:
    """The real CLI's click command, built once (building it takes a while)."""
    return typer.main.get_command(build_app())


def parse(argv: list[str]) -> Any:
    """Parse argv against the real CLI exactly as a run would, without running anything."""
    ctx = cli().make_context("comfycine", list(argv))
    while hasattr(ctx.command, "resolve_command"):
        rest = [*getattr(ctx, "_protected_args", ()), *ctx.args]
        if not rest:  # a group run on its own (watch --once)
            break
        name, sub, rest = ctx.command.resolve_command(ctx, rest)
        ctx = sub.make_context(name, rest, parent=ctx)
    return ctx


def test_the_spec_commands_are_all_there() -> None:
    """The six commands named in the spec and the issue exist."""
    assert {f.name for f in FILES} == EXPECTED


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_frontmatter(path: Path) -> None:
    """Each file has a description, an argument hint and Bash(comfycine:*) pre-approved."""
    fields = frontmatter(path.read_text())
    assert len(fields["description"]) > 20
    assert fields["argument-hint"]
    assert fields["allowed-tools"] == "Bash(comfycine:*)"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_arguments_are_passed_whole(path: Path) -> None:
    """The user's words go in as $ARGUMENTS; no positional $0/$1 (their meaning changed)."""
    text = path.read_text()
    assert "$ARGUMENTS" in text
    assert not re.search(r"\$(\d|ARGUMENTS\[)", text)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_cli_line_parses_against_the_real_cli(path: Path) -> None:
    """Each `comfycine …` line in the file is accepted by the real command-line parser."""
    text = path.read_text()
    lines = cli_lines(text)
    assert lines, "no comfycine command in the file"
    for line in lines:
        argv = to_argv(line, SAMPLE_ARGUMENTS[path.name])
        try:
            parse(argv)
        except Exception as exc:  # a usage error names the bad line
            pytest.fail(f"{path.name}: {line!r} does not parse: {exc}")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_json_is_always_asked_for(path: Path) -> None:
    """Every command the agent runs asks for --json (it reads the envelope back)."""
    for line in cli_lines(path.read_text()):
        assert "--json" in line, f"{path.name}: {line!r}"


def test_cloud_needs_consent() -> None:
    """The commands that can reach the cloud tell the agent to ask first."""
    names = ("comfy-generate.md", "comfy-batch.md", "comfy-debug.md", "comfy-workflow.md")
    for name in (*names, "comfy-conform.md"):
        text = (COMMANDS / name).read_text().lower()
        assert "ask" in text and "cloud" in text, name


def test_generate_covers_every_exit_code() -> None:
    """comfy-generate says what to do for each exit code of the contract."""
    text = (COMMANDS / "comfy-generate.md").read_text()
    for code in ("| 2 |", "| 3 |", "| 4 |", "| 5 |", "| 6 |", "| 7 |", "| 8 |", "| 130 |"):
        assert code in text


def test_long_renders_are_detached_and_waited_within_the_bash_limit() -> None:
    """generate is detached, then waited on with a timeout under 600 s."""
    text = (COMMANDS / "comfy-generate.md").read_text()
    assert "--detach" in text
    timeouts = [int(t) for t in re.findall(r"wait JOB --timeout (\d+)", text)]
    assert timeouts and all(t < 600 for t in timeouts)


def test_workflow_teaches_the_comfyscript_path() -> None:
    """comfy-workflow: discover nodes and models, write the script, validate, run."""
    text = (COMMANDS / "comfy-workflow.md").read_text()
    order = [
        text.index("workflow nodes"),
        text.index("workflow models"),
        text.index("with Workflow():"),
        text.index("workflow validate"),
        text.index("workflow run"),
    ]
    assert order == sorted(order)


def test_a_bad_line_would_be_caught() -> None:
    """The parser check fails on a flag the CLI does not have (the test can fail)."""
    with pytest.raises(Exception, match="no-such-flag"):
        parse(["generate", "testimage", "--no-such-flag"])
