"""Partner nodes in a graph: the paid API nodes that bill the user's Comfy account.

ComfyUI marks them in ``/object_info`` with ``"api_node": true`` (Kling, Veo, Seedance,
OpenAI…: ``comfy_api_nodes``, category ``api node/…``). They spend money when they run,
on the PC as on Comfy Cloud. Newer servers also declare a price per class, which is the
only price comfycine ever shows (it never makes one up).

The price declaration (ComfyUI PR #11582, ``comfy_api/latest/_io.py`` ``PriceBadge``;
read by the frontend's ``src/schemas/nodeDefSchema.ts`` ``zPriceBadge``) is
``"price_badge": {"engine": "jsonata", "depends_on": {"widgets": [{"name", "type"}],
"inputs": [...], "input_groups": [...]}, "expr": "<JSONata>"}``; the expression gives
``{"type": "usd", "usd": N}``, ``{"type": "range_usd", "min_usd", "max_usd"}``,
``{"type": "list_usd", "usd": [...]}`` or ``{"type": "text", "text"}``, with an optional
``"format": {"approximate", "suffix", "note"}``. A fixed expression (a JSON literal) is
read as the price; one that computes from the node's widgets is passed on as it is,
with the widgets it depends on, rather than evaluated by a second JSONata engine here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .schema import Catalog

DEFAULT_SUFFIX = "/Run"


@dataclass(frozen=True)
class PartnerNode:
    """One partner node of a graph, with the server's price when it declares one."""

    node: str
    class_type: str
    display_name: str
    price: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"node", "class_type", "display_name", "price"}``."""
        return {
            "node": self.node,
            "class_type": self.class_type,
            "display_name": self.display_name,
            "price": self.price,
        }

    def describe(self) -> str:
        """``OpenAI DALL·E 3 (node 2, ~$0.04/Run)`` for messages."""
        price = (self.price or {}).get("text")
        name = self.display_name or self.class_type
        return f"{name} (node {self.node}, {price})" if price else f"{name} (node {self.node})"


def graph_classes(graph: Mapping[str, Any]) -> set[str]:
    """Every ``class_type`` of an API-format graph."""
    return {
        str(node["class_type"])
        for node in graph.values()
        if isinstance(node, Mapping) and isinstance(node.get("class_type"), str)
    }


def _node_order(node_id: str) -> tuple[int, int | str]:
    return (0, int(node_id)) if node_id.isdigit() else (1, node_id)


def partner_nodes(graph: Mapping[str, Any], *catalogs: Catalog) -> list[PartnerNode]:
    """The graph's nodes whose class is marked as an API node, in node-id order.

    With several catalogs, the first that knows a class describes it.
    """
    found: list[PartnerNode] = []
    for node_id in sorted(graph, key=lambda n: _node_order(str(n))):
        node = graph[node_id]
        class_type = node.get("class_type") if isinstance(node, Mapping) else None
        if not isinstance(class_type, str):
            continue
        schema = next((c.get(class_type) for c in catalogs if class_type in c), None)
        if schema is None or not schema.api_node:
            continue
        price = server_price(schema.price_badge) if schema.price_badge else None
        found.append(PartnerNode(str(node_id), schema.name, schema.display_name, price))
    return found


def _usd(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _money(value: float) -> str:
    # Cents always; fractions of a cent too (0.0035 a picture), up to four places.
    whole, _, cents = f"{value:.4f}".partition(".")
    return f"${whole}.{cents.rstrip('0').ljust(2, '0')}"


def _fixed_price(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """A PricingResult as comfycine's price, or None when it is not one it knows."""
    kind = result.get("type")
    raw_format = result.get("format")
    fmt: Mapping[str, Any] = raw_format if isinstance(raw_format, Mapping) else {}
    approximate = fmt.get("approximate") is True
    suffix = str(fmt.get("suffix")) if isinstance(fmt.get("suffix"), str) else DEFAULT_SUFFIX
    price: dict[str, Any]
    if kind == "text" and isinstance(result.get("text"), str):
        return {"text": result["text"], "approximate": approximate}
    if kind == "usd" and (usd := _usd(result.get("usd"))) is not None:
        price, amount = {"usd": usd}, _money(usd)
    elif kind == "range_usd":
        low, high = _usd(result.get("min_usd")), _usd(result.get("max_usd"))
        if low is None or high is None:
            return None
        price, amount = {"min_usd": low, "max_usd": high}, f"{_money(low)}-{_money(high)}"
    elif kind == "list_usd" and isinstance(result.get("usd"), list) and result["usd"]:
        values = [_usd(v) for v in result["usd"]]
        if any(v is None for v in values):
            return None
        price, amount = {"usd_list": values}, "/".join(_money(v or 0.0) for v in values)
    else:
        return None
    note = f" ({fmt['note']})" if isinstance(fmt.get("note"), str) and fmt["note"] else ""
    text = ("~" if approximate else "") + amount + suffix + note
    return {**price, "approximate": approximate, "text": text}


def _depends_on(badge: Mapping[str, Any]) -> list[str]:
    depends = badge.get("depends_on")
    if not isinstance(depends, Mapping):
        return []
    names: list[str] = []
    for widget in depends.get("widgets") or ():
        # Declared as names in Python, sent as {"name", "type"} by newer servers.
        name = widget.get("name") if isinstance(widget, Mapping) else widget
        if isinstance(name, str):
            names.append(name)
    names += [str(i) for i in depends.get("inputs") or () if isinstance(i, str)]
    return names


def server_price(badge: Mapping[str, Any]) -> dict[str, Any] | None:
    """The price a class's ``price_badge`` declares, as comfycine reports it.

    A fixed expression gives ``{"usd"|"min_usd"+"max_usd"|"usd_list", "approximate",
    "text"}`` (or ``{"text"}`` for a text badge, e.g. "Token-based"). One computed from
    the node's widgets gives ``{"depends_on": [...], "expression": "…", "text": "depends
    on …"}``. None when the badge has no expression.
    """
    expr = badge.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        return None
    try:
        literal = json.loads(expr)
    except ValueError:
        literal = None
    if isinstance(literal, Mapping) and (fixed := _fixed_price(literal)) is not None:
        return fixed
    depends = _depends_on(badge)
    shown = f"depends on {', '.join(depends)}" if depends else "computed by the server's formula"
    return {"depends_on": depends, "expression": expr.strip(), "text": f"price {shown}"}


def unknown_classes(graph: Mapping[str, Any], catalogs: Iterable[Catalog]) -> set[str]:
    """The graph's classes that none of ``catalogs`` knows."""
    known = list(catalogs)
    return {c for c in graph_classes(graph) if not any(c in catalog for catalog in known)}
