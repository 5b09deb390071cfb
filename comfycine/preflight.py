"""Checking a graph against the server's nodes and models before it costs GPU time.

Shared by ``generate``, ``batch``, ``watch`` and the ``workflow`` commands: a loaded
workflow, the report of every problem at once, and the quick preflight a job runs
before its submission.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ValidationFailed
from .graph.catalog_source import CatalogResult, load_catalog, load_quick_catalog
from .graph.partner import PartnerNode, partner_nodes
from .graph.validate import Problem, validate_graph
from .settings import Settings
from .templates import Template
from .transport import ComfyClient


@dataclass
class LoadedWorkflow:
    """A workflow to check or run, whatever it came from."""

    label: str
    graph: dict[str, Any]
    source: str  # template | api | ui | script
    path: Path | None = None
    template: Template | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def declared_models(self) -> list[dict[str, Any]]:
        """Model files the template's sidecar declares."""
        return list(self.template.meta.get("models", [])) if self.template else []

    @property
    def custom_nodes(self) -> list[dict[str, Any]]:
        """Custom-node packs the template's sidecar declares."""
        return list(self.template.meta.get("custom_nodes", [])) if self.template else []


@dataclass
class ValidationReport:
    """``workflow validate``: every problem found, in one pass."""

    workflow: str
    source: str
    catalog_source: str
    problems: list[Problem]
    warnings: list[str]
    # Partner (paid API) nodes: valid, but they bill the Comfy account (spend.py).
    partner_nodes: list[PartnerNode] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (DESIGN.md "Validation result")."""
        return {
            "workflow": self.workflow,
            "source": self.source,
            "catalog": self.catalog_source,
            "valid": not self.problems,
            "problems": [p.to_dict() for p in self.problems],
            "warnings": self.warnings,
            "partner_nodes": [n.to_dict() for n in self.partner_nodes],
        }

    def raise_if_invalid(self) -> None:
        """Exit 4 with every problem when there are any."""
        if not self.problems:
            return
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        raise ValidationFailed(
            f"{self.workflow}: {first.message}{more}",
            hint=first.fix
            or f"See every problem with: comfycine workflow validate {self.workflow}",
            code=first.code if len({p.code for p in self.problems}) == 1 else "validation_failed",
            details=self._details(),
        )

    def _details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"problems": [p.to_dict() for p in self.problems]}
        if self.partner_nodes:
            details["partner_nodes"] = [n.to_dict() for n in self.partner_nodes]
        return details


def check(
    loaded: LoadedWorkflow, catalog: CatalogResult, *, uploaded: Collection[str] = ()
) -> ValidationReport:
    """Validate a loaded workflow against a catalog (``uploaded``: input files just sent)."""
    problems = validate_graph(
        loaded.graph,
        catalog.catalog,
        models=catalog.models,
        declared_models=loaded.declared_models,
        custom_nodes=loaded.custom_nodes,
        input_files=uploaded,
    )
    return ValidationReport(
        loaded.label,
        loaded.source,
        catalog.source,
        problems,
        loaded.warnings,
        partner_nodes(loaded.graph, catalog.catalog),
    )


async def preflight(
    client: ComfyClient,
    settings: Settings,
    graph: dict[str, Any],
    *,
    label: str,
    template: Template | None = None,
    uploaded: Collection[str] = (),
) -> None:
    """Refuse a graph the server would reject or could not run, before it costs GPU time.

    The last snapshot of the server's nodes and models answers first (no round trip);
    only when it finds a problem is the live list fetched, so a stale snapshot (a node
    installed since) never blocks a job. Files just uploaded are known to be there,
    even if the snapshot's input list predates them.
    """
    loaded = LoadedWorkflow(label, graph, "template" if template else "api", None, template)
    snapshot = load_quick_catalog(settings.cache_dir, client.base_url)
    if snapshot is not None and not check(loaded, snapshot, uploaded=uploaded).problems:
        return
    catalog = await load_catalog(client, settings.cache_dir)
    check(loaded, catalog, uploaded=uploaded).raise_if_invalid()
