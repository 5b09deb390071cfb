"""Parity with ComfyUI's own frontend: its recorded answers, and the live one in Chromium.

``tests/fixtures/frontend/cases/`` holds UI workflows built to exercise what the frontend
does when it queues a graph (old widget lists, controls after seeds, upload combos,
dynamic prompts, ``%Node.widget%`` and ``%date:...%``, primitives, subgraphs); the
convert fixtures are converted too. ``tests/fixtures/frontend/<version>/`` holds the
frontend's answers for each (``app.graphToPrompt``'s output and its clock), the widgets
it makes for the classes involved, and those classes' ``/object_info``. The offline
tests compare comfycine's conversion with those answers; the ``real`` + ``browser`` tests
ask the frontend the real ComfyUI serves, in headless Chromium, and compare again:
every case, the widgets of every class on the server, the choices of a dynamic prompt.
Re-record with ``python -m tests.graph.frontend_page`` when the test server's frontend
changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfycine.graph.convert import ui_to_api
from comfycine.graph.schema import Catalog
from comfycine.graph.widgets import UNSET, node_widgets

from ..takes.chromium import Chromium
from .frontend_page import CHROMIUM, FIXTURES, PAGE_TIMEOUT, FrontendPage, all_cases, clock

VERSION = "1.32.9"  # comfyui-frontend-package shipped with the test server (ComfyUI 0.3.75)
RECORDED = FIXTURES / VERSION
CASES = all_cases()
CATALOG = Catalog.from_object_info(json.loads((RECORDED / "object_info.json").read_text()))
DRAWS = 40  # conversions of a two-choice prompt in the browser
browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not on PATH")


def recorded_classes(info: dict[str, Any]) -> list[str]:
    """Classes whose widgets are recorded: the ones the cases use, and every class whose
    widgets are more than one per input (controls, uploads, remote combos, forceInput,
    dynamic prompts, save nodes, the frontend's own widget types)."""
    used: set[str] = set()
    for path in CASES.values():
        ui = json.loads(path.read_text())
        nodes = list(ui["nodes"])
        for sub in (ui.get("definitions") or {}).get("subgraphs", []):
            nodes += sub["nodes"]
        used |= {str(n["type"]) for n in nodes}
    catalog = Catalog.from_object_info(info)
    for name in catalog:
        schema = catalog.get(name)
        assert schema is not None
        widgets = node_widgets(schema)
        extra = any(w.spec is None or w.browser or w.dynamic_prompts for w in widgets)
        forced = any(s.force_input for s in schema.inputs.values())
        if extra or forced or "filename_prefix" in schema.inputs:
            used.add(name)
    return sorted(used & set(info))


def ours_at_their_clock(ui: dict[str, Any], answer: dict[str, Any], catalog: Catalog) -> Any:
    """comfycine's conversion at the frontend's clock: before it converted, else after
    (a minute may turn in between); the API graph of the one that matches, or the first."""
    stamps = (clock(answer["before"]), clock(answer["after"]))
    graphs = [ui_to_api(ui, catalog, seed=0, now=stamp).graph for stamp in stamps]
    return next((g for g in graphs if g == answer["output"]), graphs[0])


def widget_list(catalog: Catalog, name: str) -> list[dict[str, Any]]:
    """comfycine's saved widgets of a class, in the recorded form."""
    schema = catalog.get(name)
    assert schema is not None
    return [
        {"name": w.name} if w.default is UNSET else {"name": w.name, "value": w.default}
        for w in node_widgets(schema)
    ]


def load(path: Path) -> Any:
    """A JSON file."""
    return json.loads(path.read_text())


# --- the recorded answers ---------------------------------------------------------------


def test_every_case_has_a_recorded_answer() -> None:
    """Each case UI workflow has the frontend's answer recorded for this version."""
    assert {p.stem for p in RECORDED.glob("*.json")} >= set(CASES)
    assert {"widget_lists", "dynamic_prompts", "filename_tokens", "subgraph_widgets"} <= set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_conversion_matches_the_recorded_frontend(case: str) -> None:
    """comfycine's API graph is the frontend's, input for input and title for title."""
    answer = load(RECORDED / f"{case}.json")
    assert ours_at_their_clock(load(CASES[case]), answer, CATALOG) == answer["output"]


def test_widgets_match_the_recorded_frontend() -> None:
    """Every recorded class has the frontend's saved widgets: names, order, defaults."""
    recorded = load(RECORDED / "widgets.json")
    assert len(recorded) > 40 and {"KSampler", "LoadImage", "CLIPTextEncode"} <= set(recorded)
    for name, widgets in recorded.items():
        assert widget_list(CATALOG, name) == widgets, name


# --- the live frontend ------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(real_comfyui: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """(the frontend page, the server's catalog, its /object_info): one Chromium for the
    module, bounded. /object_info is asked once before the page loads it: the first
    answer of a fresh server can lack the input subfolder ("3d") that answering makes."""
    assert CHROMIUM is not None
    httpx.get(f"{real_comfyui.url}/object_info", timeout=60).raise_for_status()
    profile = tmp_path_factory.mktemp("frontend") / "profile"
    with Chromium(CHROMIUM, profile, timeout=PAGE_TIMEOUT) as chromium:
        page = FrontendPage(chromium, real_comfyui.url)
        answer = httpx.get(f"{real_comfyui.url}/object_info", timeout=60)
        info = answer.raise_for_status().json()
        yield page, Catalog.from_object_info(info), info


@pytest.mark.real
@pytest.mark.browser
@browser
def test_the_test_server_ships_the_recorded_frontend(live: Any) -> None:
    """The real ComfyUI serves the frontend version the fixtures were recorded from."""
    page, _, _ = live
    assert page.version == VERSION, "re-record: python -m tests.graph.frontend_page"


@pytest.mark.real
@pytest.mark.browser
@browser
@pytest.mark.parametrize("case", sorted(CASES))
def test_conversion_matches_the_live_frontend(live: Any, case: str) -> None:
    """The frontend's own graphToPrompt and comfycine give the same API graph."""
    page, catalog, _ = live
    ui = load(CASES[case])
    answer = page.convert(ui)
    assert ours_at_their_clock(ui, answer, catalog) == answer["output"]


@pytest.mark.real
@pytest.mark.browser
@browser
def test_widgets_of_every_class_match_the_live_frontend(live: Any) -> None:
    """For every class on the server, the frontend's saved widgets are comfycine's."""
    page, catalog, info = live
    names = sorted(info)
    theirs = page.widgets(names)
    assert len(theirs) == len(names)
    wrong = {n: (widget_list(catalog, n), theirs[n]) for n in names}
    assert {n: pair for n, pair in wrong.items() if pair[0] != pair[1]} == {}


@pytest.mark.real
@pytest.mark.browser
@browser
def test_dynamic_prompt_choices_are_the_frontends(live: Any) -> None:
    """A prompt with choices becomes, in the browser, only texts comfycine can draw."""
    page, catalog, _ = live
    ui = load(CASES["dynamic_prompts"])
    ui["nodes"] = [n for n in ui["nodes"] if n["id"] == 1]
    ui["links"] = []
    ui["nodes"][0]["widgets_values"] = ["{a|b|c} and {x|{y|z}} // drawn"]
    expected = {f"{a} and {x} " for a in "abc" for x in "xyz"}
    theirs = {page.convert(ui)["output"]["1"]["inputs"]["text"] for _ in range(DRAWS)}
    ours = {ui_to_api(ui, catalog, seed=s).graph["1"]["inputs"]["text"] for s in range(200)}
    assert ours == expected
    assert theirs <= expected and len(theirs) > 1
