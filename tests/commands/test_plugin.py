"""The repository as a Claude Code plugin marketplace: manifests valid against the
documented schema, sources that exist, versions equal to the package's."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import comfycine

ROOT = Path(__file__).resolve().parents[2]  # the marketplace root: it holds .claude-plugin/
SCHEMA = json.loads((Path(__file__).parent / "claude-code-plugin.schema.json").read_text())
MARKETPLACE = ROOT / ".claude-plugin" / "marketplace.json"
# What Claude Code would load from a plugin root besides commands/ and skills/
# (plugins-reference, "File locations reference"): none may appear in this repository.
OTHER_COMPONENTS = (
    "agents",
    "hooks",
    "bin",
    "output-styles",
    "themes",
    "monitors",
    "settings.json",
    ".mcp.json",
    ".lsp.json",
    "SKILL.md",
)


def validator(kind: str) -> jsonschema.Draft202012Validator:
    """A validator for ``#/$defs/<kind>`` of the schema written from the docs."""
    schema = {**SCHEMA, "$ref": f"#/$defs/{kind}"}
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(kind: str, document: Any) -> list[str]:
    """Every schema error, as ``path: message``."""
    found = validator(kind).iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}" for e in found]


def marketplace() -> dict[str, Any]:
    return dict(json.loads(MARKETPLACE.read_text()))


def local_plugins() -> list[tuple[dict[str, Any], Path]]:
    """Each entry whose source is a path, with the folder it resolves to."""
    return [
        (entry, (ROOT / entry["source"]).resolve())
        for entry in marketplace()["plugins"]
        if isinstance(entry["source"], str)
    ]


def test_the_marketplace_file_is_valid() -> None:
    """.claude-plugin/marketplace.json fits the documented marketplace schema."""
    assert errors("marketplace", marketplace()) == []


def test_each_plugin_manifest_is_valid() -> None:
    """Each local plugin's .claude-plugin/plugin.json fits the documented manifest schema."""
    for _, folder in local_plugins():
        manifest = json.loads((folder / ".claude-plugin" / "plugin.json").read_text())
        assert errors("plugin", manifest) == [], folder


def test_the_comfycine_plugin_is_the_repository_root() -> None:
    """The comfycine entry's source is ./: commands/ and skills/ stay where they are."""
    entries = {entry["name"]: folder for entry, folder in local_plugins()}
    assert entries == {"comfycine": ROOT}
    assert sorted(p.name for p in (ROOT / "commands").glob("*.md"))
    assert (ROOT / "skills" / "comfycine" / "SKILL.md").is_file()


def test_sources_exist_inside_the_marketplace_and_name_their_plugin() -> None:
    """A relative source resolves to a folder inside the marketplace root whose plugin.json
    carries the entry's name."""
    for entry, folder in local_plugins():
        assert folder == ROOT or ROOT in folder.parents, entry["source"]
        manifest = json.loads((folder / ".claude-plugin" / "plugin.json").read_text())
        assert manifest["name"] == entry["name"]


def _versions(document: Any) -> list[str]:
    if isinstance(document, dict):
        found = [v for k, v in document.items() if k == "version" and isinstance(v, str)]
        return found + [v for value in document.values() for v in _versions(value)]
    if isinstance(document, list):
        return [v for value in document for v in _versions(value)]
    return []


def test_every_manifest_version_is_the_package_version() -> None:
    """Each "version" in the manifests equals the package's (Claude Code updates a plugin
    only when it changes; claude plugin validate warns when entry and plugin.json differ)."""
    package = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert comfycine.__version__ == package
    documents = [marketplace()] + [
        json.loads((folder / ".claude-plugin" / "plugin.json").read_text())
        for _, folder in local_plugins()
    ]
    versions = [v for document in documents for v in _versions(document)]
    assert len(versions) >= 2 and set(versions) == {package}


def test_the_repository_root_loads_nothing_else_into_claude_code() -> None:
    """No other component folder sits at the plugin root, and workflows/ (ComfyUI
    templates) holds no .js file Claude Code would take for one of its workflow scripts."""
    assert [name for name in OTHER_COMPONENTS if (ROOT / name).exists()] == []
    assert list((ROOT / "workflows").glob("**/*.js")) == []


def test_the_wheel_ships_the_commands_and_the_skill() -> None:
    """pyproject bundles commands/ and skills/ into the package, where install-commands
    finds them once installed from a wheel."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["commands"] == "comfycine/_commands"
    assert included["skills"] == "comfycine/_skills"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda m: m.pop("owner"), "'owner' is a required property"),
        (lambda m: m.update(name="Comfy Cine"), "does not match"),
        (lambda m: m.update(name="claude-plugins-official"), "should not be valid"),
        (lambda m: m["plugins"][0].update(source="plugins/comfycine"), "is not valid"),
        (lambda m: m["plugins"][0].update(source="./../elsewhere"), "is not valid"),
        (lambda m: m["plugins"][0].update(version=1), "is not of type"),
        (lambda m: m["plugins"][0].update(keyword=["typo"]), "Unevaluated properties"),
        (lambda m: m["plugins"][0].pop("source"), "'source' is a required property"),
    ],
    ids=["owner", "kebab", "reserved", "no-dot-slash", "dot-dot", "type", "typo", "source"],
)
def test_the_schema_refuses_what_the_docs_refuse(change: Any, complaint: str) -> None:
    """A broken marketplace file fails the schema (the test can fail)."""
    broken = copy.deepcopy(marketplace())
    change(broken)
    assert any(complaint in e for e in errors("marketplace", broken)), errors("marketplace", broken)


def test_the_schema_refuses_a_bad_plugin_manifest() -> None:
    """A component path outside the ./ form, or a name with capitals, fails (can fail)."""
    assert errors("plugin", {"name": "comfycine", "commands": "./commands/"}) == []
    assert errors("plugin", {"name": "comfycine", "commands": "commands/"})
    assert errors("plugin", {"name": "ComfyCine"})
    assert errors("plugin", {"version": "0.1.0"})
