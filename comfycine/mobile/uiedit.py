"""Small edits of a UI-format (saved) workflow: titles, and primitive nodes wired to widgets.

Both link layouts are handled: schema 0.4 (``links`` as ``[id, origin, origin_slot,
target, target_slot, type]`` lists, ``last_node_id``/``last_link_id``) and schema 1
(link objects, ``state.lastNodeId``/``state.lastLinkId``). A widget fed by a link keeps
its value in ``widgets_values``, as the frontend does, so the workflow still opens and
converts the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

REROUTES = frozenset({"Reroute", "Reroute (rgthree)"})
# Frontend-only "Primitive" plus the core primitive classes: one value, one output.
PRIMITIVE_NODES = frozenset(
    {
        "PrimitiveNode", "PrimitiveInt", "PrimitiveFloat", "PrimitiveString",
        "PrimitiveStringMultiline", "PrimitiveBoolean",
    }
)  # fmt: skip
PRIMITIVE_FOR_TYPE = {"INT": "PrimitiveInt", "FLOAT": "PrimitiveFloat"}
MULTILINE_TEXT = "PrimitiveStringMultiline"
_NODE_SIZE = [270, 82]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class UiWorkflow:
    """A UI workflow being edited in place: nodes by id and links by id."""

    def __init__(self, ui: dict[str, Any]) -> None:
        self.ui = ui
        self.nodes: dict[str, dict[str, Any]] = {
            str(n.get("id")): n for n in ui.get("nodes") or () if isinstance(n, dict)
        }
        self.objects = any(isinstance(item, dict) for item in ui.get("links") or ())

    def _link(self, link_id: Any) -> tuple[str, int, str, int] | None:
        for item in self.ui.get("links") or ():
            if isinstance(item, list) and len(item) >= 5 and str(item[0]) == str(link_id):
                return str(item[1]), _int(item[2]), str(item[3]), _int(item[4])
            if isinstance(item, dict) and str(item.get("id")) == str(link_id):
                return (
                    str(item.get("origin_id")),
                    _int(item.get("origin_slot")),
                    str(item.get("target_id")),
                    _int(item.get("target_slot")),
                )
        return None

    def input_entry(self, node_id: str, name: str) -> tuple[int, dict[str, Any]] | None:
        """``(slot, entry)`` of the node's input called ``name`` (a widget or a socket)."""
        inputs = self.nodes[node_id].get("inputs") or []
        for index, entry in enumerate(inputs):
            if not isinstance(entry, dict):
                continue
            widget = entry.get("widget")
            widget_name = widget.get("name") if isinstance(widget, dict) else None
            if widget_name == name or (widget_name is None and entry.get("name") == name):
                return index, entry
        return None

    def feeder(self, node_id: str, name: str) -> str | None:
        """The node linked into input ``name`` (through reroutes), or None when unlinked."""
        found = self.input_entry(node_id, name) if node_id in self.nodes else None
        link = found[1].get("link") if found else None
        seen: set[str] = set()
        while link is not None:
            resolved = self._link(link)
            if resolved is None or resolved[0] not in self.nodes or resolved[0] in seen:
                return None
            origin = resolved[0]
            seen.add(origin)
            if self.nodes[origin].get("type") not in REROUTES:
                return origin
            inputs = self.nodes[origin].get("inputs") or []
            link = inputs[0].get("link") if inputs and isinstance(inputs[0], dict) else None
        return None

    def primitive_feeder(self, node_id: str, name: str) -> str | None:
        """The primitive node feeding input ``name``, or None."""
        origin = self.feeder(node_id, name)
        return origin if origin and self.nodes[origin].get("type") in PRIMITIVE_NODES else None

    def set_title(self, node_id: str, title: str) -> str | None:
        """Retitle a node; returns its previous title (None when it had none)."""
        node = self.nodes[node_id]
        previous = node.get("title")
        node["title"] = title
        return previous if isinstance(previous, str) else None

    def _state(self) -> dict[str, Any]:
        state = self.ui.get("state")
        return state if isinstance(state, dict) else {}

    def _next_ids(self) -> tuple[int, int]:
        state = self._state()
        node_ids = [_int(k) for k in self.nodes]
        node_ids += [_int(self.ui.get("last_node_id")), _int(state.get("lastNodeId"))]
        link_ids = [
            _int(item[0] if isinstance(item, list) else item.get("id"))
            for item in self.ui.get("links") or ()
            if isinstance(item, list | dict) and item
        ]
        link_ids += [_int(self.ui.get("last_link_id")), _int(state.get("lastLinkId"))]
        return max(node_ids) + 1, max(link_ids) + 1

    def _remember(self, node_id: int, link_id: int) -> None:
        state = self._state()
        if state:
            state["lastNodeId"] = max(_int(state.get("lastNodeId")), node_id)
            state["lastLinkId"] = max(_int(state.get("lastLinkId")), link_id)
        if "last_node_id" in self.ui or not state:
            self.ui["last_node_id"] = max(_int(self.ui.get("last_node_id")), node_id)
            self.ui["last_link_id"] = max(_int(self.ui.get("last_link_id")), link_id)

    def _position(self, node_id: str, offset: int) -> list[float]:
        pos = self.nodes[node_id].get("pos")
        if isinstance(pos, dict):
            pos = [pos.get("0"), pos.get("1")]
        x, y = (pos[0], pos[1]) if isinstance(pos, list) and len(pos) >= 2 else (0, 0)
        x = x if isinstance(x, int | float) else 0
        y = y if isinstance(y, int | float) else 0
        return [x - 320, y + 100 * offset]

    def add_primitive(
        self,
        cls: str,
        value_type: str,
        widgets_values: list[Any],
        title: str,
        targets: Sequence[tuple[str, str]],
        offset: int = 0,
    ) -> str:
        """Add a ``cls`` node giving ``value_type``, linked into every ``(node, input)``.

        Each target input becomes a linked widget (an input entry is added when the
        saved node lists none for it). Returns the new node's id.
        """
        node_id, link_id = self._next_ids()
        link_ids: list[int] = []
        for target, name in targets:
            found = self.input_entry(target, name)
            inputs = self.nodes[target].setdefault("inputs", [])
            if found is None:
                entry: dict[str, Any] = {
                    "name": name,
                    "type": value_type,
                    "widget": {"name": name},
                    "link": None,
                }
                inputs.append(entry)
                found = (len(inputs) - 1, entry)
            slot, entry = found
            entry["link"] = link_id
            link: Any = [link_id, node_id, 0, _int(target), slot, value_type]
            if self.objects:
                keys = ("id", "origin_id", "origin_slot", "target_id", "target_slot", "type")
                link = dict(zip(keys, link, strict=True))
            self.ui.setdefault("links", []).append(link)
            link_ids.append(link_id)
            link_id += 1
        node = {
            "id": node_id,
            "type": cls,
            "pos": self._position(targets[0][0], offset),
            "size": list(_NODE_SIZE),
            "flags": {},
            "order": 0,
            "mode": 0,
            "inputs": [],
            "outputs": [
                {"name": value_type, "type": value_type, "links": link_ids, "slot_index": 0}
            ],
            "title": title,
            "properties": {"Node name for S&R": cls},
            "widgets_values": widgets_values,
        }
        self.ui.setdefault("nodes", []).append(node)
        self.nodes[str(node_id)] = node
        self._remember(node_id, link_id - 1)
        return str(node_id)
