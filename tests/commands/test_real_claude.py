"""The plugin as the real Claude Code CLI sees it: validated, added, installed, reported.

Runs the real ``claude`` (tests/real_claude.py, from the npm registry) in a fresh home
folder: the two commands of the README, then what ``doctor`` and ``install-commands``
say about what Claude Code installed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import comfycine
from comfycine.claudesetup import find_setup
from tests.commands.test_plugin import ROOT
from tests.real_claude import ClaudeCode

COMMANDS = sorted(p.stem for p in (ROOT / "commands").glob("*.md"))


def test_claude_code_validates_both_manifests_strictly(claude_code: ClaudeCode) -> None:
    """claude plugin validate --strict: the marketplace and the plugin pass, warnings included."""
    for path in (ROOT, ROOT / ".claude-plugin" / "plugin.json"):
        done = claude_code("plugin", "validate", "--strict", str(path))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Validation passed" in done.stdout


def test_the_readme_commands_install_the_plugin(claude_code: ClaudeCode) -> None:
    """marketplace add (a checkout's folder), install comfycine@comfycine: commands and skill."""
    added = claude_code("plugin", "marketplace", "add", str(ROOT))
    assert added.returncode == 0, added.stdout + added.stderr
    installed = claude_code("plugin", "install", "comfycine@comfycine")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = claude_code("plugin", "list")
    assert "comfycine@comfycine" in listed.stdout
    assert f"Version: {comfycine.__version__}" in listed.stdout
    details = claude_code("plugin", "details", "comfycine@comfycine")
    inventory = next(line for line in details.stdout.splitlines() if "Skills (" in line)
    assert all(name in inventory for name in [*COMMANDS, "comfycine"]), inventory


def test_doctor_reads_what_claude_code_installed(claude_code: ClaudeCode, tmp_path: Path) -> None:
    """One plugin is fine; a copy beside it, or a second marketplace's, is reported."""
    assert claude_code("plugin", "marketplace", "add", str(ROOT)).returncode == 0
    assert claude_code("plugin", "install", "comfycine@comfycine").returncode == 0
    setup = find_setup(home=claude_code.home, cwd=claude_code.home, env={})
    assert [p["id"] for p in setup.to_dict()["plugins"]] == ["comfycine@comfycine"]
    assert setup.problems == []

    studio = tmp_path / "studio"
    shutil.copytree(ROOT / "commands", studio / "comfycine" / "commands")
    shutil.copytree(ROOT / "skills", studio / "comfycine" / "skills")
    shutil.copytree(ROOT / ".claude-plugin", studio / "comfycine" / ".claude-plugin")
    (studio / "comfycine" / ".claude-plugin" / "marketplace.json").unlink()
    manifest = {
        "name": "studio",
        "owner": {"name": "A studio"},
        "plugins": [{"name": "comfycine", "source": "./comfycine"}],
    }
    (studio / ".claude-plugin").mkdir()
    (studio / ".claude-plugin" / "marketplace.json").write_text(json.dumps(manifest))
    assert claude_code("plugin", "marketplace", "add", str(studio)).returncode == 0
    done = claude_code("plugin", "install", "comfycine@studio")
    assert done.returncode == 0, done.stdout + done.stderr
    twice = find_setup(home=claude_code.home, cwd=claude_code.home, env={})
    assert [p["code"] for p in twice.problems] == ["plugin_installed_twice"]
    assert "claude plugin uninstall comfycine@" in twice.problems[0]["fix"]
