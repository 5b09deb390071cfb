"""What a server has: node classes and model files, for people and agents writing workflows.

``workflow nodes [SEARCH]`` and ``workflow models [FOLDER]`` read these before a
ComfyScript script or a template is written, so that nothing is guessed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError
from .graph.schema import Catalog, NodeSchema
from .transport import ComfyClient


@dataclass(frozen=True)
class NodeSummary:
    """One node class, as ``workflow nodes`` lists it."""

    name: str
    display_name: str
    category: str
    pack: str  # "core" or the custom-node module
    inputs: dict[str, str] = field(default_factory=dict)  # name -> type or "COMBO[n]"
    outputs: list[str] = field(default_factory=list)
    output_node: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "category": self.category,
            "pack": self.pack,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "output_node": self.output_node,
        }


def _pack(schema: NodeSchema) -> str:
    module = schema.python_module or ""
    if module.startswith("custom_nodes."):
        return module.split(".", 1)[1]
    return "core"


def _input_type(spec: Any) -> str:
    if spec.options is not None:
        return f"COMBO[{len(spec.options)}]"
    return str(spec.type)


def summarize(schema: NodeSchema) -> NodeSummary:
    """The summary of one class."""
    return NodeSummary(
        name=schema.name,
        display_name=schema.display_name,
        category=schema.category,
        pack=_pack(schema),
        inputs={name: _input_type(spec) for name, spec in schema.inputs.items()},
        outputs=list(schema.outputs),
        output_node=schema.output_node,
    )


def search_nodes(catalog: Catalog, search: str | None = None) -> list[NodeSummary]:
    """Classes whose name, display name or category contains every word of ``search``."""
    words = [w.lower() for w in (search or "").split()]
    found = []
    for name in sorted(catalog.classes, key=str.lower):
        schema = catalog.classes[name]
        haystack = f"{name} {schema.display_name} {schema.category}".lower()
        if all(word in haystack for word in words):
            found.append(summarize(schema))
    return found


async def list_models(client: ComfyClient, folder: str | None = None) -> dict[str, list[str]]:
    """Model files by folder (one folder, or every folder the server knows)."""
    folders = await client.model_folders()
    if folder is not None:
        if folder not in folders:
            raise UsageError(
                f"The server has no model folder {folder!r}.",
                hint="List the folders with: comfycine workflow models",
                code="unknown_model_folder",
                details={"folders": folders},
            )
        folders = [folder]
    listings = await asyncio.gather(*(client.models_in(name) for name in folders))
    return {name: sorted(files or []) for name, files in zip(folders, listings, strict=True)}
