"""Synchronous validation of ``POST /api/v2/jobs`` (spec §4.1, §4.4, §6).

In order: the body (only ``workflow`` and the closed ``extra_data``), the graph format
(a UI export with ``nodes``/``links`` is ``workflow_format_ui``), the nodes (unknown
class, a required input without default missing, a link to no node: ``invalid_workflow``
with ``details.node_errors`` in the spec example's ``{node_id: [{field, reason}]}``
shape), then the ``core/ASSET`` references, resolved to stored file names
(``missing_asset``). Each check answers a :class:`Problem` or passes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tests.fakecloud.v2state import V2State

ASSET_TYPE = "core/ASSET"
# Rejected today by the spec ("reserved for post-MVP"); the proxy calls it invalid_workflow.
RESERVED = frozenset({"webhook_url", "inputs"})
EXTRA_KEYS = frozenset({"api_key_comfy_org"})
OUTPUT_CLASSES = frozenset({"SaveImage", "PreviewImage"})


@dataclass(frozen=True)
class Problem:
    """Why a submit is refused: HTTP status, ``error.code``, message and details."""

    status: int
    code: str
    message: str
    details: dict[str, Any] | None = None


def check_body(body: Any) -> Problem | None:
    """Refuse a body that is not ``{workflow, extra_data?}`` with a closed ``extra_data``."""
    if not isinstance(body, dict):
        return Problem(422, "invalid_request", "Request body must be a JSON object")
    extra = sorted(set(body) - {"workflow", "extra_data"})
    reserved = [key for key in extra if key in RESERVED]
    if reserved:
        return Problem(422, "invalid_workflow", f"Field {reserved[0]!r} is not supported yet")
    if extra:
        return Problem(422, "invalid_request", f"Unknown field {extra[0]!r} in request body")
    if not isinstance(body.get("workflow"), dict):
        return Problem(422, "invalid_request", "Field 'workflow' must be an object")
    data = body.get("extra_data", {})
    if not isinstance(data, dict):
        return Problem(422, "invalid_request", "Field 'extra_data' must be an object")
    unknown = sorted(set(data) - EXTRA_KEYS)
    if unknown:
        return Problem(422, "invalid_request", f"Unknown field {unknown[0]!r} in extra_data")
    return None


def check_graph(workflow: dict[str, Any], object_info: dict[str, Any]) -> Problem | None:
    """Refuse a UI export, an empty graph, bad nodes or a graph without outputs."""
    if "nodes" in workflow and "links" in workflow:
        message = "Workflow is in UI format (nodes/links); export it in API format"
        return Problem(422, "workflow_format_ui", message)
    if not workflow:
        return Problem(422, "invalid_workflow", "Workflow has no nodes", {"node_errors": {}})
    errors: dict[str, list[dict[str, str]]] = {}
    first = ""
    for node, spec in workflow.items():
        found = _node_errors(workflow, spec, object_info)
        if found:
            errors[str(node)] = found
            if not first:
                cls = spec.get("class_type") if isinstance(spec, dict) else None
                first = f"Node {node} ({cls}): {found[0]['field']}: {found[0]['reason']}"
    if errors:
        return Problem(422, "invalid_workflow", first, {"node_errors": errors})
    if not any(spec["class_type"] in OUTPUT_CLASSES for spec in workflow.values()):
        message = "Workflow has no output nodes"
        return Problem(422, "invalid_workflow", message, {"node_errors": {}})
    return None


def _node_errors(
    workflow: dict[str, Any], spec: Any, object_info: dict[str, Any]
) -> list[dict[str, str]]:
    """``[{field, reason}]`` for one node (empty when it is valid)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_type"), str):
        return [{"field": "class_type", "reason": "missing_class_type"}]
    info = object_info.get(spec["class_type"])
    if info is None:
        return [{"field": "class_type", "reason": "unknown_class"}]
    inputs = spec.get("inputs", {})
    if not isinstance(inputs, dict):
        return [{"field": "inputs", "reason": "invalid_inputs"}]
    errors = []
    for name, declared in info.get("input", {}).get("required", {}).items():
        options = declared[1] if len(declared) > 1 and isinstance(declared[1], dict) else {}
        # Lenient where ComfyUI is strict: a missing input with a default is accepted,
        # so graphs written for the v1 fake (EmptyImage without color) still run.
        if name not in inputs and "default" not in options:
            errors.append({"field": name, "reason": "missing_input"})
    for name, value in inputs.items():
        if _is_link(value) and str(value[0]) not in workflow:
            errors.append({"field": name, "reason": "invalid_link"})
    return errors


def _is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and isinstance(value[1], int)
    )


def resolve_assets(workflow: dict[str, Any], v2: V2State) -> tuple[dict[str, Any], Problem | None]:
    """A copy of ``workflow`` with each ``core/ASSET`` input replaced by its stored name."""
    resolved = copy.deepcopy(workflow)
    for node, spec in resolved.items():
        inputs = spec.get("inputs", {})
        for name, value in inputs.items():
            if not (isinstance(value, dict) and value.get("__type") == ASSET_TYPE):
                continue
            info = value.get("info")
            asset_id = info.get("id") if isinstance(info, dict) else None
            asset = v2.assets.get(asset_id) if isinstance(asset_id, str) else None
            if asset is None:
                message = f"Node {node} input {name!r}: asset {asset_id!r} not found"
                details = {"node_id": str(node), "field": name, "asset_id": asset_id}
                return resolved, Problem(422, "missing_asset", message, details)
            inputs[name] = asset.blob
    return resolved, None
