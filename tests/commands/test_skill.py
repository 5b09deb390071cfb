"""The comfycine skill (skills/comfycine/SKILL.md): frontmatter as Claude Code and the Agent
Skills spec take it, CLI lines that parse, and the take loop it teaches."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.commands.test_command_files import cli_lines, parse, to_argv

SKILLS = Path(__file__).resolve().parents[2] / "skills"
SKILL = SKILLS / "comfycine" / "SKILL.md"
# SKILL.md frontmatter fields Claude Code documents (code.claude.com/docs/en/skills,
# "Frontmatter reference").
KNOWN_FIELDS = {
    "name",
    "description",
    "when_to_use",
    "argument-hint",
    "arguments",
    "disable-model-invocation",
    "user-invocable",
    "allowed-tools",
    "disallowed-tools",
    "model",
    "effort",
    "context",
    "agent",
    "background",
    "hooks",
    "paths",
    "shell",
    "metadata",
    "license",
    "compatibility",
}
DESCRIPTION_LIMIT = 1024  # Agent Skills spec; Claude Code's listing cuts at 1,536


def frontmatter(path: Path) -> dict[str, Any]:
    """The YAML between the two leading ``---`` lines."""
    match = re.match(r"---\n(.*?)\n---\n", path.read_text(), re.DOTALL)
    assert match, f"{path}: no frontmatter"
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data


def text() -> str:
    return SKILL.read_text()


@pytest.mark.parametrize("path", sorted(SKILLS.glob("*/SKILL.md")), ids=lambda p: p.parent.name)
def test_frontmatter(path: Path) -> None:
    """name is the folder's (lowercase, hyphens, ≤ 64), description is there and under the
    spec's limit, and every field is one Claude Code knows."""
    fields = frontmatter(path)
    assert set(fields) <= KNOWN_FIELDS, set(fields) - KNOWN_FIELDS
    assert fields["name"] == path.parent.name
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", fields["name"]) and len(fields["name"]) <= 64
    assert 50 < len(fields["description"]) <= DESCRIPTION_LIMIT
    assert "disable-model-invocation" not in fields  # Claude picks it for a request


def test_comfycine_is_preapproved_and_nothing_broader() -> None:
    """Only comfycine runs without a question (Read of the outputs stays the filmmaker's
    permission: their .env with the cloud key is a file too)."""
    assert frontmatter(SKILL)["allowed-tools"] == "Bash(comfycine:*)"


def test_the_description_names_the_requests_it_is_for() -> None:
    """Claude matches requests on the description: takes, the PC, timelines, failures."""
    description = frontmatter(SKILL)["description"].lower()
    for word in ("comfyui", "takes", "render", "timeline", "fail", "pc"):
        assert word in description, word


def test_every_cli_line_parses_against_the_real_cli() -> None:
    """Each `comfycine …` line of the skill is accepted by the real command-line parser."""
    lines = cli_lines(text())
    assert len(lines) >= 15
    for line in lines:
        try:
            parse(to_argv(line, ""))
        except Exception as exc:  # a usage error names the bad line
            pytest.fail(f"{line!r} does not parse: {exc}")


def test_json_is_always_asked_for() -> None:
    """Every command the skill runs asks for --json, and none streams --events."""
    for line in cli_lines(text()):
        assert "--json" in line and "--events" not in line, line


def test_the_take_loop_in_order() -> None:
    """Template → detached takes → waits in slices → contact sheets opened → pick →
    retake → the editor."""
    body = text()
    order = [
        body.index("comfycine workflow list"),
        body.index("--takes 4 --detach"),
        body.index("comfycine wait SWEEP --timeout"),
        body.index("Read"),
        body.index("comfycine take pick"),
        body.index("comfycine retake"),
        body.index("comfycine conform TIMELINE TEMPLATE --dry-run"),
    ]
    assert order == sorted(order)
    assert '"sheet"' in body and "with the Read" in body
    timeouts = [int(t) for t in re.findall(r"wait \w+ --timeout (\d+)", body)]
    assert timeouts and all(t < 600 for t in timeouts)  # under Bash's 10-minute limit


def test_every_exit_code_is_explained() -> None:
    """The table covers each exit code of the contract (README, DESIGN.md)."""
    rows = set(re.findall(r"^\| (\d+) \|", text(), re.MULTILINE))
    assert rows == {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "130"}


def test_spending_and_installing_need_a_yes() -> None:
    """The cloud in every spelling, partner nodes and installs on the PC are asked first."""
    consent = text().split("## Ask first", 1)[1].split("## ", 1)[0]
    for words in ("--target cloud", "@cloud", "--targets", "--allow-spend", "--yes", "Exit 9"):
        assert words in consent, words
    assert "explicit yes" in consent


def test_an_unreachable_pc_leads_to_the_doctor() -> None:
    """Exit 3: never resubmit a job already on the PC; otherwise the doctor's first
    failing rung, relayed; the cloud only as a question."""
    section = text().split("## When ComfyUI cannot be reached (exit 3)", 1)[1]
    assert "comfycine doctor --json" in section
    assert "error.details.job" in section and "submission_unknown" in section
    assert "question" in section
