"""The spend gate: a graph with partner nodes is never sent without the user's consent.

Partner (paid API) nodes bill the user's Comfy account when they run, on the PC as on
Comfy Cloud. Every submission path (``generate``, sweeps, ``batch``, ``watch``,
``workflow run``, ``retake``) asks :func:`check_job` before it uploads, records or
sends anything; without consent (``--allow-spend``, or a yes the CLI asked for at a
terminal) it raises :class:`~comfycine.errors.ConsentRequired` (exit 9, code
``spend_not_allowed``) listing the nodes and the server's price where it declares one.
The library never asks: consent comes in as a bool.

Which classes are partner nodes comes from the server's node list: the cached snapshot
answers when it knows every class of the graph (no round trip), else the live one is
read (and cached). A server without a node list (Comfy API v2: a deployment, or Comfy
Cloud with a key its v1 API refuses) is judged by the snapshots of the other servers
this Mac knows: partner nodes are ComfyUI's own classes (``comfy_api_nodes``), the same
on every server, and bill on Comfy Cloud too. Classes no snapshot knows are said in a
notice, and the job goes on (its server validates it on submission).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ComfycineError, ConsentRequired, NoCatalog
from .graph.catalog_source import load_catalog, load_quick_catalog
from .graph.partner import PartnerNode, graph_classes, partner_nodes, unknown_classes
from .graph.schema import Catalog
from .transport import ComfyClient

SPEND_FLAG = "--allow-spend"
logger = logging.getLogger(__name__)

Notice = Callable[[str], None]


@dataclass
class SpendCheck:
    """The partner nodes found in a graph, and the classes that could not be checked."""

    nodes: list[PartnerNode]
    source: str  # snapshot | live | other snapshots
    unchecked: list[str] = field(default_factory=list)


def refusal(nodes: Sequence[PartnerNode], label: str) -> ConsentRequired:
    """The exit-9 error for a graph whose partner nodes were not consented to."""
    count = len(nodes)
    listed = "; ".join(n.describe() for n in nodes)
    noun = "a partner node" if count == 1 else f"{count} partner nodes"
    return ConsentRequired(
        f"{label} has {noun} that bill your Comfy account when run: {listed}.",
        code="spend_not_allowed",
        hint=f"To let it spend, run it again with {SPEND_FLAG} (or answer yes at a terminal).",
        details={"workflow": label, "nodes": [n.to_dict() for n in nodes]},
    )


def enforce(
    check: SpendCheck, *, allowed: bool, label: str, notice: Notice | None = None
) -> list[PartnerNode]:
    """Raise :func:`refusal` for partner nodes without consent; else say what is known."""
    if check.unchecked and notice is not None:
        notice(
            f"Spend check: no saved node list knows {', '.join(check.unchecked)}; "
            "if any is a partner node, it bills your Comfy account."
        )
    if check.nodes and not allowed:
        raise refusal(check.nodes, label)
    if check.nodes and notice is not None:
        listed = "; ".join(n.describe() for n in check.nodes)
        notice(f"Partner nodes bill your Comfy account ({SPEND_FLAG}): {listed}.")
    return check.nodes


def snapshot_check(cache_dir: Path, url: str, graph: dict[str, Any]) -> SpendCheck | None:
    """The check from the cached node list of ``url``; None when it misses a class."""
    quick = load_quick_catalog(cache_dir, url)
    if quick is None or unknown_classes(graph, [quick.catalog]):
        return None
    return SpendCheck(partner_nodes(graph, quick.catalog), "snapshot")


async def live_check(client: ComfyClient, cache_dir: Path, graph: dict[str, Any]) -> SpendCheck:
    """The check from the server's live node list (saved as the snapshot).

    A class the server does not have is no partner node there (the server refuses the
    graph instead). Without a node list (:class:`NoCatalog`), the other snapshots judge.
    """
    try:
        catalog = await load_catalog(client, cache_dir)
    except NoCatalog:
        return other_snapshots_check(cache_dir, graph)
    return SpendCheck(partner_nodes(graph, catalog.catalog), catalog.source)


def saved_catalogs(cache_dir: Path) -> list[Catalog]:
    """The node list of every server this Mac has a snapshot of."""
    catalogs: list[Catalog] = []
    for index in sorted((cache_dir / "snapshots").glob("*.classes/index.json")):
        try:
            url = json.loads(index.read_text(encoding="utf-8")).get("comfyui_url")
        except (OSError, ValueError, AttributeError):
            continue
        quick = load_quick_catalog(cache_dir, url) if isinstance(url, str) else None
        if quick is not None:
            catalogs.append(quick.catalog)
    return catalogs


def other_snapshots_check(cache_dir: Path, graph: dict[str, Any]) -> SpendCheck:
    """The check for a server without a node list, from every snapshot there is."""
    catalogs = saved_catalogs(cache_dir)
    unchecked = sorted(unknown_classes(graph, catalogs))
    return SpendCheck(partner_nodes(graph, *catalogs), "other snapshots", unchecked)


async def check_graph(
    client: ComfyClient,
    cache_dir: Path,
    graph: dict[str, Any],
    *,
    allowed: bool,
    label: str,
    notice: Notice | None = None,
) -> list[PartnerNode]:
    """The gate on one graph: the snapshot if it knows every class, else the live list."""
    check = snapshot_check(cache_dir, client.base_url, graph)
    if check is None:
        check = await live_check(client, cache_dir, graph)
    return enforce(check, allowed=allowed, label=label, notice=notice)


async def check_job(
    client: ComfyClient,
    cache_dir: Path,
    graph: dict[str, Any],
    *,
    allowed: bool,
    label: str,
    reaching: Awaitable[Any],
    notice: Notice | None = None,
) -> bool:
    """The gate before a job uploads, records or sends anything; False if deferred.

    ``reaching`` is the job's own check that the server answers (bounded): awaited
    before any live request, so a server that accepts connections but never answers
    cannot hang the gate. When it fails, or the node list cannot be read, the gate is
    deferred (False): the caller records the job, reports that failure as usual, and
    calls :func:`check_graph` before sending if the server came back meanwhile.
    """
    if not graph_classes(graph):
        return True
    check = snapshot_check(cache_dir, client.base_url, graph)
    if check is None:
        try:
            await reaching
            check = await live_check(client, cache_dir, graph)
        except ComfycineError as exc:
            logger.info("spend check deferred: %s", exc.message)
            return False
    enforce(check, allowed=allowed, label=label, notice=notice)
    return True
