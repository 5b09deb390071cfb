"""Partner (paid API) nodes found in graphs, and the prices servers declare for them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from comfycine.graph.catalog_source import load_quick_catalog, save_snapshot
from comfycine.graph.partner import PartnerNode, partner_nodes, server_price, unknown_classes
from comfycine.graph.schema import Catalog
from tests.captures import CAPTURES

OBJECT_INFO: dict[str, Any] = json.loads((CAPTURES / "GET_object_info.json").read_text())
GRAPH = {
    "10": {"class_type": "KlingTextToVideoNode", "inputs": {"prompt": "a boat"}},
    "2": {"class_type": "OpenAIDalle3", "inputs": {"prompt": "a boat"}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
}


def badge(expr: str, widgets: list[Any] | None = None) -> dict[str, Any]:
    """A ``price_badge`` in the shape newer servers send (ComfyUI PR #11582)."""
    depends = {"widgets": widgets or [], "inputs": [], "input_groups": []}
    return {"engine": "jsonata", "depends_on": depends, "expr": expr}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The catalog of the captured real server (100 partner classes, no prices)."""
    return Catalog.from_object_info(OBJECT_INFO)


def test_partner_nodes_of_a_real_catalog_in_node_order(catalog: Catalog) -> None:
    """OpenAIDalle3 and a Kling node are found (by node id order), SaveImage is not."""
    found = partner_nodes(GRAPH, catalog)
    assert [(n.node, n.class_type) for n in found] == [
        ("2", "OpenAIDalle3"),
        ("10", "KlingTextToVideoNode"),
    ]
    assert found[0].to_dict() == {
        "node": "2",
        "class_type": "OpenAIDalle3",
        "display_name": "OpenAI DALL·E 3",
        "price": None,  # 0.3.75 declares no price: none is made up
    }


def test_a_graph_of_core_nodes_has_none(catalog: Catalog) -> None:
    """Core classes (api_node false or absent) and unknown classes are never partner nodes."""
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {}},
        "2": {"class_type": "NoSuchNode", "inputs": {}},
        "3": "not a node",
    }
    assert partner_nodes(graph, catalog) == []


def test_the_flag_survives_the_snapshot_cache(tmp_path: Path) -> None:
    """Saved as the snapshot and read back class by class, api_node still marks them."""
    save_snapshot(tmp_path, "http://pc:8188", OBJECT_INFO, {})
    quick = load_quick_catalog(tmp_path, "http://pc:8188")
    assert quick is not None
    assert [n.class_type for n in partner_nodes(GRAPH, quick.catalog)] == [
        "OpenAIDalle3",
        "KlingTextToVideoNode",
    ]


def test_the_first_catalog_that_knows_a_class_decides() -> None:
    """With several node lists, a class is judged by the first one that has it."""
    paid = {"OpenAIDalle3": {**OBJECT_INFO["OpenAIDalle3"]}}
    free = {"OpenAIDalle3": {**OBJECT_INFO["OpenAIDalle3"], "api_node": False}}
    first, second = Catalog.from_object_info(free), Catalog.from_object_info(paid)
    assert partner_nodes(GRAPH, first, second) == []
    assert [n.node for n in partner_nodes(GRAPH, Catalog(), second)] == ["2"]
    assert unknown_classes(GRAPH, [first]) == {"KlingTextToVideoNode", "SaveImage"}


def test_a_declared_price_is_attached() -> None:
    """A class with a fixed price_badge carries that price into the partner node."""
    info = copy.deepcopy(OBJECT_INFO)
    info["OpenAIDalle3"]["price_badge"] = badge('{"type":"usd","usd":0.08}')
    found = partner_nodes(GRAPH, Catalog.from_object_info(info))
    assert found[0].price == {"usd": 0.08, "approximate": False, "text": "$0.08/Run"}
    assert found[0].describe() == "OpenAI DALL·E 3 (node 2, $0.08/Run)"
    assert found[1].price is None


@pytest.mark.parametrize(
    ("expr", "price"),
    [
        (
            '{"type":"usd","usd":0.19019,"format":{"approximate":true,"suffix":"/second"}}',
            {"usd": 0.19019, "approximate": True, "text": "~$0.1902/second"},
        ),
        (
            '{"type":"range_usd","min_usd":0.14,"max_usd":2.8}',
            {"min_usd": 0.14, "max_usd": 2.8, "approximate": False, "text": "$0.14-$2.80/Run"},
        ),
        (
            '{"type":"list_usd","usd":[0.5,1],"format":{"note":"by duration"}}',
            {
                "usd_list": [0.5, 1.0],
                "approximate": False,
                "text": "$0.50/$1.00/Run (by duration)",
            },
        ),
        ('{"type":"text","text":"Token-based"}', {"text": "Token-based", "approximate": False}),
        (
            '{"type":"usd","usd":0.0035}',
            {"usd": 0.0035, "approximate": False, "text": "$0.0035/Run"},
        ),
    ],
)
def test_fixed_price_expressions_are_read(expr: str, price: dict[str, Any]) -> None:
    """A JSON-literal expression is the price, formatted as the server's badge says."""
    assert server_price(badge(expr)) == price


def test_a_computed_price_is_passed_on_with_what_it_depends_on() -> None:
    """An expression over widgets is not evaluated here: its inputs and text are given."""
    expr = '{"type":"usd","usd": 0.033 * widgets.number_of_images}'
    price = server_price(badge(expr, [{"name": "number_of_images", "type": "INT"}]))
    assert price == {
        "depends_on": ["number_of_images"],
        "expression": expr,
        "text": "price depends on number_of_images",
    }
    # The Python side declares widget names as plain strings.
    assert server_price(badge("(widgets.n)", ["n"]))["depends_on"] == ["n"]  # type: ignore[index]


@pytest.mark.parametrize(
    "expr",
    ['{"type":"usd","usd":-1}', '{"type":"usd","usd":true}', '{"type":"euro","eur":1}', "[1]"],
)
def test_a_price_comfycine_cannot_read_is_never_guessed(expr: str) -> None:
    """Odd amounts or unknown result types are passed on as the server's formula."""
    price = server_price(badge(expr))
    assert price is not None and price["expression"] == expr and "usd" not in price


def test_no_expression_no_price() -> None:
    """A badge without an expression gives no price at all."""
    assert server_price({"engine": "jsonata"}) is None
    assert server_price(badge("  ")) is None


def test_describe_without_price() -> None:
    """The message names the node by its display name, or its class when it has none."""
    assert PartnerNode("4", "VeoVideoGenerationNode", "").describe() == (
        "VeoVideoGenerationNode (node 4)"
    )
