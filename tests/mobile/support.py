"""Shared pieces of the phone-export tests: shipped templates and a structural check."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from comfycine.graph.schema import Catalog
from comfycine.graph.validate import Problem, validate_graph
from comfycine.mobile.common import media_filename
from comfycine.templates import Template, list_templates, load_template, shipped_dir

from ..captures import load
from ..templates.test_cinema import listing_uploads

OBJECT_INFO: dict[str, Any] = load(".", "GET_object_info.json")
SHIPPED = [info.name for info in list_templates([shipped_dir()])]
# Problems a bare CPU server must report for an export: no model files, no custom packs.
EXPECTED_CODES = frozenset({"missing_model", "missing_custom_node"})
UI_FIXTURES = Path(__file__).parent.parent / "graph" / "fixtures" / "convert"


def shipped(name: str) -> Template:
    """A shipped template."""
    return load_template(name, [shipped_dir()])


def catalog() -> Catalog:
    """The captured ``/object_info`` of a real ComfyUI, as a fresh catalog."""
    return Catalog.from_object_info(OBJECT_INFO)


def ui_fixture(name: str) -> dict[str, Any]:
    """A UI-format workflow saved by the ComfyUI frontend (the converter's fixtures)."""
    data: dict[str, Any] = json.loads((UI_FIXTURES / name / "ui.json").read_text())
    return data


def unexpected_problems(
    graph: dict[str, Any], template: Template, packs: Sequence[dict[str, Any]] = ()
) -> list[Problem]:
    """Validator problems beyond missing models and packs, with the export's media
    file names present in the server's input folder (as the user is told to do)."""
    names = [media_filename(template, n) for n, p in template.parameters.items() if p.kind.is_media]
    problems = validate_graph(
        graph,
        Catalog.from_object_info(listing_uploads(OBJECT_INFO, names)),
        declared_models=template.models,
        custom_nodes=[*template.custom_nodes, *packs],
    )
    return [p for p in problems if p.code not in EXPECTED_CODES]
