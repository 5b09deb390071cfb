"""A UI workflow as ComfyUI's frontend holds it when it queues: levels, titles, widgets.

:class:`UiState` reads the saved workflow once and answers what the frontend would know
just before it serialises the graph: each node's title and "Node name for S&R", and its
widget values, loaded as :mod:`.widgets` says, then set by the PrimitiveNodes linked to
its widget inputs and, inside a subgraph, by the instance's promoted widgets (the values
of the instance's own widgets, which the frontend copies onto the inner widgets they
feed). The converter (:mod:`.convert`) builds on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import TemplateInvalid
from .schema import Catalog
from .textreplace import SAVE_NODE_TYPES, SEARCH_NAME, NamedNode
from .uigraph import (
    FRONTEND_TITLES,
    INPUT_NODE,
    NOTE_TYPES,
    PRIMITIVE_NODE,
    Scope,
    border_inputs,
    input_name,
    inputs_of,
    nodes_by_id,
    parse_links,
)
from .widgets import load_widget_values, node_widgets, truthy

UNPACK_HINT = "Open it in ComfyUI, right-click the node, Convert to nodes (unpack), save again."
REPLACE_PROPERTY = "Run widget replace on values"  # a PrimitiveNode expands %...% in its value
_PRIMITIVE_WIDGETS = ("value", "control_after_generate", "control_filter_list")


class UiState:
    """The saved workflow's levels and the widget values the frontend would hold."""

    def __init__(self, ui: dict[str, Any], catalog: Catalog, now: datetime | None) -> None:
        self.catalog = catalog
        self._now = now
        definitions = ui.get("definitions") if isinstance(ui.get("definitions"), dict) else {}
        subgraphs = definitions.get("subgraphs") if isinstance(definitions, dict) else None
        self.subgraphs: dict[str, dict[str, Any]] = {
            str(s.get("id")): s for s in subgraphs or () if isinstance(s, dict)
        }
        extra = ui.get("extra") if isinstance(ui.get("extra"), dict) else {}
        self.group_nodes = set((extra or {}).get("groupNodes") or {})
        self.root = Scope(nodes_by_id(ui.get("nodes")), parse_links(ui.get("links")))
        self.children: dict[str, Scope] = {}
        self._values: dict[tuple[int, str], dict[str, Any]] = {}
        self.problems: dict[tuple[int, str], list[str]] = {}
        self.expanded: set[tuple[int, str, str]] = set()  # set by a replacing primitive
        self._promoted: dict[int, dict[str, Any]] = {}
        self._table: list[NamedNode] | None = None

    @property
    def now(self) -> datetime:
        """The clock ``%date:...%`` reads, fixed for the whole conversion."""
        if self._now is None:
            self._now = datetime.now()
        return self._now

    def title(self, node: dict[str, Any]) -> str:
        """The node's title as the frontend shows it (its class's when none was saved)."""
        if node.get("title"):
            return str(node["title"])
        kind = str(node.get("type"))
        if kind in self.subgraphs:
            return str(self.subgraphs[kind].get("name") or kind)
        schema = self.catalog.get(kind)
        return schema.display_name if schema else FRONTEND_TITLES.get(kind, kind)

    def label(self, scope: Scope, node: dict[str, Any]) -> str:
        """``node ID (class or subgraph name)`` for messages."""
        kind = str(node.get("type"))
        name = self.subgraphs[kind].get("name") if kind in self.subgraphs else None
        return f"node {scope.exec_id(str(node.get('id')))} ({name or kind})"

    def child(self, scope: Scope, instance: dict[str, Any]) -> Scope:
        """The level inside a subgraph instance (refused when the subgraph contains itself)."""
        key = scope.exec_id(str(instance.get("id")))
        if key not in self.children:
            kind = str(instance.get("type"))
            ancestor: Scope | None = scope
            while ancestor is not None:
                if ancestor.definition is not None and ancestor.definition.get("id") == kind:
                    raise TemplateInvalid(
                        f"Subgraph {self.subgraphs[kind].get('name') or kind!r} contains itself.",
                        hint=UNPACK_HINT,
                    )
                ancestor = ancestor.parent
            definition = self.subgraphs[kind]
            self.children[key] = Scope(
                nodes_by_id(definition.get("nodes")),
                parse_links(definition.get("links")),
                (*scope.path, str(instance.get("id"))),
                definition,
                instance,
                scope,
            )
        return self.children[key]

    def widget_values(self, scope: Scope, node: dict[str, Any]) -> dict[str, Any]:
        """The node's widgets: as loaded, then set by primitives and promoted widgets."""
        key = (id(scope), str(node.get("id")))
        if key not in self._values:
            values = self._loaded(scope, node)
            values.update(self._promoted_into(scope, node))
            values.update(self._primitives_into(scope, node, values))
            self._values[key] = values
        return self._values[key]

    def _loaded(self, scope: Scope, node: dict[str, Any]) -> dict[str, Any]:
        kind, saved = str(node.get("type")), node.get("widgets_values")
        schema = self.catalog.get(kind)
        if schema is not None:
            values, problems = load_widget_values(schema, saved, root=scope is self.root)
            self.problems[(id(scope), str(node.get("id")))] = problems
            return values
        listed = saved if isinstance(saved, list) else []
        if kind == PRIMITIVE_NODE:
            return dict(zip(_PRIMITIVE_WIDGETS, listed, strict=False))
        if kind in NOTE_TYPES:
            return dict(zip(("text",), listed, strict=False))
        if kind in self.subgraphs:
            return dict(self.promoted_values(self.child(scope, node)))
        return {}

    def _primitives_into(
        self, scope: Scope, node: dict[str, Any], widgets: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Values that PrimitiveNodes linked straight to the node's widget inputs give it."""
        given: dict[str, Any] = {}
        for entry in inputs_of(node):
            link = scope.links.get(str(entry.get("link")))
            origin = scope.nodes.get(link.origin) if link else None
            saved = origin.get("widgets_values") if origin else None
            name = input_name(entry)
            if origin is None or origin.get("type") != PRIMITIVE_NODE or name not in widgets:
                continue
            if isinstance(saved, list) and saved:
                given[name] = saved[0]
                properties = origin.get("properties")
                replaces = isinstance(properties, dict) and properties.get(REPLACE_PROPERTY)
                if replaces and isinstance(saved[0], str) and truthy(saved[0]):
                    self.expanded.add((id(scope), str(node.get("id")), name))
        return given

    def promoted_values(self, child: Scope) -> dict[str, Any]:
        """An instance's promoted widgets (subgraph inputs that feed a widget), by name."""
        key = id(child)
        if key not in self._promoted:
            assert child.instance is not None and child.parent is not None
            names = border_inputs(child.definition)
            feeds = {i: self._border_widget(child, i) for i in range(len(names))}
            widgets = [(names[i], target) for i, target in feeds.items() if target is not None]
            saved = child.instance.get("widgets_values")
            saved = saved if isinstance(saved, list) else []
            values: dict[str, Any] = {}
            for index, (name, (inner, widget)) in enumerate(widgets):
                # An unsaved promoted widget starts as a copy of the inner widget.
                values[name] = (
                    saved[index] if index < len(saved) else self._loaded(child, inner)[widget]
                )
            values.update(self._primitives_into(child.parent, child.instance, values))
            self._promoted[key] = values
        return self._promoted[key]

    def _promoted_into(self, scope: Scope, node: dict[str, Any]) -> dict[str, Any]:
        """Inner widgets fed from the border take the instance's promoted values."""
        if scope.instance is None:
            return {}
        names, promoted = border_inputs(scope.definition), self.promoted_values(scope)
        given: dict[str, Any] = {}
        for entry in inputs_of(node):
            link = scope.links.get(str(entry.get("link")))
            border = link is not None and link.origin == INPUT_NODE
            if border and link and 0 <= link.slot < len(names) and names[link.slot] in promoted:
                given[input_name(entry)] = promoted[names[link.slot]]
        return given

    def _border_widget(self, child: Scope, index: int) -> tuple[dict[str, Any], str] | None:
        """The inner node and widget that subgraph input ``index`` feeds first, if any."""
        for link_id, link in child.links.items():
            if link.origin != INPUT_NODE or link.slot != index:
                continue
            target = child.nodes.get(link.target)
            schema = self.catalog.get(str(target.get("type"))) if target else None
            if target is None or schema is None:
                continue
            entry = next((e for e in inputs_of(target) if str(e.get("link")) == link_id), None)
            names = {w.name for w in node_widgets(schema) if w.spec is not None}
            if entry is not None and input_name(entry) in names:
                return target, input_name(entry)
        return None

    def table(self) -> list[NamedNode]:
        """Every node as ``%Name.widget%`` finds it: the frontend's order, subgraphs first."""
        if self._table is None:
            self._table = []
            self._fill_table(self.root)
        return self._table

    def _fill_table(self, scope: Scope) -> None:
        assert self._table is not None
        for node in scope.nodes.values():
            kind = str(node.get("type"))
            if kind in self.subgraphs:
                self._fill_table(self.child(scope, node))
            properties = node.get("properties")
            properties = properties if isinstance(properties, dict) else {}
            if SEARCH_NAME in properties:
                found = properties[SEARCH_NAME]
                search = found if isinstance(found, str) else None
            else:
                known = kind in self.catalog and kind not in SAVE_NODE_TYPES
                search = kind if known else None
            self._table.append(NamedNode(search, self.title(node), self.widget_values(scope, node)))
